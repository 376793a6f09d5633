#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Read benchmark (not a timed test): the same files read in the test guest, in
# one guest boot, through nine contenders
#   rerofs-off      rerofs, verity=off (a `rerofs mkfs` image: metadata blob + data blob)
#   rerofs-on       rerofs, every block verified (same image, digest=); file data
#                   read with direct I/O (io=direct, the default)
#   rerofs-on-buf   the same with io=buffered (through the blob's page cache)
#   rerofs-enc      rerofs, encrypted (mkfs --encrypt) and verified (digest=, key=)
#   erofs-loop      the C EROFS driver on a read-only loop device (mkfs.erofs image)
#   erofs-file      the C EROFS driver, file-backed (mount(2) of the image file:
#                   the backing path rerofs uses)
#   erofs-dmverity  the C EROFS driver on dm-verity (veritysetup) over loop devices
#   erofs-fsverity  the C EROFS driver, file-backed, the file having fs-verity on
#   erofs-dmcrypt-verity  the C EROFS driver on dm-crypt (aes-xts-plain64, 4 KiB
#                   sectors) on dm-verity over the ciphertext (made in the guest)
# with the images on one ext4 file system on a virtio disk (a host file), so
# that dropping the guest's caches makes every cold read go to the "disk".
# Workloads, each repetition running every contender in turn (each rerofs
# contender next to its C peers; the groups rotate from one repetition to the
# next and every other repetition runs them backwards), the caches dropped
# before every cold run:
#   seq-cold   sequential read (1 MiB reads) of large random files, MB/s
#   seq-warm   the same again, from the page cache, MB/s
#   pagecache  growth of Cached (/proc/meminfo) over seq-cold, MiB
#   rand-4k    4 KiB preads at random offsets of the large files (FADV_RANDOM), ops/s
#   tree-read  walk + read every file of a small-file tree (a copy of the kernel
#              source's include/, Documentation/, tools/, fs/, net/, sound/:
#              31,000 files), files/s
#   tree-stat  walk + lstat of every entry of that tree, ops/s
#   mount-1k   mount + umount of an image of 1,000 data blobs (rerofs mkfs
#              --blob-per-layer over 1,000 one-file layers), ops/s. The C driver
#              mounts that same image file-backed with one device= per blob
#              (erofs-blobs: the same files rerofs opens) and, as its other
#              contenders, an EROFS image of the same 1,000 files in one device
# Prints a table of medians with each figure's ratio to each C-driver contender
# and writes build/bench/read-<UTC time>.json (also build/bench/read.json): the
# guest's CPU model, SHA-256 driver and raw SHA-256 throughput measured in the
# same boot (the kernel's, building an fs-verity tree, and OpenSSL's through
# python's hashlib), every sample and the medians.
#
# Usage: bench/read.sh [--smoke] [--size MiB] [--files N] [--reps N]
#                      [--rand-ops N] [--blobs N] [--out DIR]
#   --smoke      4 MiB of large files, 120 tree files, 40 blobs, 1 repetition, 1 vCPU:
#                checks that every contender and workload works (make check runs it)
#   --size N     MiB of large files (default 1024)
#   --files N    files of the tree, 0 for all (default 0: about 31,000)
#   --reps N     repetitions (default 3)
#   --rand-ops N random preads per run (default: one per 8 blocks of the large
#                files, at most 8,192: at 1 GiB the full count, 32,768, made
#                rand-4k alone take about half an hour of the run under TCG)
#   --blobs N    data blobs of the mount image (default 1000)
#   --out DIR    work directory (default build/bench-read)
#   --profile C[:W][,C[:W]...]  after the measurements, one more cold run of
#                workload W (seq, the default; rand, tree-read, tree-stat, mount, or
#                the table's names: seq-cold, rand-4k, mount-1k) on
#                contender C under `perf record -e cpu-clock -a` in the guest,
#                and its top 40 symbols (where the time goes)
# Environment: RERO_BIN (a rerofs binary to use instead of building one),
# RERO_VM_LOCK (see selftests/vm-run), RERO_BENCH_KERNEL=bench (make bench: boot
# the bench kernel, without KASAN, lockdep and kmemleak, and its module, from
# make bench-module; the default is the test kernel and rerofs.ko).
# The guest is software-emulated here (no usable KVM): absolute figures are
# small; compare the ratios measured in the same run. A full run (make bench, bench kernel) takes about 40 min in the guest.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=1024 files=0 reps=3 rand_ops= blobs=1000 smoke=0 out=$TOP/build/bench-read profile=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 size=4 files=120 reps=1 blobs=40 ;;
	--size) size=$2; shift ;;
	--files) files=$2; shift ;;
	--reps) reps=$2; shift ;;
	--rand-ops) rand_ops=$2; shift ;;
	--blobs) blobs=$2; shift ;;
	--out) out=$2; shift ;;
	--profile) profile=$2; shift ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/read.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
for v in size files reps blobs ${rand_ops:+rand_ops}; do
	case ${!v} in ''|*[!0-9]*) echo "bench/read.sh: --${v/_/-} needs a number" >&2; exit 2 ;; esac
done
[ "$size" -ge 1 ] && [ "$reps" -ge 1 ] && [ "$blobs" -ge 1 ] ||
	{ echo "bench/read.sh: --size, --reps and --blobs must be at least 1" >&2; exit 2; }
# A bad --profile fails now, not in the guest after the measurements.
[ -z "$profile" ] || python3 "$TOP/bench/guest-bench.py" --check-profile "$profile" || exit 2
[ -n "$rand_ops" ] || rand_ops=$((size * 256 / 8 > 8192 ? 8192 : size * 256 / 8))
[ $smoke = 1 ] && rand_ops=64
sha_mib=$((size < 64 ? 8 : 64))
. "$TOP/scripts/env.sh"
if ! command -v veritysetup >/dev/null; then
	echo "bench/read.sh: installing cryptsetup-bin (veritysetup)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cryptsetup-bin >/dev/null
fi
rerofs=${RERO_BIN:-$TOP/tools/target/release/rerofs}
if [ -z "${RERO_BIN:-}" ]; then
	(cd "$TOP/tools" && "${RERO_CARGO:-cargo}" build -q --release) ||
		{ echo "bench/read.sh: cannot build the rerofs tools" >&2; exit 1; }
fi
case ${RERO_BENCH_KERNEL:-test} in
test) vmk=() module=$TOP/rerofs.ko variant=test ;;
bench) vmk=(--bench) module=$TOP/build/bench-module/rerofs.ko variant=bench ;;
*) echo "bench/read.sh: RERO_BENCH_KERNEL is test or bench, not $RERO_BENCH_KERNEL" >&2; exit 2 ;;
esac
[ -f "$module" ] || { echo "bench/read.sh: build the module first (make $([ $variant = bench ] && echo bench-module || echo module))" >&2; exit 1; }
src=$(rero_ksrc)
rero_ksrc_unpacked || { echo "bench/read.sh: no kernel source tree in $src (make kernel)" >&2; exit 1; }

rm -rf "$out" && mkdir -p "$out/data/big" "$out/disk/blobs" "$out/disk/blobs1k" "$out/layers" "$out/flat1k"
echo "bench: $size MiB of large files, tree of ${files/#0/all} files from $src, $blobs blobs, $reps repetition(s)" >&2
# Large files of 1..8 MiB (a few smaller ones for --smoke), random contents.
left=$((size * 1024 * 1024)) i=0
while [ $left -gt 0 ]; do
	n=$(( (i % 8 + 1) * 1024 * 1024 ))
	[ $smoke = 1 ] && n=$(( (i % 4 + 1) * 512 * 1024 + 1234 ))
	[ $n -gt $left ] && n=$left
	mkdir -p "$out/data/big/d$((i % 16))"
	head -c "$n" /dev/urandom >"$out/data/big/d$((i % 16))/f$i"
	left=$((left - n)) i=$((i + 1))
done
# The small-file tree: regular files only, in sorted order, the first --files.
(cd "$src" && find include Documentation tools fs net sound -type f | LC_ALL=C sort |
	awk -v n="$files" 'n == 0 || NR <= n') >"$out/tree.list"
mkdir -p "$out/data/tree"
tar -C "$src" -cf - -T "$out/tree.list" | tar -C "$out/data/tree" -xf -
# The mount image: one one-file layer per blob (4 KiB of random data each, so
# that no two blobs are the same), and the same files in one directory.
for ((i = 0; i < blobs; i++)); do
	l=$(printf '%s/layers/l%05d' "$out" "$i")
	mkdir "$l"
	head -c 4096 /dev/urandom >"$l/f$i"
	cp "$l/f$i" "$out/flat1k/"
done
d=$out/disk
"$rerofs" mkfs -q --chunk-size 65536 --blob-dir "$d/blobs" "$d/meta.img" "$out/data"
"$rerofs" mkfs -q --blob-per-layer --blob-dir "$d/blobs1k" "$d/meta1k.img" "$out"/layers/l*
[ "$(ls "$d/blobs1k" | wc -l)" = "$blobs" ] ||
	{ echo "bench/read.sh: the mount image has $(ls "$d/blobs1k" | wc -l) blobs, not $blobs" >&2; exit 1; }
# Its blobs in slot order, for the C driver's device= options (erofs-blobs).
"$rerofs" inspect --devices "$d/meta1k.img" >"$d/meta1k.devices"
# Encrypted (keyed convergent encryption, verified): the same trees. The image
# key goes to the guest's keyring from the disk (a benchmark's throwaway key).
mkdir -p "$out/keys"
"$rerofs" keygen "$out/keys/domain.key" >/dev/null
"$rerofs" keygen "$d/image.key" >/dev/null
enc=(--encrypt --domain-key "$out/keys/domain.key" --image-key "$d/image.key")
"$rerofs" mkfs -q --chunk-size 65536 "${enc[@]}" --blob-dir "$d/blobs-enc" "$d/meta-enc.img" "$out/data"
"$rerofs" mkfs -q --blob-per-layer "${enc[@]}" --blob-dir "$d/blobs1k-enc" "$d/meta1k-enc.img" "$out"/layers/l*
rm -rf "$out/keys"
# The key of the dm-crypt peer (aes-xts-plain64, 512-bit key).
head -c 64 /dev/urandom >"$d/dmcrypt.key"
for m in meta meta1k meta-enc meta1k-enc; do
	"$rerofs" digest "$d/$m.img" | cut -d' ' -f1 >"$d/$m.digest"
done
mkfs.erofs --quiet -T0 "$d/erofs.img" "$out/data"
mkfs.erofs --quiet -T0 "$d/erofs1k.img" "$out/flat1k"
for img in erofs erofs1k; do
	cp "$d/$img.img" "$d/$img-fsv.img"
	veritysetup format "$d/$img.img" "$d/$img.verity" | awk '/Root hash:/ {print $3}' >"$d/$img.roothash"
	[ -s "$d/$img.roothash" ] || { echo "bench/read.sh: veritysetup format gave no root hash" >&2; exit 1; }
done
# The guest hashes this file (fs-verity enable) to measure the kernel's SHA-256.
head -c "$((sha_mib * 1024 * 1024))" /dev/urandom >"$d/sha.bin"
need=$(du -sm "$d" | cut -f1)
# Room for the guest's ciphertext copies of the two erofs images (the dm-crypt
# peer is made in the guest, through dm-crypt itself) and their hash trees.
mkfs.ext4 -q -F -O verity -b 4096 \
	-d "$d" "$out/disk.ext4" "$((need * 16 / 10 + 64))M"
rm -rf "$d" "$out/data" "$out/layers" "$out/flat1k"

mem=2G
[ "$size" -gt 512 ] && mem=4G
echo "bench: booting the $variant kernel ($mem, kmemleak=off) with the images on a virtio disk" >&2
set +e
# kmemleak=off: the benchmark checks no leaks (the selftests do), and kmemleak's
# tracking of every allocation costs a guest about a quarter of its time, more to
# a contender that allocates more. KASAN and lockdep stay (the kernel has them).
# The smoke run (inside make check, beside the selftest guests) boots one vCPU:
# it checks that every contender mounts, reads and agrees, not how fast, and a
# second vCPU costs the busy host CPU for nothing (see selftests/run.sh).
cpus=2
[ $smoke = 1 ] && cpus=1
"$TOP/selftests/vm-run" "${vmk[@]}" --memory "$mem" --cpus "$cpus" --disk "$out/disk.ext4" --append kmemleak=off \
	--idle-timeout 1800 --timeout 43200 -- \
	env RERO_BENCH_PROFILE="$profile" RERO_BENCH_VARIANT="$variant" bash "$TOP/bench/guest-read.sh" "$reps" "$rand_ops" "$sha_mib" | tee "$out/guest.txt" | grep --line-buffered -v '^RESULT '
rc=${PIPESTATUS[0]}
set -e
rm -f "$out/disk.ext4"
[ "$rc" = 0 ] || { echo "bench/read.sh: the guest run failed (exit status $rc)" >&2; exit "$rc"; }
python3 "$TOP/bench/report.py" "$out/guest.txt" "$TOP/build/bench" "$([ $smoke = 1 ] && echo smoke || echo full)"
