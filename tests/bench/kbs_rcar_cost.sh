#!/bin/sh
# Deterministic cost of one RCAR handshake (or one Bearer resource GET) in a real kbs over TLS,
# for comparing code changes on a shared, noisy machine (bench_kbs.sh measures rates, which
# swing with the load):
#   * user-space instructions per operation of the kbs process (valgrind --tool=callgrind,
#     counted only while the measured operations run: start-up and warm-up are zeroed out)
#   * system calls per operation (strace -c on the worker thread)
#   tests/bench/kbs_rcar_cost.sh [build-dir] [seconds] [rcar|bearer]
# bearer: GET /kbs/v0/resource/default/bench/key with an EAR token (token cache hit, allow-all
# Rego resource policy, JWE ECDH-ES P-256), as bench_kbs.sh measures it.
# KBS_COST_PROFILE=<file> keeps the callgrind profile (callgrind_annotate --inclusive=yes <file>).
# Not part of ctest. Figures: docs/performance.md.
set -eu
. "$(dirname "$0")/bench_lib.sh"
build=${1:-build}
secs=${2:-8}
mode=${3:-rcar}
case $mode in
rcar) what=RCAR; args="" ;;
bearer) what=GET; args="default/bench/key" ;;
*) echo "kbs_rcar_cost.sh: mode must be rcar or bearer" >&2; exit 2 ;;
esac
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
# bearer: the resource and an allow-all policy (evaluated by the Rego engine), as bench_kbs.sh
setup() {
	[ "$mode" = bearer ] || return 0
	head -c 32 /dev/urandom >"$tmp/secret"
	curl -sf --cacert "$tmp/cert.pem" -X POST --data-binary @"$tmp/secret" \
		"$1/kbs/v0/resource/default/bench/key" >/dev/null
	printf '{"policy":"%s"}' "$(printf 'package policy\ndefault allow = true\n' | base64 -w0 |
		tr '+/' '-_' | tr -d '=')" >"$tmp/policy.json"
	curl -sf --cacert "$tmp/cert.pem" -X POST --data @"$tmp/policy.json" \
		"$1/kbs/v0/resource-policy" >/dev/null
}

# instructions
p=$(bench_port)
config "$p"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$kbs" --config-file "$tmp/kbs.toml" \
	--log-level warn 2>"$tmp/vg.log" &
pid=$!
bench_wait_healthz "https://127.0.0.1:$p" "$tmp/cert.pem" 600
setup "https://127.0.0.1:$p"
"$bin" $mode "https://127.0.0.1:$p" "$tmp/cert.pem" 2 1 $args >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
n=$("$bin" $mode "https://127.0.0.1:$p" "$tmp/cert.pem" "$secs" 1 $args | awk '{print $2}')
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
setup "https://127.0.0.1:$p"
"$bin" $mode "https://127.0.0.1:$p" "$tmp/cert.pem" 1 1 $args >/dev/null
strace -f -c -p "$pid" -o "$tmp/strace.txt" 2>/dev/null &
spid=$!
sleep 0.5
m=$("$bin" $mode "https://127.0.0.1:$p" "$tmp/cert.pem" 2 1 $args | awk '{print $2}')
kill -INT "$spid"
wait "$spid" 2>/dev/null || true
calls=$(awk '$NF == "total" {print $(NF-2)}' "$tmp/strace.txt")
echo "kbs $what cost (1 worker, 1 client thread, TLS loopback)"
awk -v ir="$ir" -v n="$n" -v c="$calls" -v m="$m" -v w="$what" 'BEGIN {
	printf "user-space instructions per %s: %.0f  (%d under callgrind)\n", w, ir / n, n
	printf "system calls per %s:            %.1f  (%d under strace)\n", w, c / m, m
}'
# strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall
awk -v m="$m" -v w="$what" '/^ *[0-9]/ && $NF != "total" && $4 / m >= 0.01 {
	printf "  %-12s %.2f per %s\n", $NF, $4 / m, w }' "$tmp/strace.txt"
