#!/bin/bash
# rerofs fault and load selftests (issue 13: "Faults" and "Load"), guest side;
# sourced by selftests/guest/main.sh, whose ktest/step/helpers it uses. The
# syscalls run in selftests/guest/faults.py (one process per test).
#
# - fail-nth: the N-th allocation (failslab, fail_page_alloc) of a mount of the
#   verified two-blob image ($DATA/verity, blobdir= and digest=), a lookup +
#   lstat, a read, a readdir and a getxattr on its mount fails, for N = 1, 2, ...
#   (a sample in make check, every point with RERO_FAULTS_LONG=1);
# - dm: slot 0's blob on a loop device behind a device-mapper table (an error
#   segment, then dm-flakey corrupting every read bio there), mounted with
#   device=; the table reloaded linear, on the same mount;
# - load: 8 readers with drop_caches in a loop while a second image is mounted
#   and unmounted ($DATA/faults/load: 32 MiB in two blobs); a reader in a cgroup
#   whose memory.max is far below the data; umount of a busy mount (EBUSY) and
#   lazy umount; rmmod + insmod 30 times (100 with RERO_FAULTS_LONG=1).
# Environment: RERO_FAULTS_LONG=1 (every fault point, 60 s of load, 100 module
# load cycles).

FPY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/faults.py
F=

f_long() { [ "${RERO_FAULTS_LONG:-0}" = 1 ]; }

f_setup() { # copies of the images in the tmpfs
	F=$WORK/img/f
	mkdir -p "$F/v/blobs" "$F/load/blobs" "$F/nv/blobs" "$F/mnt" &&
		cp "$DATA/verity/unsigned.img" "$F/v/meta.img" && cp "$DATA/verity/signed/meta.img" "$F/v/signed.img" && cp "$DATA/verity/signed/blobs/"* "$F/v/blobs/" &&
		cp "$DATA/faults/load/meta.img" "$F/load/meta.img" && cp "$DATA/faults/load/blobs/"* "$F/load/blobs/" &&
		cp "$DATA/verity/noverity/meta.img" "$F/nv/meta.img" && cp "$DATA/verity/noverity/blobs/"* "$F/nv/blobs/" ||
		return 1
	F_DIGEST=$(<"$DATA/verity/image.digest")
	F_LDIGEST=$(<"$DATA/faults/load/image.digest")
	mapfile -t F_SLOTS <"$DATA/verity/devices.list"
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	F_MARK_ALL=
}

# f_nth OP: faults.py nth on the verified mount (mount: of the image itself)
f_nth() {
	local op=$1 rc
	require_rerofs || return 1
	[ -d /sys/kernel/debug/failslab ] || { echo "no /sys/kernel/debug/failslab (CONFIG_FAILSLAB, debugfs)"; return 1; }
	dmesg_mark
	if [ "$op" = mount ]; then
		"${PY[@]}" "$FPY" nth mount "$F/mnt/nth" "$DATA/verity/ref.json" --meta "$F/v/meta.img" \
			--blobdir "$F/v/blobs" --opts "digest=$F_DIGEST" $(f_long && echo --long)
	elif [ "$op" = mount-signed ]; then
		# verity=require: a fault must never let the mount through as merely
		# self-consistent; it is refused or the signature is verified. Refused
		# with ENOMEM, or EKEYREJECTED: the kernel's pkcs7_validate_trust_one()
		# turns every error of verify_signature() but ENOMEM into EKEYREJECTED,
		# and some allocation failures in the crypto API surface as other errors
		# (the long run met it at 2 of 270 points); rerofs passes the error of
		# verify_pkcs7_signature() through.
		"${PY[@]}" "$FPY" nth mount "$F/mnt/nth" "$DATA/verity/ref.json" --meta "$F/v/signed.img" \
			--blobdir "$F/v/blobs" --opts "verity=require" --allow EKEYREJECTED $(f_long && echo --long)
	else
		is_mounted "$F/mnt/v" || { echo "$F/mnt/v is not mounted"; return 1; }
		"${PY[@]}" "$FPY" nth "$op" "$F/mnt/v" "$DATA/verity/ref.json" $(f_long && echo --long)
	fi
	rc=$?
	f_kernel_quiet || rc=1
	return $rc
}

f_nth_signed() { # the test CA's certificate in .rerofs, then f_nth mount-signed
	command -v keyctl >/dev/null || { echo "keyctl not found"; return 1; }
	require_rerofs || return 1
	keyctl padd asymmetric "" %:.rerofs <"$DATA/verity/ca.der" >/dev/null || { echo "cannot add the test CA to .rerofs"; return 1; }
	f_nth mount-signed
}

f_kernel_quiet() { # no kernel complaint since dmesg_mark; what rerofs said, counted
	local l n=0
	if dmesg_match "$DMESG_BAD"; then echo "the kernel complained"; return 1; fi
	for l in "${K_TEXT[@]}"; do [[ $l == *rerofs* ]] && n=$((n + 1)); done
	echo "kernel log: no BUG/WARNING/KASAN/lockdep report; $n rerofs lines"
	for l in "${K_TEXT[@]}"; do [[ $l == *rerofs* ]] && echo "  $l"; done | head -5
	return 0
}

f_mount_v() { mount_rerofs "$F/v/meta.img" "$F/mnt/v" "blobdir=$F/v/blobs,digest=$F_DIGEST"; }

f_readall() { # MNT REF [faults.py readall options]
	local m=$1 ref=$2
	shift 2
	is_mounted "$m" || { echo "$m is not mounted"; return 1; }
	"${PY[@]}" "$FPY" readall "$m" "$ref" "$@"
}

# ---------------------------------------------------------------- dm
F_DM=rerofs-faults
f_dm_table() { # KIND: linear | error | flakey, over F_LOOP; loads it (suspend/load/resume once created)
	local kind=$1 t
	case $kind in
	linear) t="0 $F_SECT linear $F_LOOP 0" ;;
	error) t="0 $F_A linear $F_LOOP 0
$F_A $F_B error
$((F_A + F_B)) $((F_SECT - F_A - F_B)) linear $F_LOOP $((F_A + F_B))" ;;
	flakey) t="0 $F_A linear $F_LOOP 0
$F_A $F_B flakey $F_LOOP $F_A 0 3600 2 random_read_corrupt 1000000000
$((F_A + F_B)) $((F_SECT - F_A - F_B)) linear $F_LOOP $((F_A + F_B))" ;;
	esac
	if [ -e "/dev/mapper/$F_DM" ]; then
		dmsetup suspend "$F_DM" && dmsetup load "$F_DM" <<<"$t" && dmsetup resume "$F_DM" || return 1
	else
		dmsetup create --noudevsync --readonly "$F_DM" <<<"$t" || return 1
		dmsetup mknodes "$F_DM" 2>/dev/null
		[ -b "/dev/mapper/$F_DM" ] || { echo "no /dev/mapper/$F_DM"; return 1; }
	fi
	dmsetup table "$F_DM"
}

f_dm_setup() { # slot 0's blob on a loop device; the files with blocks in [A, A+B) (sectors of the blob)
	local blob=$F/v/blobs/${F_SLOTS[0]} data
	command -v dmsetup >/dev/null || { echo "no dmsetup in the guest (scripts/setup-host.sh installs it)"; return 1; }
	loop_setup "$blob" || return 1
	F_LOOP=$LOOPDEV
	F_SECT=$(($(stat -c %s "$blob") / 512))
	# The data area (before the Merkle tree): from the device table's slot blocks.
	data=$("${PY[@]}" - "$F/v/meta.img" <<'PY'
import struct, sys
img = open(sys.argv[1], "rb").read()
n, off = struct.unpack_from("<HH", img, 1024 + 0x56)
print(struct.unpack_from("<I", img, off * 128 + 64)[0] * 4096)
PY
) || return 1
	# The bad range: the middle third of the data area (whole 4 KiB blocks).
	F_A=$((data / 3 / 4096 * 8))
	F_B=$((data / 3 / 4096 * 8))
	echo "slot 0 blob: $F_LOOP, $F_SECT sectors, data area $((data / 512)) sectors; bad range: sectors $F_A..$((F_A + F_B - 1))"
	# What must fail: the files a copy with that range zeroed fails to read (EIO).
	mkdir -p "$F/z/blobs" && cp "$F/v/blobs/"* "$F/z/blobs/" &&
		dd if=/dev/zero of="$F/z/blobs/${F_SLOTS[0]}" bs=512 seek=$F_A count=$F_B conv=notrunc status=none || return 1
	mount_rerofs "$F/v/meta.img" "$F/mnt/z" "blobdir=$F/z/blobs,digest=$F_DIGEST" || return 1
	"${PY[@]}" "$FPY" readall "$F/mnt/z" "$DATA/verity/ref.json" --save "$F/expected-eio" >/dev/null
	umount "$F/mnt/z" && rm -rf "$F/z" || return 1
	[ -s "$F/expected-eio" ] || { echo "no file has blocks in the bad range"; return 1; }
	echo "with the range zeroed, $(wc -l <"$F/expected-eio") files fail (EIO): the expected set"
	f_dm_table error || return 1
	dmesg_mark
	mount_rerofs "$F/v/meta.img" "$F/mnt/dm" "device=/dev/mapper/$F_DM,device=$F/v/blobs/${F_SLOTS[1]},digest=$F_DIGEST"
}

f_dm_error() { # EIO on exactly the expected files, the others correct
	f_readall "$F/mnt/dm" "$DATA/verity/ref.json" --expect-eio "$F/expected-eio" || return 1
	dmesg_match -q 'I/O error|rerofs' && dmesg_match 'I/O error' | head -3
	f_kernel_quiet
}

f_dm_reload() { # [drop]: reload linear; everything reads correctly (drop: after
	# drop_caches, the files that failed: the others were just read right)
	f_dm_table linear || return 1
	if [ "${1:-}" = drop ]; then
		f_readall "$F/mnt/dm" "$DATA/verity/ref.json" --drop --only "$F/expected-eio"
	else
		f_readall "$F/mnt/dm" "$DATA/verity/ref.json"
	fi
}

f_dm_flakey() { # every read bio in the range gets a random byte: EIO on some files, no wrong data
	local rc n
	f_dm_table flakey || return 1
	dmesg_mark
	# Drop the block device's page cache: the reads must go through dm-flakey.
	echo 3 >/proc/sys/vm/drop_caches
	f_readall "$F/mnt/dm" "$DATA/verity/ref.json" --expect-eio "$F/expected-eio" --save "$F/flakey-eio"
	rc=$?
	n=$(wc -l <"$F/flakey-eio")
	# Only one byte per bio is changed: files whose blocks come in the tail of a
	# larger bio may read fine. What must hold: no wrong data, some EIO, none
	# outside the range.
	if grep -vxFf "$F/expected-eio" "$F/flakey-eio"; then echo "EIO outside the corrupted range"; return 1; fi
	[ "$n" -gt 0 ] || { echo "no file failed: the corruption was not caught"; return 1; }
	echo "$n files EIO (hash mismatch), none outside the range; no wrong data (exit status $rc of the exact-set check is informational)"
	dmesg_match -q 'hash mismatch' || { echo "rerofs did not log a hash mismatch"; return 1; }
	f_kernel_quiet
}

f_dm_teardown() {
	local rc=0
	do_umount "$F/mnt/dm" || rc=1
	dmsetup remove --noudevsync "$F_DM" || rc=1
	return $rc
}

# ---------------------------------------------------------------- load
f_load() {
	local s=15
	f_long && s=60
	mount_rerofs "$F/load/meta.img" "$F/mnt/load" "blobdir=$F/load/blobs,digest=$F_LDIGEST" || return 1
	dmesg_mark
	"${PY[@]}" "$FPY" load "$F/mnt/load" "$DATA/faults/load/ref.json" --meta2 "$F/nv/meta.img" \
		--blobdir2 "$F/nv/blobs" --mnt2 "$F/mnt/second" --readers 8 --seconds $s || return 1
	f_kernel_quiet
}

f_memcg() { # a reader under memory.max = 12 MiB reads 32 MiB
	local cg=/sys/fs/cgroup rc
	is_mounted "$F/mnt/load" || { echo "$F/mnt/load is not mounted"; return 1; }
	if ! [ -f $cg/cgroup.controllers ]; then
		mkdir -p $cg && mount -t cgroup2 none $cg || { echo "cannot mount cgroup2 on $cg"; return 1; }
	fi
	grep -qw memory $cg/cgroup.controllers || { echo "no memory controller: $(<$cg/cgroup.controllers)"; return 1; }
	echo +memory >$cg/cgroup.subtree_control || return 1
	mkdir -p $cg/rerofs-faults && echo $((12 << 20)) >$cg/rerofs-faults/memory.max || return 1
	dmesg_mark
	"${PY[@]}" "$FPY" memcg $cg/rerofs-faults "$F/mnt/load" "$DATA/faults/load/ref.json"
	rc=$?
	rmdir $cg/rerofs-faults
	f_kernel_quiet || rc=1
	return $rc
}

f_busy() { # umount of a mount with an open file: EBUSY; umount -l: gone, the file still reads
	local m=$F/mnt/load rel=a/f03 out rc=0 got want refs
	exec {fd}<"$m/$rel" || return 1
	out=$(umount "$m" 2>&1)
	echo "umount with $rel open: $out"
	is_mounted "$m" || { echo "umount succeeded with a file open"; exec {fd}<&-; return 1; }
	[[ $out == *busy* ]] || { echo "not EBUSY"; rc=1; }
	umount -l "$m" || { echo "umount -l failed"; exec {fd}<&-; return 1; }
	is_mounted "$m" && { echo "still mounted after umount -l"; rc=1; }
	got=$(sha256sum <"/proc/self/fd/$fd") && got=${got:0:64}
	want=$(<"$DATA/faults/load/ref.json")
	[[ $want =~ \"$rel\":\ \{[^}]*\"sha256\":\ \"([0-9a-f]{64})\" ]] && want=${BASH_REMATCH[1]} || want=?
	if [ "$got" = "$want" ]; then
		echo "after umount -l the open file still reads correctly (sha256 ${got:0:16}...)"
	else
		echo "after umount -l the open file reads sha256 $got, want $want"; rc=1
	fi
	if rmmod rerofs 2>/dev/null; then
		echo "rmmod succeeded while a lazily unmounted super block is in use"; rc=1; insmod "$MODULE"
	fi
	exec {fd}<&-
	# The last reference is gone: the super block is shut down, the module free.
	refs=$(grep '^rerofs ' /proc/modules | cut -d' ' -f3)
	echo "rmmod refused while the file was open; module refcount after closing it: $refs"
	[ "$refs" = 0 ] || rc=1
	return $rc
}

f_modcycle() { # N: rmmod + insmod N times, a mount every tenth
	local n=$1
	no_mounts_left || return 1
	cp "$MODULE" "$F/rerofs.ko" || return 1
	dmesg_mark
	"${PY[@]}" "$FPY" modcycle "$F/rerofs.ko" "$n" --mount "$F/nv/meta.img" --mnt "$F/mnt/mod" --opts "blobdir=$F/nv/blobs"
	local rc=$?
	module_loaded || { echo "rerofs is not loaded at the end"; insmod "$MODULE"; rc=1; }
	f_kernel_quiet || rc=1
	return $rc
}

f_group_quiet() { # nothing since the group started
	DMESG_MARK=$F_MARK_ALL
	f_kernel_quiet
}

faults_tests() {
	# rmmod + insmod: state a load leaves behind (a slab cache, a keyring, a
	# registration) fails the second load already; the cycles beyond the first
	# few only repeat it, and cost 0.6 s each in the guest.
	local n=30
	f_long && n=100
	step f_setup
	step dmesg_mark
	step eval 'F_MARK_ALL=$DMESG_MARK'
	ktest "faults: fail-nth: each allocation of a mount of a verified two-blob image (blobdir=, digest=) failed in turn: ENOMEM, no mount left, then it mounts" f_nth mount
	ktest "faults: fail-nth: each allocation of a mount of the signed image (verity=require, PKCS#7 against .rerofs) failed in turn: ENOMEM (or EKEYREJECTED, from the kernel's PKCS#7 code), never a mount without the signature verified" f_nth_signed
	ktest "faults: mount the verified image (blobdir=, digest=)" f_mount_v
	ktest "faults: fail-nth: lookup + lstat: ENOMEM or right, then right" f_nth stat
	ktest "faults: fail-nth: read (after drop_caches): ENOMEM/EIO or right data, then right data" f_nth read
	ktest "faults: fail-nth: readdir: ENOMEM or every entry, then every entry" f_nth readdir
	ktest "faults: fail-nth: getxattr: ENOMEM or the right value, then the right value" f_nth getxattr
	ktest "faults: after the faults, every file of the mount reads correctly" f_readall "$F/mnt/v" "$DATA/verity/ref.json" --drop
	ktest "faults: umount" do_umount "$F/mnt/v"
	ktest "faults: dm: slot 0's blob behind a dm table with an error segment, mounted with device=" f_dm_setup
	ktest "faults: dm: EIO on exactly the files with blocks in the error segment, the others correct" f_dm_error
	ktest "faults: dm: table reloaded without the error segment: the same mount reads everything correctly (no failed block cached)" f_dm_reload
	ktest "faults: dm-flakey corrupting every read bio in the segment: EIO (hash mismatch), never wrong data" f_dm_flakey
	ktest "faults: dm: reloaded linear, caches dropped: the files that failed read right again" f_dm_reload drop
	ktest "faults: dm: umount, dmsetup remove" f_dm_teardown
	ktest "faults: load: 8 readers, drop_caches in a loop, a second image mounted and unmounted in a loop: all data right" f_load
	ktest "faults: load: a reader in a cgroup with memory.max 12 MiB reads 32 MiB correctly, not OOM-killed" f_memcg
	ktest "faults: load: umount with a file open is EBUSY; umount -l detaches, the file still reads; closing it frees the module" f_busy
	ktest "faults: load: rmmod + insmod $n times (a mount, walk and umount every tenth)" f_modcycle $n
	ktest "faults: no BUG/WARNING/KASAN/lockdep report during the whole group" f_group_quiet
	step rm -rf "$WORK/img/f"
}
