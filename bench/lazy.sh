#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Lazy-pulling cold start (a measurement, not a timed test), in one boot of the
# test guest, with Debian's docker-registry on the guest's 127.0.0.1 and its
# storage in a tmpfs (so "the network" is loopback: the figures show what the
# guest spends, not what a WAN would add):
#   lazy   rerofs pull --lazy, mount -o blobdir=,ondemand, rerofs fetchd
#   full   rerofs pull (everything), mount -o blobdir=
# For each: seconds from the start of the pull to the first byte of one file
# (one-mib), and to the end of a find + read of a small working set (small/:
# 500 files of 0..9 KB), and the bytes fetched as a share of the image.
# The image is the selftests' lazy image (build/selftests/lazy: about 32 MiB,
# 256 MiB with RERO_LAZY_LONG=1), made by selftests/run.sh --images-only.
#
#   bash bench/lazy.sh        (after make module and make tools)
# RERO_BENCH_KERNEL=bench (make bench): boot the bench kernel and its module
# (make bench-module) instead of the test kernel.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --guest ]; then
	vmk=()
	case ${RERO_BENCH_KERNEL:-test} in
	test) ;;
	bench) vmk=(--bench) ;;
	*) echo "bench/lazy.sh: RERO_BENCH_KERNEL is test or bench, not $RERO_BENCH_KERNEL" >&2; exit 2 ;;
	esac
	[ -f "$TOP/build/selftests/lazy/meta.img" ] ||
		RERO_BIN=$TOP/tools/target/release/rerofs bash "$TOP/selftests/run.sh" --images-only
	exec "$TOP/selftests/vm-run" "${vmk[@]}" --idle-timeout 600 -- bash "$TOP/bench/lazy.sh" --guest
fi

# ---------------------------------------------------------------- in the guest
B=${RERO_BIN:-$TOP/tools/target/release/rerofs}
D=$TOP/build/selftests/lazy
W=$(mktemp -d /tmp/rerofs-bench-lazy.XXXXXX)
mount -t tmpfs -o size=1G bench "$W"
PORT=5715 REF=127.0.0.1:5715/bench/img
FETCHD=
cleanup() {
	[ -n "$FETCHD" ] && kill "$FETCHD" 2>/dev/null && wait "$FETCHD" 2>/dev/null
	umount "$W/mnt" 2>/dev/null || true
	[ -n "${REG:-}" ] && kill "$REG" 2>/dev/null
	rmmod rerofs 2>/dev/null || true
	umount "$W" 2>/dev/null || true
}
trap cleanup EXIT
insmod "$RERO_MODULE"
ip link set lo up
mkdir -p "$W/reg" "$W/mnt"
printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
	"$W/reg" "$PORT" >"$W/config.yml"
/usr/bin/docker-registry serve "$W/config.yml" >"$W/registry.log" 2>&1 &
REG=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.2; done
"$B" push -q "$D/meta.img" --blob-dir "$D/blobs" "$REF:v1" >/dev/null
total=$(du -cb "$D/meta.img" "$D"/blobs/* | tail -1 | cut -f1)
now() { date +%s.%N; }
sec() { python3 -I -S -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

run() { # MODE
	local mode=$1 t0 t1 t2 fetched
	rm -rf "$W/blobs"
	sync; echo 3 >/proc/sys/vm/drop_caches
	t0=$(now)
	if [ "$mode" = lazy ]; then
		"$B" pull -q --lazy "$REF:v1" "$W/blobs" >"$W/pull.out"
		mount -t rerofs -o "ro,blobdir=$W/blobs,ondemand" "$W/blobs/meta.img" "$W/mnt"
		"$B" fetchd --blob-dir "$W/blobs" --stats "$W/stats.json" "$REF:v1" 2>"$W/fetchd.log" &
		FETCHD=$!
		until grep -q 'fetchd: serving' "$W/fetchd.log" 2>/dev/null; do sleep 0.05; done
	else
		"$B" pull -q "$REF:v1" "$W/blobs" >"$W/pull.out"
		mount -t rerofs -o "ro,blobdir=$W/blobs" "$W/blobs/meta.img" "$W/mnt"
	fi
	head -c 1 "$W/mnt/one-mib" >/dev/null
	t1=$(now)
	find "$W/mnt/small" -type f -exec cat {} + >/dev/null
	t2=$(now)
	if [ "$mode" = lazy ]; then
		pulled=$(sed -n 's/.*, \([0-9]*\) of [0-9]* bytes fetched/\1/p' "$W/pull.out")
		fetched=$((pulled + $(python3 -I -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$W/stats.json")))
		kill "$FETCHD"; wait "$FETCHD" 2>/dev/null || true; FETCHD=
	else
		fetched=$total
	fi
	umount "$W/mnt"
	printf '%-5s  first byte %6s s   find+read small/ %6s s   fetched %10d bytes (%5.1f%% of %d)\n' \
		"$mode" "$(sec "$t0" "$t1")" "$(sec "$t0" "$t2")" "$fetched" \
		"$(python3 -I -S -c "print($fetched * 100 / $total)")" "$total"
}
echo "bench-lazy: kernel $(uname -r), image $total bytes (metadata blob + data blobs with trees)"
run lazy
run full
run lazy
run full
