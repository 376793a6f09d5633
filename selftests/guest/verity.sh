#!/bin/bash
# rerofs verity selftests, guest side; sourced by selftests/guest/main.sh, whose
# ktest/step/helpers it uses. The data (made by selftests/run.sh) is in
# $DATA/verity: signed/{meta.img,blobs/} signed by the test CA (built into the
# kernel's builtin keyring, which rerofs does not use: trusted once ca.der is
# added to the .rerofs keyring), unsigned.img (same image, no signature),
# untrusted.img (signed by a self-signed key, untrusted.der: the restricted
# .rerofs keyring refuses it), leaf.img (signed by a key the test CA vouches for:
# trusted once leaf.der is added to .rerofs), stripped.img (signature removed),
# fsverity-signed.img (the signature `fsverity sign` makes for the data area, by
# the test CA: an fs-verity file signature, never an image signature),
# nobit.img (signed/meta.img with its verity feature bit cleared),
# noverity/{meta.img,blobs/} (made with --no-verity), image.digest, devices.list
# (slot tags in order), ref.json (the source tree, veritytest ref).



v_mount() { # IMG BLOBDIR DIR [OPTS]: mount with rerofs and blobdir=
	mount_rerofs "$1" "$3" "blobdir=$2${4:+,$4}"
}

v_mount_says() { # PATTERN IMG BLOBDIR DIR [OPTS]: mounts, and dmesg matches PATTERN
	local pat=$1
	shift
	v_mount "$@" || return 1
	dmesg_match -q "$pat" || { echo "dmesg does not say: $pat"; return 1; }
}

v_refused() { # WHY-PATTERN IMG BLOBDIR DIR [OPTS]: the mount fails, dmesg says why
	local pat=$1 dir=$4
	shift
	if v_mount "$@"; then
		echo "mount succeeded but must be refused"
		umount "$dir"
		return 1
	fi
	dmesg_match -q "$DMESG_BAD" && { echo "the kernel complained"; return 1; }
	dmesg_match -q "$pat" || { echo "dmesg does not say: $pat"; return 1; }
	return 0
}

v_readall() { # DIR
	is_mounted "$1" || { echo "$1 is not mounted"; return 1; }
	timeout -k 5 600 "${PY[@]}" "$VT" readall "$1" "$VD/ref.json"
}

v_copy() { # copy the signed image and its blobs into the tmpfs (tampered in place later)
	mkdir -p "$WORK/img/v" && cp "$VD/signed/meta.img" "$WORK/img/v/meta.img" &&
		cp -r "$VD/signed/blobs" "$WORK/img/v/blobs"
}

v_erofs() { # DIR: the C driver on the same image, blobs as loop devices in slot order
	local tag devs= l
	mkdir -p "$1"
	loop_setup "$WORK/img/v/meta.img" || return 1
	l=$LOOPDEV
	while read -r tag; do
		loop_setup "$WORK/img/v/blobs/$tag" || return 1
		devs+=",device=$LOOPDEV"
	done <"$VD/devices.list"
	mount -t erofs -o "ro$devs" "$l" "$1" || return 1
	mnt_show "$1"
}

v_same() { # A B: treecmp compare (all fields but mtime)
	need_both "$1" "$2" || return 1
	timeout -k 5 600 "${PY[@]}" "$TREECMP" compare --fields type,mode,size,uid,gid,nlink,target,rdev,content,inogroups,dirent "$1" "$2"
}

v_devices() { # DIR: the signed image with device= options instead of blobdir=
	local tag opts=ro
	while read -r tag; do opts+=",device=$WORK/img/v/blobs/$tag"; done <"$VD/devices.list"
	mkdir -p "$1"
	dmesg_mark
	timeout -k 5 300 mount -t rerofs -o "$opts" "$WORK/img/v/meta.img" "$1" || { dmesg_match rerofs; return 1; }
	mnt_show "$1"
	v_readall "$1"
}

v_corrupt() { # IMG DIR: veritytest corrupt on a tmpfs copy, then dmesg must be clean
	[ -f "$1" ] || { echo "$1 not found"; return 1; }
	cp "$1" "$WORK/img/corrupt.img" || return 1
	dmesg_mark
	timeout -k 5 900 "${PY[@]}" "$VT" corrupt "$WORK/img/corrupt.img" "$2" 30 "$VD/chunk65536.ranges" || return 1
	rm -f "$WORK/img/corrupt.img"
	if dmesg_match "$DMESG_BAD"; then return 1; fi
	echo "rerofs said: $(dmesg_new | grep -c rerofs) lines, e.g.:"
	dmesg_new | grep rerofs | sort -u -k3 | head -8
}

v_keyring() { # the .rerofs keyring exists, empty, restricted by default; require_verity is off
	local p=/sys/module/rerofs/parameters r
	command -v keyctl >/dev/null || { echo "keyctl not found"; return 1; }
	keyctl describe %:.rerofs || { echo "no .rerofs keyring"; return 1; }
	[ -z "$(keyctl rlist %:.rerofs)" ] || { echo ".rerofs is not empty"; return 1; }
	read -r r <"$p/keyring_restrict" && echo "keyring_restrict=$r"
	[ "$r" = builtin_and_secondary_trusted ] || return 1
	read -r r <"$p/require_verity" && echo "require_verity=$r"
	[ "$r" = N ] || return 1
	[ -w "$p/require_verity" ] || { echo "$p/require_verity is not writable"; return 1; }
}

v_padd() { # DER: add a certificate to the .rerofs keyring
	command -v keyctl >/dev/null || { echo "keyctl not found"; return 1; }
	keyctl padd asymmetric "" %:.rerofs <"$1" || return 1
	keyctl show %:.rerofs
}

v_padd_refused() { # DER: the restricted .rerofs keyring refuses the certificate
	local id
	command -v keyctl >/dev/null || { echo "keyctl not found"; return 1; }
	if id=$(keyctl padd asymmetric "" %:.rerofs <"$1" 2>&1); then
		echo "keyctl padd succeeded (key $id): .rerofs is not restricted"
		keyctl unlink "$id" %:.rerofs
		return 1
	fi
	echo "refused: $id"
}

v_warned() { # PATTERN IMG BLOBDIR DIR: mounts, and a warning-level kernel line matches PATTERN
	local pat=$1
	shift
	v_mount "$@" || return 1
	dmesg_match -q "$pat" || { echo "dmesg does not say: $pat"; return 1; }
	dmesg_match -q -w "$pat" || { echo "not a warning (pr_warn): $pat"; return 1; }
}

v_require_verity() { # 0|1: set the require_verity module parameter (sysfs)
	echo "$1" >/sys/module/rerofs/parameters/require_verity
}

verity_tests() {
	VD=$DATA/verity VT=$HERE/veritytest.py
	local v=$WORK/img/v m=$WORK/verity d wrong
	d=$(cat "$VD/image.digest" 2>/dev/null)
	wrong=sha256:$(printf '%064d' 0)
	step v_copy
	ktest "verity: .rerofs keyring made at insmod, empty, restricted (builtin_and_secondary_trusted); require_verity=N" v_keyring
	ktest "verity: image signed by the test CA (in the builtin keyring only) refused: .rerofs is empty" \
		v_refused 'not in the \.rerofs keyring' "$v/meta.img" "$v/blobs" "$m/x"
	ktest "verity: a self-signed certificate cannot be added to the restricted .rerofs" v_padd_refused "$VD/untrusted.der"
	ktest "verity: keyctl padd the test CA's certificate to .rerofs (vouched for by the builtin keyring)" v_padd "$VD/ca.der"
	ktest "verity: signed image mounts with blobdir=, signature verified (test CA in .rerofs)" \
		v_mount_says 'signature verified' "$v/meta.img" "$v/blobs" "$m/signed"
	ktest "verity: verified mount reads exactly the source tree (content, targets, xattrs)" v_readall "$m/signed"
	ktest "verity: mount -o verity=off of the same image" v_mount "$v/meta.img" "$v/blobs" "$m/off" verity=off
	ktest "verity: verified mount == verity=off mount" v_same "$m/signed" "$m/off"
	ktest "verity: mount -t erofs (C driver, loop devices) of the same image" v_erofs "$m/erofs"
	ktest "verity: verified mount == C EROFS driver" v_same "$m/signed" "$m/erofs"
	step umount "$m/off" "$m/erofs"
	ktest "verity: umount" do_umount "$m/signed"
	ktest "verity: unsigned image with the right digest= mounts" \
		v_mount_says 'image digest matches' "$VD/unsigned.img" "$v/blobs" "$m/digest" "digest=$d,verity=require"
	ktest "verity: digest= mount reads the source tree" v_readall "$m/digest"
	step umount "$m/digest"
	ktest "verity: wrong digest= refused" v_refused 'does not match digest=' "$VD/unsigned.img" "$v/blobs" "$m/x" "digest=$wrong"
	ktest "verity: malformed digest= refused" v_refused 'digest= must be' "$VD/unsigned.img" "$v/blobs" "$m/x" "digest=sha1:00"
	ktest "verity: unsigned image, verity=require, no digest=: refused" \
		v_refused 'verity=require' "$VD/unsigned.img" "$v/blobs" "$m/x" verity=require
	ktest "verity: unsigned image without options mounts, self-consistent only (warned)" \
		v_mount_says 'self-consistent' "$VD/unsigned.img" "$v/blobs" "$m/self"
	step umount "$m/self"
	ktest "verity: image signed by an untrusted key refused" \
		v_refused 'not in the \.rerofs keyring' "$VD/untrusted.img" "$v/blobs" "$m/x"
	ktest "verity: signer certified by the test CA, CA in .rerofs but not the signer: refused" \
		v_refused 'not in the \.rerofs keyring' "$VD/leaf.img" "$v/blobs" "$m/x"
	ktest "verity: keyctl padd the signer's certificate (signed by the test CA) to .rerofs" v_padd "$VD/leaf.der"
	ktest "verity: then the same image mounts, signature verified" \
		v_mount_says 'signature verified' "$VD/leaf.img" "$v/blobs" "$m/leaf"
	step umount "$m/leaf"
	ktest "verity: an fs-verity file signature (fsverity sign, test CA) of the image's data area refused" \
		v_refused 'EKEYREJECTED' "$VD/fsverity-signed.img" "$v/blobs" "$m/x"
	ktest "verity: signature stripped, verity=require: refused" \
		v_refused 'verity=require' "$VD/stripped.img" "$v/blobs" "$m/x" verity=require
	ktest "verity: signature stripped, right digest=: mounts" \
		v_mount_says 'image digest matches' "$VD/stripped.img" "$v/blobs" "$m/stripped" "digest=$d"
	step umount "$m/stripped"
	ktest "verity: image without trees, verity=require: refused" \
		v_refused 'no verity trees' "$VD/noverity/meta.img" "$VD/noverity/blobs" "$m/x" verity=require
	ktest "verity: image without trees, digest=: refused" \
		v_refused 'no verity trees' "$VD/noverity/meta.img" "$VD/noverity/blobs" "$m/x" "digest=$d"
	ktest "verity: verity feature bit cleared (signed image): mounts UNVERIFIED with a warning naming it" \
		v_warned 'nobit\.img\): image has no verity trees: mounted UNVERIFIED' "$VD/nobit.img" "$VD/signed/blobs" "$m/nobit"
	step umount "$m/nobit"
	step v_require_verity 1
	ktest "verity: require_verity=1: the image with its verity bit cleared refused" \
		v_refused 'no verity trees, refused \(require_verity=1\)' "$VD/nobit.img" "$VD/signed/blobs" "$m/x"
	ktest "verity: require_verity=1: an unsigned image without digest= refused" \
		v_refused 'require_verity=1: no digest= given' "$VD/unsigned.img" "$v/blobs" "$m/x"
	ktest "verity: require_verity=1: verity=off refused" \
		v_refused 'verity=off refused' "$v/meta.img" "$v/blobs" "$m/x" verity=off
	ktest "verity: require_verity=1: the signed image still mounts" \
		v_mount_says 'signature verified' "$v/meta.img" "$v/blobs" "$m/req"
	step umount "$m/req"
	step v_require_verity 0
	ktest "rerofs mkfs image: mount with -o device= (each blob, slot order) reads the source tree" v_devices "$m/devs"
	step umount "$m/devs"
	ktest "rerofs mkfs image without verity (--no-verity): mounts with blobdir=, unverified" \
		v_mount_says 'verity: off' "$VD/noverity/meta.img" "$VD/noverity/blobs" "$m/nov"
	ktest "rerofs mkfs image without verity reads the source tree" v_readall "$m/nov"
	step umount "$m/nov"
	ktest "blobdir=: a device slot tag that is not 64 hex digits (../../etc/passwd) is refused" \
		v_refused 'not 64 lowercase hex digits' "$VD/badtag.img" "$VD/noverity/blobs" "$m/x"
	step rm -rf "$v"
}

# The campaigns: a group of their own (selftests/run.sh runs groups in parallel
# guests), on a fresh copy of the signed image.
verity_campaign_tests() {
	VD=$DATA/verity VT=$HERE/veritytest.py
	local v=$WORK/img/v m=$WORK/verity-campaigns
	step v_copy
	# The signed image must mount in this guest too (a tamper case passes when its
	# mount is refused: with the signer unknown, every case would pass unread).
	ktest "verity campaigns: keyctl padd the test CA's certificate to .rerofs" v_padd "$VD/ca.der"
	ktest "corrupt campaign: 30 damaged copies of an unverified image (inodes, xattrs, dirents, chunk tables) mount or fail cleanly, no oops/KASAN" \
		v_corrupt "$IMAGES/chunk65536.img" "$m/c"
	ktest "verity: tamper campaign (one flipped byte per case, every region of every blob)" \
		timeout -k 5 1200 "${PY[@]}" "$VT" tamper "$v/meta.img" "$v/blobs" "$m/t" "$VD/ref.json"
	ktest "verity: partial blob (hole punched): EIO on the absent range, fine once the bytes arrive, no remount" \
		timeout -k 5 600 "${PY[@]}" "$VT" partial "$v/meta.img" "$v/blobs" "$m/p" "$VD/ref.json"
	step rm -rf "$v"
}
