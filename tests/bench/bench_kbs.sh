#!/bin/sh
# KBS load benchmark: RCAR handshakes/s and Bearer resource GETs/s of a real kbs over TLS,
# next to nginx serving a same-size static file over the same TLS setup (certificate,
# keep-alive, client) and next to the crypto bound from `openssl speed`.
#   tests/bench/bench_kbs.sh [build-dir] [seconds-per-case] [client-threads]
# Not part of ctest; wants a quiet machine. Figures: docs/performance.md.
set -eu
build=${1:-build}
secs=${2:-5}
threads=${3:-2}
bin="$build/tests/bench/bench_kbs"
kbs="$build/server/kbs/kbs"
for b in "$bin" "$kbs"; do
	[ -x "$b" ] || { echo "bench_kbs.sh: $b not built" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/kbs-bench-XXXXXX)
kbs_pid=""
nginx_pid=""
cleanup() {
	[ -n "$kbs_pid" ] && kill "$kbs_pid" 2>/dev/null || true
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=bench -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

kport=$(port)
cat >"$tmp/kbs.toml" <<EOT
[http_server]
sockets = ["127.0.0.1:$kport"]
certificate = "$tmp/cert.pem"
private_key = "$tmp/key.pem"
worker_count = 2
[admin]
authorization_mode = "InsecureAllowAll"
EOT
"$kbs" --config-file "$tmp/kbs.toml" --log-level warn 2>"$tmp/kbs.log" &
kbs_pid=$!
url="https://127.0.0.1:$kport"
for i in $(seq 50); do
	curl -s --cacert "$tmp/cert.pem" "$url/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
head -c 32 /dev/urandom >"$tmp/secret"
curl -sf --cacert "$tmp/cert.pem" -X POST --data-binary @"$tmp/secret" \
	"$url/kbs/v0/resource/default/bench/key" >/dev/null
printf '{"policy":"%s"}' "$(printf 'package policy\ndefault allow = true\n' | base64 -w0 |
	tr '+/' '-_' | tr -d '=')" >"$tmp/policy.json"
curl -sf --cacert "$tmp/cert.pem" -X POST --data @"$tmp/policy.json" \
	"$url/kbs/v0/resource-policy" >/dev/null

# server CPU seconds (utime + stime) of the kbs process
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' /proc/$kbs_pid/stat; }
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$kbs_pid/status)
c0=$(cpu)
rcar=$("$bin" rcar "$url" "$tmp/cert.pem" "$secs" "$threads")
c1=$(cpu)
bearer=$("$bin" bearer "$url" "$tmp/cert.pem" "$secs" "$threads" default/bench/key)
c2=$(cpu)
rss_load=$(awk '/VmHWM/ {print $2}' /proc/$kbs_pid/status)
# how the work was spread: CPU seconds of each kbs thread with any, and connections per worker
threads_cpu=$(for t in /proc/$kbs_pid/task/*; do
	awk -v hz="$(getconf CLK_TCK)" '{c = ($14 + $15) / hz; if (c > 0.05) printf "%.1f ", c}' "$t/stat"
done)
workers=$(curl -s --cacert "$tmp/cert.pem" "$url/metrics" |
	awk '/^kbs_http_worker_connections_total/ {printf "%s ", $2}')

# nginx over the same TLS setup, same client, a static file of a resource response's size
nginx_line="n/a (nginx not installed)"
if command -v nginx >/dev/null 2>&1; then
	nport=$(port)
	mkdir -p "$tmp/www" "$tmp/nginx"
	head -c 260 /dev/zero | tr '\0' 'x' >"$tmp/www/resource"
	chmod 755 "$tmp" "$tmp/www" && chmod 644 "$tmp/www/resource" "$tmp/cert.pem"
	cat >"$tmp/nginx.conf" <<EOT
user root;
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx; uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $tmp/www;
  }
}
EOT
	nginx -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>/dev/null &
	nginx_pid=$!
	sleep 0.5
	ngpids() { pgrep -P "$nginx_pid" 2>/dev/null; echo "$nginx_pid"; }
	ncpu() { for p in $(ngpids); do awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$p/stat; done | awk '{s += $1} END {printf "%.3f", s}'; }
	n0=$(ncpu)
	nginx_line=$("$bin" get "https://127.0.0.1:$nport/resource" "$tmp/cert.pem" "$secs" "$threads" || echo "0 0 1")
	n1=$(ncpu)
fi

speed=$(openssl speed -seconds 2 ecdhp256 ecdsap256 2>/dev/null)
ecdh=$(echo "$speed" | awk '/256 bits ecdh/ {print $(NF)}' | head -1)
sign=$(echo "$speed" | awk '/256 bits ecdsa/ {print $(NF-1)}' | head -1)

echo "kbs benchmark: TLS loopback, $threads client threads with keep-alive, kbs worker_count 2, ${secs}s per case"
echo "per-CPU figures divide operations by the server's own CPU seconds (client shares the CPUs)"
printf '%-40s %8s %9s %9s %7s\n' case ops/s ops/cpu-s bound ratio
awk -v r="$rcar" -v b="$bearer" -v n="${nginx_line:-0 0 0}" -v e="$ecdh" -v s="$sign" \
    -v c0="$c0" -v c1="$c1" -v c2="$c2" -v n0="${n0:-0}" -v n1="${n1:-0}" 'BEGIN {
	split(r, R, " "); split(b, B, " "); split(n, N, " ")
	rc = (c1 - c0) > 0 ? R[2] / (c1 - c0) : 0
	bc = (c2 - c1) > 0 ? B[2] / (c2 - c1) : 0
	nc = (n1 - n0) > 0 ? N[2] / (n1 - n0) : 0
	gb = e / 2   # per GET: one ephemeral P-256 key generation + one ECDH (~ two ECDH)
	printf "%-40s %8.0f %9.0f %9.0f %7.2f\n", "RCAR handshake (auth+attest, ES256)", R[1], rc, s, rc / s
	printf "%-40s %8.0f %9.0f %9.0f %7.2f\n", "Bearer GET (JWE ECDH-ES P-256)", B[1], bc, gb, bc / gb
	printf "%-40s %8.0f %9.0f %9s %7s\n", "nginx static GET (same TLS, client)", N[1], nc, "-", "-"
	printf "openssl speed (1 CPU): ecdhp256 %.0f op/s, ecdsap256 sign %.0f op/s\n", e, s
	# Floor of a keep-alive RCAR: two TLS request/response exchanges at the nginx server CPU
	# per exchange (kernel + TLS records + minimal HTTP, no application work) plus one ES256
	# signature; the best RCAR ops/cpu-s any server could reach on this machine and setup.
	if (nc > 0 && s > 0) {
		ex = 1e6 / nc; sg = 1e6 / s; fl = 2 * ex + sg
		printf "RCAR floor: 2 x %.1f us (nginx exchange) + %.1f us (ES256 sign) = %.1f us -> %.0f ops/cpu-s, ratio %.2f; measured %.0f ops/cpu-s = %.1f us, ratio %.2f\n", ex, sg, fl, 1e6 / fl, 1e6 / fl / s, rc, (rc > 0 ? 1e6 / rc : 0), rc / s
	} else {
		print "RCAR floor: n/a (needs the nginx figure)"
	}
}'
echo "kbs RSS: idle ${rss_idle} kB, peak under load ${rss_load} kB"
echo "kbs threads' CPU seconds (busy ones): ${threads_cpu}; connections taken per worker: ${workers}"
echo "raw (ops/s ok failed): rcar=[$rcar] bearer=[$bearer] nginx=[${nginx_line:-}]"
