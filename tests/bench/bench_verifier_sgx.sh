#!/bin/sh
# SGX verifier benchmark: verifications/s next to `openssl speed ecdsap256` verify/s (the
# primitive it is bound by). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_sgx.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier_sgx"
bench_need "$bin"
p256=$(bench_rate "$(bench_speed "$secs" ecdsap256)" 'ecdsa \(nistp256\)')
ours=$("$bin" "$here/../data" "$secs")
bench_header "$secs"
bench_table 34 "openssl verify/s"
bench_ratio 34 "sgx_verify (offline)" "$(bench_get sgx_verify "$ours")" "$p256" \
	"vs ecdsap256; 5 verifies per quote"
