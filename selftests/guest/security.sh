#!/bin/bash
# rerofs security selftests (issue 8: what a hostile image must not be able to
# do), guest side; sourced by selftests/guest/main.sh, whose ktest/step/helpers
# it uses. Images are crafted here, in the guest's tmpfs, from the rerofs mkfs
# images selftests/run.sh made ($DATA/verity: noverity/ with two data blobs,
# unsigned.img with the signed/blobs) by selftests/mksecurity.py, and the nested
# images from $DATA/security (run.sh).

MKS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/mksecurity.py

s_setup() { # a writable copy of the --no-verity image and its blobs
	S=$WORK/img/s
	mkdir -p "$S/blobs" "$S/mnt" && cp "$DATA/verity/noverity/meta.img" "$S/meta.img" &&
		cp "$DATA/verity/noverity/blobs/"* "$S/blobs/" || return 1
	# Slot order: the tags as the image lists them.
	mapfile -t S_TAGS < <("${PY[@]}" - "$S/meta.img" <<'PY'
import struct, sys
img = open(sys.argv[1], "rb").read()
n, off = struct.unpack_from("<HH", img, 1024 + 0x56)
for i in range(n):
    p = off * 128 + i * 128
    print(img[p:p + 64].rstrip(b"\0").decode())
PY
)
}

# s_refused WHY-PATTERN IMG [OPTS]: the mount fails, promptly, and dmesg says why,
# with no kernel complaint.
s_refused() {
	local pat=$1 img=$2 opts=${3:-} dir=$S/mnt/x t0 rc
	require_rerofs || return 1
	mkdir -p "$dir"
	dmesg_mark
	t0=$EPOCHSECONDS
	timeout -k 5 60 mount -t rerofs -o "ro${opts:+,$opts}" "$img" "$dir"
	rc=$?
	dmesg_match -i rerofs
	if [ $rc = 0 ] || is_mounted "$dir"; then
		echo "mount succeeded but must be refused"
		umount "$dir" 2>/dev/null
		return 1
	fi
	[ $((EPOCHSECONDS - t0)) -le 20 ] || { echo "the refusal took $((EPOCHSECONDS - t0)) s (hung in open?)"; return 1; }
	dmesg_match -q "$DMESG_BAD" && { echo "the kernel complained"; return 1; }
	dmesg_match -q "$pat" || { echo "dmesg does not say: $pat"; return 1; }
}

# s_tag_refused WHY-PATTERN TAG [OPTS]: slot 0 of the image names TAG; refused.
# The mount runs in the blob directory, so that the other slots' tags (blob
# names) resolve as paths there: without the fix such an image mounts.
s_tag_refused() {
	local pat=$1 tag=$2 opts=${3:-}
	"${PY[@]}" "$MKS" tags "$S/meta.img" "$S/tagged.img" "$tag" || return 1
	(cd "$S/blobs" && s_refused "$pat" "$S/tagged.img" "$opts")
}

s_tag_loop() { # slot 0 names a loop device over the right blob: refused without options
	loop_setup "$S/blobs/${S_TAGS[0]}" || return 1
	echo "slot 0 tag: $LOOPDEV"
	s_tag_refused 'blobdir=DIR' "$LOOPDEV"
}

s_tag_dotdot() { # slot 0 names ../<copy of the right blob>
	cp "$S/blobs/${S_TAGS[0]}" "$S/blob0-copy" || return 1
	s_tag_refused 'blobdir=DIR' "../blob0-copy"
}

s_tag_fifo() { # slot 0 names a FIFO: refused at once, and the FIFO is never opened
	local fifo=$S/fifo w rc
	rm -f "$fifo" && mkfifo "$fifo" || return 1
	# A writer waiting on the FIFO: its open succeeds only if someone opens it to read.
	timeout 8 bash -c 'exec 3>"$1"' _ "$fifo" &
	w=$!
	s_tag_refused 'blobdir=DIR' "$fifo"
	rc=$?
	wait "$w"
	[ $? = 124 ] || { echo "the FIFO was opened for reading (the writer got through)"; return 1; }
	return $rc
}

s_blobdir_fifo() { # under blobdir=, a FIFO with a blob's name: refused at once
	local d=$S/fifodir
	mkdir -p "$d" && cp "$S/blobs/"* "$d/" && rm -f "$d/${S_TAGS[0]}" && mkfifo "$d/${S_TAGS[0]}" || return 1
	s_refused 'not a regular file or block device' "$S/meta.img" "blobdir=$d"
}

s_blobdir_symlink() { # under blobdir=, a blob's name is a symlink to a loop device over the right blob
	local d=$S/linkdir
	loop_setup "$S/blobs/${S_TAGS[0]}" || return 1
	mkdir -p "$d" && cp "$S/blobs/"* "$d/" && rm -f "$d/${S_TAGS[0]}" && ln -s "$LOOPDEV" "$d/${S_TAGS[0]}" || return 1
	ls -l "$d/${S_TAGS[0]}"
	s_refused 'symlink' "$S/meta.img" "blobdir=$d"
}

s_many() { # 65,535 slots all naming one blob under blobdir=: refused, no WARN, memory back
	local before after
	"${PY[@]}" "$MKS" many "$S/meta.img" "$S/many.img" 65535 || return 1
	ls -l "$S/many.img"
	before=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
	s_refused 'same blob' "$S/many.img" "blobdir=$S/blobs" || return 1
	after=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
	echo "MemAvailable: $before kB before, $after kB after"
}

s_huge() { # a verified image whose slot names a 16 TiB sparse blob: mounts within a memory bound
	local out off name before after used d=$S/huge
	mkdir -p "$d/blobs" || return 1
	out=$("${PY[@]}" "$MKS" huge "$DATA/verity/unsigned.img" "$d/meta.img" "$d/trailer") || return 1
	read -r off name <<<"$out"
	cp "$DATA/verity/signed/blobs/"* "$d/blobs/" || return 1
	truncate -s $((off + 4096)) "$d/blobs/$name" &&
		dd if="$d/trailer" of="$d/blobs/$name" bs=4096 seek=$((off / 4096)) conv=notrunc status=none || return 1
	ls -ls "$d/blobs/$name"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	before=$(awk '/^(Slab|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo)
	mount_rerofs "$d/meta.img" "$d/mnt" "blobdir=$d/blobs" || return 1
	after=$(awk '/^(Slab|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo)
	used=$((after - before))
	echo "slab + vmalloc grew by $used kB at mount (bound: 16384 kB; the blob's tree has $(( (off - 0xFFFFFFFF * 4096) / 4096 )) blocks)"
	do_umount "$d/mnt" || return 1
	[ "$used" -le 16384 ]
}

s_noslotroot() { # slots without root hashes: each blob's trailer is read at mount, a damaged one refuses it
	local d=$S/nsr name size off
	mkdir -p "$d/blobs" "$d/mnt" || return 1
	"${PY[@]}" "$MKS" noslotroot "$DATA/verity/unsigned.img" "$d/meta.img" || return 1
	cp "$DATA/verity/signed/blobs/"* "$d/blobs/" || return 1
	mount_rerofs "$d/meta.img" "$d/mnt" "blobdir=$d/blobs" || return 1
	timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" readall "$d/mnt" "$DATA/verity/ref.json" || { umount "$d/mnt"; return 1; }
	do_umount "$d/mnt" || return 1
	# One byte of the root hash in a blob's descriptor (trailer: the last block).
	name=$(ls "$d/blobs" | head -n 1)
	size=$(stat -c %s "$d/blobs/$name")
	off=$((size - 4096 + 20))
	printf '\xff' | dd of="$d/blobs/$name" bs=1 seek=$off conv=notrunc status=none || return 1
	s_refused 'not the one its slot names' "$d/meta.img" "blobdir=$d/blobs"
}

s_nested() { # three nested file-backed mounts: the third is past FILESYSTEM_MAX_STACK_DEPTH
	local n=$S/nest
	mkdir -p "$n/a" "$n/b" && cp "$DATA/security/outer.img" "$n/outer.img" || return 1
	mount_rerofs "$n/outer.img" "$n/a" || return 1
	mount_rerofs "$n/a/mid.img" "$n/b" || { umount "$n/a"; return 1; }
	echo "two levels mount; the third:"
	s_refused 'stacking depth' "$n/b/inner.img"
	local rc=$?
	umount "$n/b" "$n/a"
	return $rc
}

s_remount() { # a remount may repeat rerofs's options, not change them
	local m=$S/mnt/rm rc=0
	mount_rerofs "$S/meta.img" "$m" "blobdir=$S/blobs" || return 1
	dmesg_mark
	if mount -o remount,ro,verity=off "$m" 2>&1; then
		echo "remount changing verity= succeeded"; rc=1
	fi
	dmesg_match -q 'remount cannot change verity=' || { echo "dmesg does not say why"; rc=1; }
	if mount -o remount,ro,blobdir=/tmp "$m" 2>&1; then
		echo "remount changing blobdir= succeeded"; rc=1
	fi
	mount -o remount,ro,blobdir="$S/blobs" "$m" || { echo "remount repeating blobdir= failed"; rc=1; }
	mnt_show "$m"
	[[ ,$MNT_OPTS, == *",blobdir=$S/blobs,"* ]] || rc=1
	umount "$m" || rc=1
	return $rc
}

s_readahead() { # the super block has a bdi of its own: reading 4 KiB reads ahead
	local m=$S/mnt/ra f pages
	mount_rerofs "$S/meta.img" "$m" "blobdir=$S/blobs" || return 1
	f=$m/dup1
	[ -f "$f" ] || { echo "no $f"; umount "$m"; return 1; }
	dd if="$f" of=/dev/null bs=4096 count=1 status=none
	pages=$(fincore -b -n -o PAGES "$f" | awk '{ print $1 }')
	echo "after reading 4 KiB of $(stat -c %s "$f") bytes: $pages pages cached"
	umount "$m"
	[ "${pages:-0}" -gt 1 ]
}

s_short_blob() { # a blob shorter than its slot: EUCLEAN (EFSCORRUPTED), as other damage
	local d=$S/short out
	mkdir -p "$d" && cp "$S/blobs/"* "$d/" || return 1
	truncate -s 4096 "$d/${S_TAGS[0]}" || return 1
	mkdir -p "$S/mnt/short"
	out=$(mount -t rerofs -o ro,blobdir="$d" "$S/meta.img" "$S/mnt/short" 2>&1)
	echo "$out"
	is_mounted "$S/mnt/short" && { umount "$S/mnt/short"; return 1; }
	echo "$out" | grep -q 'Structure needs cleaning'
}

s_evict() { # verified blocks dropped under pressure are read and verified again
	local m=$S/mnt/ev e=$S/ev d before after
	d=$(cat "$DATA/verity/image.digest") || return 1
	# A copy in the guest's tmpfs, as the other groups use: drop_caches then drops
	# the mount's verified pages and not the blobs', so each block is read from
	# the blob and verified again. (From the 9p share this one test took 44 s of
	# make check: rerofs's direct reads of a 9p file are each a round trip to the
	# host, about 3x slower than buffered ones here, and the page cache of the
	# blobs went with the drop.)
	mkdir -p "$e/blobs" && cp "$DATA/verity/unsigned.img" "$e/meta.img" &&
		cp "$DATA/verity/signed/blobs/"* "$e/blobs/" || return 1
	mount_rerofs "$e/meta.img" "$m" "blobdir=$e/blobs,digest=$d" || return 1
	timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" readall "$m" "$DATA/verity/ref.json" || { umount "$m"; return 1; }
	before=$(awk '/^Cached:/ { print $2 }' /proc/meminfo)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	after=$(awk '/^Cached:/ { print $2 }' /proc/meminfo)
	echo "page cache after reading everything: $before kB; after drop_caches: $after kB (the cache of verified blocks is page cache and goes with it)"
	timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" readall "$m" "$DATA/verity/ref.json" || { umount "$m"; return 1; }
	echo "read again after the drop: every block verified again, all correct"
	do_umount "$m" && rm -rf "$e"
}

security_tests() {
	step s_setup
	ktest "security: no device=/blobdir=: a slot naming a loop device is refused" s_tag_loop
	ktest "security: no device=/blobdir=: a slot naming ../<path> is refused" s_tag_dotdot
	ktest "security: no device=/blobdir=: a slot naming /proc/kcore is refused" s_tag_refused 'blobdir=DIR' /proc/kcore
	ktest "security: no device=/blobdir=: a slot naming a FIFO is refused at once, the FIFO never opened" s_tag_fifo
	ktest "security: blobdir=: a FIFO with a blob's name is refused at once" s_blobdir_fifo
	ktest "security: blobdir=: a symlink with a blob's name (to a loop device) is refused" s_blobdir_symlink
	ktest "security: 65,535 slots naming one blob: refused, no WARN" s_many
	ktest "security: a verified slot naming a 16 TiB sparse blob mounts within 16 MiB of kernel memory" s_huge
	ktest "security: slots without root hashes (older images): trailers read at mount, a damaged one refuses it (EBADMSG)" s_noslotroot
	ktest "security: three nested file-backed mounts: the third refused (stacking depth)" s_nested
	ktest "security: remount cannot change verity=/blobdir=, may repeat them" s_remount
	ktest "security: reading 4 KiB of a file reads ahead (the super block has a bdi)" s_readahead
	ktest "security: a blob shorter than its slot: EUCLEAN, as other damage" s_short_blob
	ktest "security: verified blocks dropped with the page cache (drop_caches) are verified again, reads stay correct" s_evict
	step rm -rf "$WORK/img/s"
}
