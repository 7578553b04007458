#!/bin/sh
# CCA verifier benchmark: verifications/s next to `openssl speed ecdsap384` verify/s (both
# tokens of the sample are ES384). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_cca.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier_cca"
[ -x "$bin" ] || { echo "bench_verifier_cca.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
p384=$(openssl speed -seconds "$secs" ecdsap384 2>/dev/null | awk '/ecdsa \(nistp384\)/ {print $NF}' | tail -1)
ours=$("$bin" "$here/../data" "$secs" | sed -n 's/^cca_verify=//p')
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-34s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$ours" -v b="$p384" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap384; 2 verifies per token)\n", "cca_verify (local)", a, b, a / b }'
