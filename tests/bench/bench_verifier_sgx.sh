#!/bin/sh
# SGX verifier benchmark: verifications/s next to `openssl speed ecdsap256` verify/s (the
# primitive it is bound by). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_sgx.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier_sgx"
[ -x "$bin" ] || { echo "bench_verifier_sgx.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
p256=$(openssl speed -seconds "$secs" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ {print $NF}' | tail -1)
ours=$("$bin" "$here/../data" "$secs" | sed -n 's/^sgx_verify=//p')
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-34s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$ours" -v b="$p256" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap256; 5 verifies per quote)\n", "sgx_verify (offline)", a, b, a / b }'
