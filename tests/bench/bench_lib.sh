# shellcheck shell=sh
# Shared scaffolding of the tests/bench/*.sh scripts (POSIX sh; sourced, not run):
#   . "$(dirname "$0")/bench_lib.sh"
# Every function fails the calling script (set -e) with a message naming the script.

bench_name=$(basename "$0")

# bench_need FILE...: each must be an executable (e.g. a binary of the build tree).
bench_need() {
	for b in "$@"; do
		[ -x "$b" ] || { echo "$bench_name: $b not built or missing" >&2; exit 1; }
	done
}

# bench_port: a free TCP port on 127.0.0.1.
bench_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT: waits (10 s at most) until 127.0.0.1:PORT accepts connections.
bench_wait_port() {
	/usr/bin/python3 -c 'import socket,sys,time
for _ in range(200):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)' "$1" || { echo "$bench_name: nothing listens on 127.0.0.1:$1" >&2; exit 1; }
}

# bench_wait_healthz URL CA-FILE [TRIES]: waits until a kbs at URL answers GET /healthz
# (TRIES polls, 0.1 s apart; 50 by default).
bench_wait_healthz() {
	i=0
	until curl -s --cacert "$2" "$1/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "${3:-50}" ] || { echo "$bench_name: no answer from $1" >&2; exit 1; }
		sleep 0.1
	done
}

# bench_tls_cert DIR: a throw-away self-signed P-256 certificate for 127.0.0.1 as
# DIR/cert.pem and DIR/key.pem.
bench_tls_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=bench -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# bench_nginx_start DIR PORT CERT KEY ROOT [WORKERS]: nginx serving ROOT over TLS on
# 127.0.0.1:PORT (keep-alive, no access log), its config and temp files under DIR; returns
# when the port answers, with the master's pid in $bench_nginx_pid.
bench_nginx_start() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<EOT
user root;
worker_processes ${6:-1};
pid $1/nginx.pid;
error_log $1/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1; proxy_temp_path $1;
  fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$2 ssl;
    ssl_certificate $3; ssl_certificate_key $4;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $5;
  }
}
EOT
	nginx -p "$1" -c "$1/nginx.conf" >"$1/out.log" 2>&1 &
	bench_nginx_pid=$!
	bench_wait_port "$2"
}

# bench_speed SECONDS ALG...: the output of `openssl speed` for the algorithms.
bench_speed() {
	s=$1
	shift
	openssl speed -seconds "$s" "$@" 2>/dev/null
}

# bench_rate SPEED-OUTPUT REGEX: the last column (ops/s; verify/s for signatures) of the last
# line of bench_speed's output matching REGEX, e.g. 'ecdsa \(nistp384\)'.
bench_rate() {
	echo "$1" | awk -v re="$2" '$0 ~ re {print $NF}' | tail -1
}

# bench_get KEY OUTPUT: the value of KEY in "key=value key=value" output of a bench binary.
bench_get() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# bench_header SECONDS: the line naming the openssl version, CPUs and seconds per case.
bench_header() {
	echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) CPUs, ${1}s per case"
}

# bench_table WIDTH REFERENCE-COLUMN: the header of a table of bench_ratio rows.
bench_table() {
	printf "%-${1}s %10s %16s %8s\n" "ours" "ops/s" "$2" "ratio"
}

# bench_ratio WIDTH LABEL OURS REFERENCE NOTE: one table row, ours / reference.
bench_ratio() {
	awk -v l="$2" -v a="$3" -v b="$4" -v n="$5" -v f="%-${1}s %10.0f %16.0f %8.2f  (%s)\n" \
		'BEGIN { printf f, l, a, b, a / b, n }'
}
