#!/bin/sh
# CCA verifier benchmark: verifications/s next to `openssl speed ecdsap384` verify/s (both
# tokens of the sample are ES384). Not part of ctest (wants a quiet machine).
#   tests/bench/bench_verifier_cca.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier_cca"
bench_need "$bin"
p384=$(bench_rate "$(bench_speed "$secs" ecdsap384)" 'ecdsa \(nistp384\)')
ours=$("$bin" "$here/../data" "$secs")
bench_header "$secs"
bench_table 34 "openssl verify/s"
bench_ratio 34 "cca_verify (local)" "$(bench_get cca_verify "$ours")" "$p384" \
	"vs ecdsap384; 2 verifies per token"
