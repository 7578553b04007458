#!/bin/sh
# NVIDIA GPU verifier benchmark: verifications/s next to `openssl speed ecdsap384` verify/s (the
# report signature and the device chain are ECDSA P-384). Not part of ctest (wants a quiet
# machine).
#   tests/bench/bench_verifier_nvidia.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier_nvidia"
bench_need "$bin"
p384=$(bench_rate "$(bench_speed "$secs" ecdsap384)" 'ecdsa \(nistp384\)')
out=$("$bin" "$here/../data" "$secs")
bench_header "$secs"
bench_table 34 "openssl verify/s"
bench_ratio 34 "nvidia_verify (one device)" "$(bench_get nvidia_verify "$out")" "$p384" \
	"vs ecdsap384"
bench_ratio 34 "report signature only" "$(bench_get report_sig "$out")" "$p384" \
	"vs ecdsap384, ideal 1.00"
