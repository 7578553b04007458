#!/bin/sh
# Scale-out benchmark: Bearer resource GETs/s of one kbs on LocalFs, then one and two kbs
# replicas on one PostgreSQL (started here in a temp dir, as `nobody` when run as root).
#   tests/bench/bench_kbs_pg.sh [build-dir] [seconds-per-case] [client-threads-per-replica]
# Not part of ctest; wants a quiet machine. Figures: docs/performance.md.
set -eu
. "$(dirname "$0")/bench_lib.sh"
build=${1:-build}
secs=${2:-5}
threads=${3:-2}
bin="$build/tests/bench/bench_kbs"
kbs="$build/server/kbs/kbs"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
bench_need "$bin" "$kbs" "$pgbin/initdb"
tmp=$(mktemp -d /tmp/kbs-pgbench-XXXXXX)
pgdir=$(mktemp -d /tmp/kbs-pgbench-db-XXXXXX)
pids=""
asuser=""
[ "$(id -u)" -eq 0 ] && { chown nobody:nogroup "$pgdir"; asuser="runuser -u nobody --"; }
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	$asuser "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$tmp" "$pgdir"
}
trap cleanup EXIT INT TERM

pport=$(bench_port)
(cd "$pgdir" && $asuser "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 \
	--no-sync --locale=C >/dev/null)
(cd "$pgdir" && $asuser "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
	-o "-p $pport -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null)

bench_tls_cert "$tmp"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/signer.pem" 2>/dev/null
head -c 32 /dev/urandom >"$tmp/secret"
printf '{"policy":"%s"}' "$(printf 'package policy\ndefault allow = true\n' | base64 -w0 |
	tr '+/' '-_' | tr -d '=')" >"$tmp/policy.json"

# start_kbs NAME STORAGE-TOML -> prints the URL; the kbs pid is appended to $tmp/pids
start_kbs() {
	p=$(bench_port)
	cat >"$tmp/$1.toml" <<EOT
[http_server]
sockets = ["127.0.0.1:$p"]
certificate = "$tmp/cert.pem"
private_key = "$tmp/key.pem"
worker_count = 2
[admin]
authorization_mode = "InsecureAllowAll"
[attestation_service.attestation_token_broker.signer]
key_path = "$tmp/signer.pem"
$2
EOT
	"$kbs" --config-file "$tmp/$1.toml" --log-level warn >"$tmp/$1.log" 2>&1 &
	echo $! >>"$tmp/pids"
	bench_wait_healthz "https://127.0.0.1:$p" "$tmp/cert.pem" >&2
	echo "https://127.0.0.1:$p"
}
setup() {
	curl -sf --cacert "$tmp/cert.pem" -X POST --data-binary @"$tmp/secret" \
		"$1/kbs/v0/resource/default/bench/key" >/dev/null
	curl -sf --cacert "$tmp/cert.pem" -X POST --data @"$tmp/policy.json" \
		"$1/kbs/v0/resource-policy" >/dev/null
}
get() { "$bin" bearer "$1" "$tmp/cert.pem" "$secs" "$threads" default/bench/key; }

lfs=$(start_kbs lfs "[storage_backend]
storage_type = \"LocalFs\"
[storage_backend.backends.local_fs]
dir_path = \"$tmp/lfs-storage\"")
pids=$(cat "$tmp/pids")
setup "$lfs"
r_lfs=$(get "$lfs")
kill $pids; : >"$tmp/pids"

pgcfg="[storage_backend]
storage_type = \"Postgres\"
[storage_backend.backends.postgres]
host = \"127.0.0.1\"
port = $pport
pool_size = 4"
a=$(start_kbs pga "$pgcfg")
b=$(start_kbs pgb "$pgcfg")
pids=$(cat "$tmp/pids")
setup "$a"
r_one=$(get "$a")
get "$a" >"$tmp/ra" & ja=$!
get "$b" >"$tmp/rb" & jb=$!
wait $ja $jb
r_a=$(cat "$tmp/ra"); r_b=$(cat "$tmp/rb")

echo "kbs scale-out benchmark: Bearer GETs (JWE ECDH-ES P-256), TLS loopback, $threads client threads per replica, worker_count 2, ${secs}s per case, $(nproc) CPUs shared by client, kbs and PostgreSQL"
printf '%-34s %10s %8s\n' case GETs/s failed
printf '%-34s %10s %8s\n' "1 kbs, LocalFs" "$(echo "$r_lfs" | cut -d' ' -f1)" "$(echo "$r_lfs" | cut -d' ' -f3)"
printf '%-34s %10s %8s\n' "1 kbs, Postgres" "$(echo "$r_one" | cut -d' ' -f1)" "$(echo "$r_one" | cut -d' ' -f3)"
printf '%-34s %10s %8s\n' "2 kbs replicas, one Postgres" \
	"$(($(echo "$r_a" | cut -d' ' -f1) + $(echo "$r_b" | cut -d' ' -f1)))" \
	"$(($(echo "$r_a" | cut -d' ' -f3) + $(echo "$r_b" | cut -d' ' -f3)))"
echo "raw (ops/s ok failed): localfs=[$r_lfs] pg1=[$r_one] pg2a=[$r_a] pg2b=[$r_b]"
