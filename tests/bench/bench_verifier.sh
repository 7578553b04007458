#!/bin/sh
# Verifier benchmark: SNP and TDX verifications/s next to `openssl speed` for the signature
# primitives they are bound by. Not part of ctest (takes ~20 s, wants a quiet machine).
#   tests/bench/bench_verifier.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier"
bench_need "$bin"
speed=$(bench_speed "$secs" ecdsap384 ecdsap256)
p384=$(bench_rate "$speed" 'ecdsa \(nistp384\)')
p256=$(bench_rate "$speed" 'ecdsa \(nistp256\)')
ours=$("$bin" "$here/../data" "$secs")
echo "$ours"
bench_header "$secs"
bench_table 34 "openssl verify/s"
bench_ratio 34 "snp_verify (cached roots)" "$(bench_get snp_verify "$ours")" "$p384" "vs ecdsap384"
bench_ratio 34 "snp report signature only" "$(bench_get snp_report_sig "$ours")" "$p384" \
	"vs ecdsap384, ideal 1.00"
bench_ratio 34 "tdx_verify (offline)" "$(bench_get tdx_verify "$ours")" "$p256" \
	"vs ecdsap256; 5 verifies per quote"
