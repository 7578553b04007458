#!/bin/sh
# kbsfs demo: a real kbs (TLS, self-signed certificate) with a LocalFs repository laid out like
# an Azure Key Vault CSI mount, one secret uploaded by the admin with kbs-client, and kbsfs
# mounted on a temporary directory (sample TEE, allowed by an explicit demo policy).
# Everything started here is stopped and unmounted on exit, also when a step fails.
#
# usage: scripts/demo.sh [BUILD_DIR]      (make demo builds first)
set -eu

BUILD=$(cd "${1:-build}" && pwd)
KBS=$BUILD/server/kbs/kbs
KBSFS=$BUILD/fs/kbsfs
KBS_CLIENT=$BUILD/tools/kbs-client
for b in "$KBS" "$KBSFS" "$KBS_CLIENT"; do
	if [ ! -x "$b" ]; then
		echo "demo: $b is missing; run 'make build' first" >&2
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kbsfs-demo.XXXXXX")
MNT=$WORK/secrets
KBS_PID=""
KBSFS_PID=""

cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null ||
			fusermount3 -u -z "$MNT" 2>/dev/null || true
	fi
	for pid in $KBSFS_PID $KBS_PID; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	if [ $status -ne 0 ]; then
		echo "demo: FAILED (exit $status); last log lines:" >&2
		tail -n 15 "$WORK/kbs.log" "$WORK/kbsfs.log" >&2 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ -t 1 ]; then
	step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
	step() { printf '\n==> %s\n' "$*"; }
fi


step "TLS certificate and admin key (self-signed, in $WORK)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=kbsfs-demo" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$WORK/kbs.key" -out "$WORK/kbs.crt" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$WORK/admin.key" 2>/dev/null
openssl pkey -in "$WORK/admin.key" -pubout -out "$WORK/admin.pub" 2>/dev/null
echo "kbs certificate: $WORK/kbs.crt"

step "Repository laid out like an Azure Key Vault CSI mount: <repo>/default/akv/<object>"
# the secrets-store CSI driver writes each version into a timestamped directory, points
# ..data at it and makes every object a symlink through ..data (atomic updates)
AKV=$WORK/repository/default/akv
VERSION=..$(date -u +%Y_%m_%d_%H_%M_%S).1
mkdir -p "$AKV/$VERSION"
printf 'a secret' >"$AKV/$VERSION/coco_one"
chmod 0600 "$AKV/$VERSION/coco_one"
ln -s "$VERSION" "$AKV/..data"
ln -s ..data/coco_one "$AKV/coco_one"
(cd "$WORK/repository" && find . \( -type f -o -type l \) | sort | sed 's|^\./|  |')

cat >"$WORK/kbs.toml" <<EOT
[http_server]
sockets = ["127.0.0.1:0"]
certificate = "$WORK/kbs.crt"
private_key = "$WORK/kbs.key"

[admin]
authorization_mode = "AuthenticatedAuthorization"
[admin.authentication.bearer_jwt]
identity_providers = [{ public_key_uri = "$WORK/admin.pub" }]

[[plugins]]
name = "resource"
type = "LocalFs"
dir_path = "$WORK/repository"
EOT

step "Starting kbs (on a port the kernel picks: no other program can hold it)"
"$KBS" --config-file "$WORK/kbs.toml" >"$WORK/kbs.log" 2>&1 &
KBS_PID=$!
# ready when kbs logs the port it listens on (deadline 60 s, for loaded machines)
PORT=$(/usr/bin/python3 - "$WORK/kbs.log" "$KBS_PID" <<'EOT'
import os, re, sys, time
log, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("kbs exited during start-up")
    with open(log, errors="replace") as f:
        m = re.search(r"kbs: listening on \S+ \(TLS, port (\d+)\)", f.read())
    if m:
        print(m.group(1))
        sys.exit(0)
    time.sleep(0.05)
sys.exit("kbs did not start listening within 60 s")
EOT
)
URL=https://127.0.0.1:$PORT
echo "kbs pid $KBS_PID on $URL"

ADMIN="$KBS_CLIENT --url $URL --cert-file $WORK/kbs.crt config --auth-private-key $WORK/admin.key"

step "Demo resource policy: release secrets to the sample TEE (never do this in production)"
cat >"$WORK/demo-policy.rego" <<'EOT'
package policy

default allow = false

# DEMO ONLY: the sample TEE has no hardware protection. This policy names it explicitly so
# that the demo can run on any machine; real policies require "ear.status" == "affirming".
allow {
	input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["sample"]
}
EOT
if $ADMIN set-resource-policy --policy-file "$WORK/demo-policy.rego" >/dev/null \
	2>"$WORK/policy.err"; then
	echo "policy set: $WORK/demo-policy.rego"
elif grep -q PolicyEngineError "$WORK/policy.err"; then
	# a kbs built without the Rego engine evaluates only a fixed set of policy shapes
	echo "this kbs cannot evaluate that policy (no Rego engine); using kbs-client --allow-all"
	$ADMIN set-resource-policy --allow-all >/dev/null
	echo "policy set: allow-all (resource plugin)"
else
	cat "$WORK/policy.err" >&2
	exit 1
fi

step "Admin uploads a second secret with kbs-client: default/demo/uploaded"
printf 'uploaded by kbs-client' >"$WORK/uploaded.txt"
$ADMIN set-resource --path default/demo/uploaded --resource-file "$WORK/uploaded.txt" >/dev/null
rm -f "$WORK/uploaded.txt"
echo "uploaded"

step "Mounting kbsfs on $MNT (tee=sample, allow_sample)"
mkdir -p "$MNT"
"$KBSFS" "$MNT" -f -o "kbs_url=$URL,kbs_cert=$WORK/kbs.crt,tee=sample,allow_sample,resources=default/akv/coco_one:default/demo/uploaded" \
	>"$WORK/kbsfs.log" 2>&1 &
KBSFS_PID=$!
# mounted when the mount table says so (deadline 60 s, for loaded machines)
end=$(($(date +%s) + 60))
until mountpoint -q "$MNT"; do
	kill -0 "$KBSFS_PID" 2>/dev/null || { echo "demo: kbsfs exited" >&2; exit 1; }
	[ "$(date +%s)" -lt "$end" ] || { echo "demo: kbsfs did not mount within 60 s" >&2; exit 1; }
	sleep 0.1
done
(cd "$MNT" && ls -R . | sed "s/^/  /")

step "cat $MNT/default/akv/coco_one   (first access: attests, then fetches)"
cat "$MNT/default/akv/coco_one"
echo
step "cat $MNT/default/demo/uploaded   (same attestation, served from locked memory afterwards)"
cat "$MNT/default/demo/uploaded"
echo

step "cat $MNT/.kbsfs/status"
cat "$MNT/.kbsfs/status"

step "Unmounting and stopping kbs"
fusermount3 -u "$MNT"
wait "$KBSFS_PID" 2>/dev/null || true
KBSFS_PID=""
kill -TERM "$KBS_PID"
wait "$KBS_PID" 2>/dev/null || true
KBS_PID=""
echo "done: nothing is left mounted or running"
