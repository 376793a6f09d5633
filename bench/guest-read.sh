#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/read.sh: /dev/vda is the ext4 disk bench/read.sh made.
set -euo pipefail
# veritysetup must not wait for udev to create /dev/mapper nodes.
export DM_DISABLE_UDEV=1
M=/tmp/bench
mkdir -p $M/disk $M/mnt
mount -t ext4 /dev/vda $M/disk
D=$M/disk
echo "# guest: $(uname -r), $(nproc) CPUs; sha256 driver: $(grep -A2 -m1 'name *: sha256$' /proc/crypto | awk '/driver/ {print $3}')"
echo "# fsverity enable erofs-fsv.img (builds its tree in the guest)"
fsverity enable --hash-alg=sha256 --block-size=4096 $D/erofs-fsv.img
insmod "$RERO_MODULE"

reader=$(cat <<'PY'
import os, random, sys, time
mode, root = sys.argv[1], sys.argv[2]
files = []
for d, _, fs in os.walk(root):
    files += [os.path.join(d, f) for f in sorted(fs)]
files.sort()
t0 = time.monotonic()
total = 0
if mode == "seq":
    for p in files:
        with open(p, "rb", buffering=0) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                total += len(b)
else:
    rng = random.Random(1)
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            blocks = os.fstat(fd).st_size // 4096
            for _ in range(max(1, blocks // 8)):
                b = os.pread(fd, 4096, rng.randrange(max(1, blocks)) * 4096)
                total += len(b)
        finally:
            os.close(fd)
dt = time.monotonic() - t0
print("%d %.6f" % (total, dt))
PY
)

up() { # NAME: mount peer NAME on $M/mnt
	case $1 in
	rerofs-off) mount -t rerofs -o ro,verity=off,blobdir=$D/blobs $D/meta.img $M/mnt ;;
	rerofs-on) mount -t rerofs -o ro,blobdir=$D/blobs,digest=$(cat $D/meta.digest) $D/meta.img $M/mnt ;;
	erofs-loop) mount -t erofs -o ro "$(losetup -r -f --show $D/erofs.img)" $M/mnt ;;
	erofs-dmverity)
		veritysetup open "$(losetup -r -f --show $D/erofs.img)" bench-verity \
			"$(losetup -r -f --show $D/erofs.verity)" "$(cat $D/erofs.roothash)"
		mount -t erofs -o ro /dev/mapper/bench-verity $M/mnt ;;
	erofs-fsverity)
		# mount(2) itself: mount(8) would put a loop device under a regular file.
		python3 -I -S -c 'import ctypes, sys
l = ctypes.CDLL(None, use_errno=True)
if l.mount(sys.argv[1].encode(), sys.argv[2].encode(), b"erofs", 1, None):
    raise SystemExit("mount: errno %d" % ctypes.get_errno())' $D/erofs-fsv.img $M/mnt ;;
	esac
}
down() {
	umount $M/mnt
	[ "$1" = erofs-dmverity ] && veritysetup close bench-verity
	losetup -D
}

peers="rerofs-off rerofs-on erofs-loop erofs-dmverity erofs-fsverity"
declare -A mbs
for p in $peers; do
	for mode in seq rand; do
		up $p
		sync
		echo 3 >/proc/sys/vm/drop_caches
		read -r bytes secs < <(python3 -I -S -c "$reader" $mode $M/mnt)
		down $p
		mbs[$p.$mode]=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
		echo "# $p $mode: $bytes bytes in $secs s"
	done
done
echo "# peer            seq MB/s   ratio   rand-4k MB/s   ratio   (ratio: to erofs-loop, same run)"
for p in $peers; do
	awk -v p=$p -v s=${mbs[$p.seq]} -v r=${mbs[$p.rand]} -v bs=${mbs[erofs-loop.seq]} -v br=${mbs[erofs-loop.rand]} \
		'BEGIN { printf "%-16s %9.1f %7.2f %14.1f %7.2f\n", p, s, s / bs, r, r / br }'
done
awk -v on=${mbs[rerofs-on.seq]} -v off=${mbs[rerofs-off.seq]} -v dv=${mbs[erofs-dmverity.seq]} \
	'BEGIN { printf "# rerofs verified / unverified (seq): %.2f; rerofs verified / dm-verity+erofs (seq): %.2f\n", on / off, on / dv }'
# Every peer read the same bytes: a last sanity check that they agree.
for p in rerofs-on erofs-fsverity; do
	up $p
	(cd $M/mnt && find . -type f -print0 | sort -z | xargs -0 sha256sum) >$M/$p.sums
	down $p
done
cmp -s $M/rerofs-on.sums $M/erofs-fsverity.sums && echo "# contents: rerofs-on == erofs-fsverity" ||
	{ echo "# contents DIFFER between rerofs-on and erofs-fsverity"; exit 1; }
rmmod rerofs
umount $D
