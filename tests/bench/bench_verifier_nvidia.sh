#!/bin/sh
# NVIDIA GPU verifier benchmark: verifications/s next to `openssl speed ecdsap384` verify/s (the
# report signature and the device chain are ECDSA P-384). Not part of ctest (wants a quiet
# machine).
#   tests/bench/bench_verifier_nvidia.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier_nvidia"
[ -x "$bin" ] || { echo "bench_verifier_nvidia.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
p384=$(openssl speed -seconds "$secs" ecdsap384 2>/dev/null | awk '/ecdsa \(nistp384\)/ {print $NF}' | tail -1)
out=$("$bin" "$here/../data" "$secs")
full=$(echo "$out" | sed -n 's/^nvidia_verify=//p')
sig=$(echo "$out" | sed -n 's/^report_sig=//p')
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-34s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$full" -v b="$p384" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap384)\n", "nvidia_verify (one device)", a, b, a / b }'
awk -v a="$sig" -v b="$p384" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap384, ideal 1.00)\n", "report signature only", a, b, a / b }'
