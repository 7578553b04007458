#!/bin/sh
# Install the Debian 12 packages kbsfs needs to build, test and run the demo.
# Idempotent: only missing packages are installed. Works as root or through sudo.
# The list below is the single source of truth; README.md prints the same list.
set -eu

PACKAGES="
build-essential
cmake
pkg-config
clang-14
libclang-rt-14-dev
libssl-dev
openssl
libjansson-dev
libfuse3-dev
fuse3
libcmocka-dev
libpcre2-dev
tzdata
libyaml-dev
python3
python3-pytest
python3-cryptography
python3-requests
python3-jwcrypto
nginx-light
procps
iproute2
ca-certificates
libtss2-dev
swtpm
swtpm-tools
tpm2-tools
zlib1g-dev
libgrpc-dev
protobuf-c-compiler
libprotobuf-c-dev
python3-grpcio
python3-protobuf
python3-grpc-tools
python3-yaml
libpq-dev
postgresql-15
softhsm2
libp11-kit-dev
libxml2-dev
"

if [ "${1:-}" = "--list" ]; then
	echo $PACKAGES
	exit 0
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: missing packages:$missing" >&2
		echo "install-deps: not root and no sudo; install them as root" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
