#!/bin/sh
# kbsfs benchmark (not part of ctest; wants a quiet machine, run as root or with /dev/fuse):
#   warm: open+read+close per CPU second of one secret on kbsfs, next to the same file on tmpfs,
#         in WARM_ROUNDS short interleaved rounds (kbsfs, tmpfs, tmpfs, kbsfs, ...): the
#         median of the per-round ratios, their spread, and the totals over all rounds
#   cold: first open+read+close on a fresh mount (attestation + fetch), next to one HTTPS GET
#         of the same bytes from nginx on a new connection
#   rss:  kbsfs resident memory with 100 secrets cached (the FUSE process holding the
#         secrets; its kbsfs-fetch child, which exits when idle, is shown separately)
# usage: tests/bench/bench_kbsfs.sh [build-dir] [warm-round-seconds] [cold-rounds] [warm-rounds]
#        (defaults: build 0.2 5 20)
#        (KBSFS_BENCH_SMAPS=FILE: keep a copy of the daemon's /proc/PID/smaps;
#         KBSFS_BENCH_OPTS=privsep=0: extra kbsfs options, e.g. the in-process broker)
set -eu
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-0.2}
ROUNDS=${3:-5}
WARM_ROUNDS=${4:-20}
KBS=$BUILD/server/kbs/kbs
KBSFS=$BUILD/fs/kbsfs
KBS_CLIENT=$BUILD/tools/kbs-client
HELPER=$BUILD/tests/bench/bench_kbsfs
for b in "$KBS" "$KBSFS" "$KBS_CLIENT" "$HELPER"; do
	[ -x "$b" ] || { echo "bench_kbsfs.sh: $b not built" >&2; exit 1; }
done
command -v nginx >/dev/null || { echo "bench_kbsfs.sh: nginx not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kbsfs-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/kbsfs-bench.XXXXXX) # tmpfs
MNT=$WORK/mnt
PIDS=""
cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	/usr/bin/python3 -c 'import socket,sys,time
for _ in range(200):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)' "$1"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best_low() { sort -n | head -1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=bench -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# the same secret on tmpfs, on nginx and in the KBS repository (tree layout)
mkdir -p "$SHM/default/akv" "$WORK/repo/default/akv" "$WORK/repo/default/bench" "$WORK/www"
printf 'a secret' | tee "$SHM/default/akv/coco_one" "$WORK/repo/default/akv/coco_one" \
	"$WORK/www/coco_one" >/dev/null
i=0
while [ $i -lt 100 ]; do
	head -c 48 /dev/urandom | base64 >"$WORK/repo/default/bench/s$i"
	i=$((i + 1))
done

KPORT=$(port)
cat >"$WORK/kbs.toml" <<EOT
[http_server]
sockets = ["127.0.0.1:$KPORT"]
certificate = "$WORK/cert.pem"
private_key = "$WORK/key.pem"
[admin]
authorization_mode = "InsecureAllowAll"
[[plugins]]
name = "resource"
type = "LocalFs"
dir_path = "$WORK/repo"
EOT
"$KBS" --config-file "$WORK/kbs.toml" >"$WORK/kbs.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$KPORT"
"$KBS_CLIENT" --url "https://127.0.0.1:$KPORT" --cert-file "$WORK/cert.pem" config \
	set-resource-policy --allow-all >/dev/null 2>&1

NPORT=$(port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOT
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/proxy;
	fastcgi_temp_path $WORK/nginx/fastcgi;
	uwsgi_temp_path $WORK/nginx/uwsgi;
	scgi_temp_path $WORK/nginx/scgi;
	server {
		listen 127.0.0.1:$NPORT ssl;
		ssl_certificate $WORK/cert.pem;
		ssl_certificate_key $WORK/key.pem;
		root $WORK/www;
	}
}
EOT
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/out.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$NPORT"

KBSFS_PID=""
mount_kbsfs() {
	mkdir -p "$MNT"
	"$KBSFS" "$MNT" -f -o "kbs_url=https://127.0.0.1:$KPORT,kbs_cert=$WORK/cert.pem,tee=sample,allow_sample${KBSFS_BENCH_OPTS:+,$KBSFS_BENCH_OPTS}" \
		>>"$WORK/kbsfs.log" 2>&1 &
	KBSFS_PID=$!
	PIDS="$PIDS $KBSFS_PID"
	i=0
	until mountpoint -q "$MNT"; do
		sleep 0.02
		i=$((i + 1))
		[ $i -lt 500 ] || { echo "kbsfs did not mount" >&2; exit 1; }
	done
}
umount_kbsfs() {
	fusermount3 -u "$MNT"
	while kill -0 "$KBSFS_PID" 2>/dev/null; do sleep 0.02; done
}

# wall-clock figures depend on the machine's load: print it next to the results
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# cold: a fresh mount per round; nginx: a fresh connection per GET
: >"$WORK/cold_kbsfs"
: >"$WORK/cold_nginx"
r=0
while [ $r -lt "$ROUNDS" ]; do
	mount_kbsfs
	"$HELPER" cold "$MNT/default/akv/coco_one" >>"$WORK/cold_kbsfs"
	umount_kbsfs
	"$HELPER" https "https://127.0.0.1:$NPORT/coco_one" "$WORK/cert.pem" >>"$WORK/cold_nginx"
	r=$((r + 1))
done

# warm: many short rounds, kbsfs and tmpfs interleaved inside one process (order alternating),
# so that background load and CPU frequency changes hit both sides alike; the figure is the
# median of the per-round ratios (one line per round: kbsfs ops, CPU s, tmpfs ops, CPU s)
mount_kbsfs
cat "$MNT/default/akv/coco_one" >/dev/null
"$HELPER" pair "$WARM_ROUNDS" "$SECS" "$MNT/default/akv/coco_one" \
	"$SHM/default/akv/coco_one" >"$WORK/warm_pairs"

# memory: 100 secrets cached (plus coco_one)
i=0
while [ $i -lt 100 ]; do
	cat "$MNT/default/bench/s$i" >/dev/null
	i=$((i + 1))
done
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$KBSFS_PID/status")
anon=$(awk '/^RssAnon/ {print $2}' "/proc/$KBSFS_PID/status")
file=$(awk '/^RssFile/ {print $2}' "/proc/$KBSFS_PID/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$KBSFS_PID/smaps_rollup")
uss=$(awk '/^Private_(Clean|Dirty):/ {n += $2} END {print n}' "/proc/$KBSFS_PID/smaps_rollup")
# where the resident pages are: Rss / Pss / private kB per mapped object, largest first
awk '/^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6) ? $6 : "[anon]"; sub(/.*\//, "", name)}
	/^Rss:/ {rss[name] += $2} /^Pss:/ {pss[name] += $2}
	/^Private_(Clean|Dirty):/ {priv[name] += $2}
	END {for (n in rss) if (rss[n] > 0) printf "%8d %8d %8d  %s\n", rss[n], pss[n], priv[n], n}' \
	"/proc/$KBSFS_PID/smaps" | sort -rn >"$WORK/smaps"
threads=$(awk '/^Threads/ {print $2}' "/proc/$KBSFS_PID/status")
# the kbsfs-fetch child (running until fetch_idle after the last fetch)
child=$(sed -n 's/.*"child_pid": *\([0-9]*\).*/\1/p' "$MNT/.kbsfs/status" | head -1)
child_rss=-
if [ -n "$child" ] && [ "$child" != 0 ] && [ -r "/proc/$child/status" ]; then
	child_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$child/status")
fi
# KBSFS_BENCH_SMAPS=FILE keeps the full smaps of the measured daemon for a closer look
[ -z "${KBSFS_BENCH_SMAPS:-}" ] || cp "/proc/$KBSFS_PID/smaps" "$KBSFS_BENCH_SMAPS"
umount_kbsfs

# totals over all rounds (ops / CPU seconds per side), and the per-round ratios tmpfs/kbsfs
wk=$(awk '{n += $1; c += $2} END {printf "%.0f", n / c}' "$WORK/warm_pairs")
wt=$(awk '{n += $3; c += $4} END {printf "%.0f", n / c}' "$WORK/warm_pairs")
awk '{printf "%.4f\n", ($3 / $4) / ($1 / $2)}' "$WORK/warm_pairs" | sort -n >"$WORK/warm_ratios"
# linear-interpolation quantile of the sorted ratios (q=0.5: the median)
quantile() {
	awk -v q="$1" '{a[NR] = $1} END {p = q * (NR - 1); i = int(p); f = p - i;
		printf "%.2f\n", (i + 2 <= NR) ? a[i + 1] + f * (a[i + 2] - a[i + 1]) : a[i + 1]}' \
		"$WORK/warm_ratios"
}
ck=$(median <"$WORK/cold_kbsfs")
cn=$(median <"$WORK/cold_nginx")
printf '\nkbsfs benchmark (warm %s x %s s interleaved, cold %s rounds; %s; load average %s before, %s after)\n' \
	"$WARM_ROUNDS" "$SECS" "$ROUNDS" "$(uname -r)" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s %12s %8s\n' "" "kbsfs" "reference" "ratio"
printf '%-44s %12s %12s %8s\n' "warm per-round ratio tmpfs/kbsfs, median" "" "" \
	"$(quantile 0.5)x"
printf '%-44s %12s\n' "  spread: min / p25 / p75 / max" \
	"$(quantile 0 | tr -d '\n') / $(quantile 0.25 | tr -d '\n') / $(quantile 0.75 | tr -d '\n') / $(quantile 1)"
printf '%-44s %12s %12s %8s\n' "warm totals open+read+close /CPU-s (tmpfs)" "$wk" "$wt" \
	"$(awk -v a="$wt" -v b="$wk" 'BEGIN {printf "%.2fx", a / b}')"
printf '%-44s %12s %12s %8s\n' "cold first read us  (ref: nginx HTTPS GET)" "$ck" "$cn" \
	"$(awk -v a="$ck" -v b="$cn" 'BEGIN {printf "%.2fx", a / b}')"
printf '%-44s %12s %12s %8s\n' "  fastest cold first read us" "$(best_low <"$WORK/cold_kbsfs")" \
	"$(best_low <"$WORK/cold_nginx")" \
	"$(awk -v a="$(best_low <"$WORK/cold_kbsfs")" -v b="$(best_low <"$WORK/cold_nginx")" \
		'BEGIN {printf "%.2fx", a / b}')"
printf '%-44s %12s\n' "kbsfs VmRSS kB, 100 secrets cached" "$rss"
printf '%-44s %12s\n' "  of which anonymous / file-backed (libs)" "$anon / $file"
printf '%-44s %12s\n' "  private (USS) / proportional (PSS)" "$uss / $pss"
printf '%-44s %12s\n' "  threads" "$threads"
printf '%-44s %12s\n' "kbsfs-fetch child VmRSS kB (until idle exit)" "$child_rss"
printf '\nresident pages per mapping (kB):\n%8s %8s %8s  %s\n' Rss Pss Private object
cat "$WORK/smaps"
printf '\nwarm per-round ratios (sorted): %s\nall cold kbsfs: %s\nall cold nginx: %s\n' \
	"$(tr '\n' ' ' <"$WORK/warm_ratios")" \
	"$(tr '\n' ' ' <"$WORK/cold_kbsfs")" "$(tr '\n' ' ' <"$WORK/cold_nginx")"
