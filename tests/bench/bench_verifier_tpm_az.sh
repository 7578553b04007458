#!/bin/sh
# TPM and Azure vTPM verifier benchmark next to `openssl speed` for the signatures they are
# bound by (RSA-2048 for the TPM quote, plus P-384 for az-snp-vtpm and five P-256 for
# az-tdx-vtpm). Not part of ctest (takes ~20 s, wants a quiet machine).
#   tests/bench/bench_verifier_tpm_az.sh [build-dir] [seconds]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_verifier_tpm_az"
bench_need "$bin"
speed=$(bench_speed "$secs" rsa2048 ecdsap384 ecdsap256)
rsa=$(bench_rate "$speed" '^rsa 2048 bits')
p384=$(bench_rate "$speed" 'ecdsa \(nistp384\)')
p256=$(bench_rate "$speed" 'ecdsa \(nistp256\)')
ours=$("$bin" "$here/../data" "$secs")
echo "$ours"
bench_header "$secs"
bench_table 30 "openssl verify/s"
bench_ratio 30 "tpm_verify" "$(bench_get tpm_verify "$ours")" "$rsa" "vs rsa2048"
bench_ratio 30 "tpm quote signature only" "$(bench_get tpm_quote_sig "$ours")" "$rsa" \
	"vs rsa2048, ideal 1.00"
bench_ratio 30 "az_snp_verify" "$(bench_get az_snp_verify "$ours")" "$p384" \
	"vs ecdsap384; + 1 RSA-2048"
bench_ratio 30 "az_tdx_verify" "$(bench_get az_tdx_verify "$ours")" "$p256" \
	"vs ecdsap256; 5 P-256 + 1 RSA-2048"
