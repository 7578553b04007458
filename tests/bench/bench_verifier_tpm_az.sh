#!/bin/sh
# TPM and Azure vTPM verifier benchmark next to `openssl speed` for the signatures they are
# bound by (RSA-2048 for the TPM quote, plus P-384 for az-snp-vtpm and five P-256 for
# az-tdx-vtpm). Not part of ctest (takes ~20 s, wants a quiet machine).
#   tests/bench/bench_verifier_tpm_az.sh [build-dir] [seconds]
set -eu
build=${1:-build}
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/bench/bench_verifier_tpm_az"
[ -x "$bin" ] || { echo "bench_verifier_tpm_az.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
speed=$(openssl speed -seconds "$secs" rsa2048 ecdsap384 ecdsap256 2>/dev/null)
rsa=$(echo "$speed" | awk '/^rsa 2048 bits/ {print $NF}' | tail -1)
p384=$(echo "$speed" | awk '/ecdsa \(nistp384\)/ {print $NF}' | tail -1)
p256=$(echo "$speed" | awk '/ecdsa \(nistp256\)/ {print $NF}' | tail -1)
ours=$("$bin" "$here/../data" "$secs")
echo "$ours"
get() { echo "$ours" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${secs}s per case"
printf '%-30s %10s %16s %8s\n' "ours" "ops/s" "openssl verify/s" "ratio"
awk -v a="$(get tpm_verify)" -v b="$rsa" 'BEGIN { printf "%-30s %10.0f %16.0f %8.2f  (vs rsa2048)\n", "tpm_verify", a, b, a / b }'
awk -v a="$(get tpm_quote_sig)" -v b="$rsa" 'BEGIN { printf "%-30s %10.0f %16.0f %8.2f  (vs rsa2048, ideal 1.00)\n", "tpm quote signature only", a, b, a / b }'
awk -v a="$(get az_snp_verify)" -v b="$p384" 'BEGIN { printf "%-30s %10.0f %16.0f %8.2f  (vs ecdsap384; + 1 RSA-2048)\n", "az_snp_verify", a, b, a / b }'
awk -v a="$(get az_tdx_verify)" -v b="$p256" 'BEGIN { printf "%-30s %10.0f %16.0f %8.2f  (vs ecdsap256; 5 P-256 + 1 RSA-2048)\n", "az_tdx_verify", a, b, a / b }'
