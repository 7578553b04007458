#!/bin/sh
# Hygon CSV verifier benchmark: verifications/s next to `openssl speed sm2` verify/s (the
# primitive it is bound by). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_csv.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier_csv"
bench_need "$bin"
sm2=$(bench_rate "$(bench_speed "$secs" sm2)" 'SM2 \(CurveSM2\)')
out=$("$bin" "$here/../data" "$secs")
bench_header "$secs"
bench_table 34 "openssl verify/s"
bench_ratio 34 "csv_verify (generated chain)" "$(bench_get csv_verify "$out")" "$sm2" \
	"vs sm2; 4 verifies per evidence"
bench_ratio 34 "sample PEK->report (Trustee)" "$(bench_get sample_report "$out")" "$sm2" \
	"vs sm2; 1 verify"
