#!/bin/sh
# Hygon CSV verifier benchmark: verifications/s next to `openssl speed sm2` verify/s (the
# primitive it is bound by). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_csv.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier_csv"
[ -x "$bin" ] || { echo "bench_verifier_csv.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
sm2=$(openssl speed -seconds "$secs" sm2 2>/dev/null | awk '/SM2 \(CurveSM2\)/ {print $NF}' | tail -1)
out=$("$bin" "$here/../data" "$secs")
full=$(echo "$out" | sed -n 's/^csv_verify=//p')
one=$(echo "$out" | sed -n 's/^sample_report=//p')
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-34s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$full" -v b="$sm2" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs sm2; 4 verifies per evidence)\n", "csv_verify (generated chain)", a, b, a / b }'
awk -v a="$one" -v b="$sm2" 'BEGIN { printf "%-34s %10.0f %16.0f %8.2f  (vs sm2; 1 verify)\n", "sample PEK->report (Trustee)", a, b, a / b }'
