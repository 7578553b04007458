#!/bin/sh
# Runs every fuzz target for a bounded time on its seed corpus (tests/fuzz/corpus/<name>/).
# New inputs go to a scratch directory so the committed corpus stays unchanged.
set -eu
build=${1:-build-fuzz}
secs=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
fail=0
found=0
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	found=1
	name=$(basename "$bin")
	target=${name#fuzz_}
	seeds="$here/corpus/$target"
	scratch=$(mktemp -d)
	echo "fuzz-smoke: $name for ${secs}s (seeds: $seeds)"
	if [ -d "$seeds" ]; then
		set -- "$scratch" "$seeds"
	else
		echo "fuzz-smoke: $name has no seed corpus at $seeds" >&2
		fail=1
		set -- "$scratch"
	fi
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 "$@" >"$scratch.log" 2>&1; then
		echo "fuzz-smoke: $name FAILED" >&2
		tail -50 "$scratch.log" >&2
		fail=1
	else
		tail -1 "$scratch.log"
	fi
	rm -rf "$scratch" "$scratch.log"
done
[ "$found" = 1 ] || { echo "fuzz-smoke: no fuzz targets built in $build" >&2; exit 1; }
exit $fail
