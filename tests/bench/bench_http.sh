#!/bin/sh
# HTTP wrapper benchmark (server + client in one process on loopback), plain and TLS with a
# throw-away P-256 certificate. Not part of ctest; wants a quiet machine.
#   tests/bench/bench_http.sh [build-dir] [seconds-per-case]
set -eu
. "$(dirname "$0")/bench_lib.sh"
build=${1:-build}
secs=${2:-3}
bin="$build/tests/bench/bench_http"
bench_need "$bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bench_tls_cert "$tmp"
"$bin" "$secs" "$tmp/cert.pem" "$tmp/key.pem"
