#!/bin/sh
# Deterministic cost of one RCAR handshake in a real kbs over TLS, for comparing code changes
# on a shared, noisy machine (bench_kbs.sh measures rates, which swing with the load):
#   * user-space instructions per RCAR of the kbs process (valgrind --tool=callgrind, counted
#     only while the measured handshakes run: start-up and warm-up are zeroed out)
#   * system calls per RCAR (strace -c on the worker thread)
#   tests/bench/kbs_rcar_cost.sh [build-dir] [seconds]
# KBS_COST_PROFILE=<file> keeps the callgrind profile (callgrind_annotate --inclusive=yes <file>).
# Not part of ctest. Figures: docs/performance.md.
set -eu
. "$(dirname "$0")/bench_lib.sh"
build=${1:-build}
secs=${2:-8}
bin="$build/tests/bench/bench_kbs"
kbs="$build/server/kbs/kbs"
bench_need "$bin" "$kbs"
for t in valgrind callgrind_control callgrind_annotate strace; do
	command -v $t >/dev/null 2>&1 || { echo "kbs_rcar_cost.sh: $t not installed" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/kbs-cost-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
bench_tls_cert "$tmp"
config() {
	cat >"$tmp/kbs.toml" <<EOT
[http_server]
sockets = ["127.0.0.1:$1"]
certificate = "$tmp/cert.pem"
private_key = "$tmp/key.pem"
worker_count = 1
[admin]
authorization_mode = "InsecureAllowAll"
EOT
}

# instructions
p=$(bench_port)
config "$p"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$kbs" --config-file "$tmp/kbs.toml" \
	--log-level warn 2>"$tmp/vg.log" &
pid=$!
bench_wait_healthz "https://127.0.0.1:$p" "$tmp/cert.pem" 600
"$bin" rcar "https://127.0.0.1:$p" "$tmp/cert.pem" 2 1 >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
n=$("$bin" rcar "https://127.0.0.1:$p" "$tmp/cert.pem" "$secs" 1 | awk '{print $2}')
callgrind_control -d "$pid" >/dev/null 2>&1
kill "$pid"
# valgrind now and then hangs in its shutdown; the profile is already dumped
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
prof="$tmp/cg.$(ls "$tmp" | sed -n 's/^cg\.\([0-9]*\)\.1$/\1/p').1"
[ -n "${KBS_COST_PROFILE:-}" ] && cp "$prof" "$KBS_COST_PROFILE"
ir=$(callgrind_annotate "$prof" 2>/dev/null |
	awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')

# system calls
p=$(bench_port)
config "$p"
"$kbs" --config-file "$tmp/kbs.toml" --log-level warn 2>"$tmp/kbs.log" &
pid=$!
bench_wait_healthz "https://127.0.0.1:$p" "$tmp/cert.pem" 600
strace -f -c -p "$pid" -o "$tmp/strace.txt" 2>/dev/null &
spid=$!
sleep 0.5
m=$("$bin" rcar "https://127.0.0.1:$p" "$tmp/cert.pem" 2 1 | awk '{print $2}')
kill -INT "$spid"
wait "$spid" 2>/dev/null || true
calls=$(awk '$NF == "total" {print $(NF-2)}' "$tmp/strace.txt")
echo "kbs RCAR cost (1 worker, 1 client thread, TLS loopback)"
awk -v ir="$ir" -v n="$n" -v c="$calls" -v m="$m" 'BEGIN {
	printf "user-space instructions per RCAR: %.0f  (%d handshakes under callgrind)\n", ir / n, n
	printf "system calls per RCAR:            %.1f  (%d handshakes under strace)\n", c / m, m
}'
# strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall
awk -v m="$m" '/^ *[0-9]/ && $NF != "total" && $4 / m >= 0.01 {
	printf "  %-12s %.2f per RCAR\n", $NF, $4 / m }' "$tmp/strace.txt"
