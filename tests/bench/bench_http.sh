#!/bin/sh
# HTTP wrapper benchmark (server + client in one process on loopback), plain and TLS with a
# throw-away P-256 certificate. Not part of ctest; wants a quiet machine.
#   tests/bench/bench_http.sh [build-dir] [seconds-per-case]
set -eu
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_http"
[ -x "$bin" ] || { echo "bench_http.sh: $bin not built (cmake --build $build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=bench -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
"$bin" "$secs" "$tmp/cert.pem" "$tmp/key.pem"
