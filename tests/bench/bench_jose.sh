#!/bin/sh
# JOSE benchmark: our JWE ECDH-ES encrypt and ES256 verify next to `openssl speed` for the same
# primitives, with ratios. Not part of ctest (takes ~20 s and wants a quiet machine).
#   tests/bench/bench_jose.sh [build-dir] [seconds]
# Both tools count process CPU time, so other load on the machine mostly cancels out.
set -eu
. "$(dirname "$0")/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_jose"
bench_need "$bin"

speed=$(bench_speed "$secs" ecdhp256 ecdsap256)
# "256 bits ecdh (nistp256)   0.0001s   12345.6"  /  "256 bits ecdsa (nistp256) sign verify sign/s verify/s"
ossl_ecdh=$(bench_rate "$speed" 'ecdh \(nistp256\)')
ossl_verify=$(bench_rate "$speed" 'ecdsa \(nistp256\)')
ours=$("$bin" "$secs")
echo "$ours"
echo
enc=$(bench_get jwe_encrypt "$ours"); enc_floor=$(bench_get jwe_encrypt_floor "$ours")
ver=$(bench_get jws_verify "$ours"); ver_floor=$(bench_get jws_verify_floor "$ours")
bench_header "$secs"
printf '%-40s %10s %12s %8s\n' "ours" "ops/s" "openssl op/s" "ratio"
# One ECDH-ES encryption = ephemeral key generation + one ECDH, so its primitive cost is about
# two `openssl speed ecdhp256` operations: ratio_vs_speed 0.5 is the best possible.
awk -v a="$enc" -v b="$ossl_ecdh" 'BEGIN { printf "%-40s %10.0f %12.0f %8.2f  (ideal 0.50: keygen + ECDH)\n", "jwe_encrypt ECDH-ES+A256KW P-256", a, b, a / b }'
awk -v a="$ver" -v b="$ossl_verify" 'BEGIN { printf "%-40s %10.0f %12.0f %8.2f  (ideal 1.00)\n", "jws_verify ES256", a, b, a / b }'
awk -v a="$enc" -v b="$enc_floor" 'BEGIN { printf "%-40s %10.0f %12s %8.2f  (vs raw EVP floor, target >= 0.90)\n", "jwe_encrypt / floor", a, "-", a / b }'
awk -v a="$ver" -v b="$ver_floor" 'BEGIN { printf "%-40s %10.0f %12s %8.2f  (vs raw EVP floor, target >= 0.90)\n", "jws_verify / floor", a, "-", a / b }'
