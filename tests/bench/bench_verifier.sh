#!/bin/sh
# Verifier benchmark: SNP and TDX verifications/s next to `openssl speed` for the signature
# primitives they are bound by. Not part of ctest (takes ~20 s, wants a quiet machine).
#   tests/bench/bench_verifier.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier"
[ -x "$bin" ] || { echo "bench_verifier.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
speed=$(openssl speed -seconds "$secs" ecdsap384 ecdsap256 2>/dev/null)
p384=$(echo "$speed" | awk '/ecdsa \(nistp384\)/ {print $NF}' | tail -1)
p256=$(echo "$speed" | awk '/ecdsa \(nistp256\)/ {print $NF}' | tail -1)
ours=$("$bin" "$here/../data" "$secs")
echo "$ours"
get() { echo "$ours" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-34s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$(get snp_verify)" -v b="$p384" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap384)\n", "snp_verify (cached roots)", a, b, a / b }'
awk -v a="$(get snp_report_sig)" -v b="$p384" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap384, ideal 1.00)\n", "snp report signature only", a, b, a / b }'
awk -v a="$(get tdx_verify)" -v b="$p256" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs ecdsap256; 5 verifies per quote)\n", "tdx_verify (offline)", a, b, a / b }'
