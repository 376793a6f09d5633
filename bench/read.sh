#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read benchmark (not a timed test): the same files read in the test guest,
# cold cache, sequentially and with 4 KiB random preads, through
#   rerofs-off     rerofs, verity=off (a multi-blob `rerofs mkfs` image)
#   rerofs-on      rerofs, every block verified (same image, digest=)
#   erofs-loop     the C EROFS driver on a read-only loop device (mkfs.erofs image)
#   erofs-dmverity the C EROFS driver on dm-verity (veritysetup) over loop devices
#   erofs-fsverity the C EROFS driver, file-backed (mount(2) of the image file),
#                  the file having fs-verity enabled on ext4
# all in one guest boot, with the images on one ext4 file system on a virtio
# disk (a host file), so that dropping the guest's caches makes every read go
# to the "disk". Prints MB/s and each figure's ratio to erofs-loop.
#
# Usage: bench/read.sh [--smoke] [--size MiB] [--out DIR]
#   --smoke    4 MiB of files: checks that every peer works (make check runs it)
#   --size N   MiB of file data (default 1024)
# The guest is software-emulated here (no usable KVM): absolute figures are
# small; compare the ratios measured in the same run.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=1024 smoke=0 out=$TOP/build/bench-read
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 size=4 ;;
	--size) size=$2; shift ;;
	--out) out=$2; shift ;;
	*) echo "bench/read.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
. "$TOP/scripts/env.sh"
if ! command -v veritysetup >/dev/null; then
	echo "bench/read.sh: installing cryptsetup-bin (veritysetup)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cryptsetup-bin >/dev/null
fi
rerofs=${RERO_BIN:-$TOP/tools/target/release/rerofs}
if [ -z "${RERO_BIN:-}" ]; then
	(cd "$TOP/tools" && PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH cargo build -q --release) ||
		{ echo "bench/read.sh: cannot build the rerofs tools" >&2; exit 1; }
fi
[ -f "$TOP/rerofs.ko" ] || { echo "bench/read.sh: build the module first (make module)" >&2; exit 1; }

rm -rf "$out" && mkdir -p "$out/data" "$out/disk/blobs"
echo "bench: $size MiB of files" >&2
# Files of 1..8 MiB (a few smaller ones for --smoke), random contents.
left=$((size * 1024 * 1024)) i=0
while [ $left -gt 0 ]; do
	n=$(( (i % 8 + 1) * 1024 * 1024 ))
	[ $smoke = 1 ] && n=$(( (i % 4 + 1) * 512 * 1024 + 1234 ))
	[ $n -gt $left ] && n=$left
	mkdir -p "$out/data/d$((i % 16))"
	head -c "$n" /dev/urandom >"$out/data/d$((i % 16))/f$i"
	left=$((left - n)) i=$((i + 1))
done
d=$out/disk
"$rerofs" mkfs -q --chunk-size 65536 --blob-dir "$d/blobs" "$d/meta.img" "$out/data"
"$rerofs" digest "$d/meta.img" | cut -d' ' -f1 >"$d/meta.digest"
mkfs.erofs --quiet -T0 "$d/erofs.img" "$out/data"
cp "$d/erofs.img" "$d/erofs-fsv.img"
veritysetup format "$d/erofs.img" "$d/erofs.verity" | awk '/Root hash:/ {print $3}' >"$d/erofs.roothash"
[ -s "$d/erofs.roothash" ] || { echo "bench/read.sh: veritysetup format gave no root hash" >&2; exit 1; }
need=$(du -sm "$d" | cut -f1)
mkfs.ext4 -q -F -O verity -b 4096 -d "$d" "$out/disk.ext4" "$((need * 12 / 10 + 64))M"
rm -rf "$d" "$out/data"

mem=2G
[ "$size" -gt 512 ] && mem=4G
echo "bench: booting the test guest ($mem) with the images on a virtio disk" >&2
RERO_BENCH_SMOKE=$smoke "$TOP/selftests/vm-run" --memory "$mem" --disk "$out/disk.ext4" \
	--idle-timeout 1800 --timeout 10800 -- \
	bash "$TOP/bench/guest-read.sh" | tee "$out/results.txt"
rc=${PIPESTATUS[0]}
rm -f "$out/disk.ext4"
exit "$rc"
