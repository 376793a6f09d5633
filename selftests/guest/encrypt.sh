#!/bin/bash
# rerofs encryption selftests (issue 12), guest side; sourced by
# selftests/guest/main.sh, whose ktest/step/helpers it uses. The images are made
# by selftests/run.sh in $DATA/encrypt (see the "encryption data" part there):
#   a.img: the two-layer verity tree, encrypted (domain key D, image key a.key),
#          its blobs in blobs/;
#   b.img: the first layer alone, same D, image key b.key, same blob directory:
#          it reuses a.img's first blob (equal chunks, equal ciphertext);
#   a-rewrapped.img: a.img after `rerofs rewrap` to new.key (no blob touched);
#   short.key: 31 bytes; ref.json / ref-b.json: the source trees.
# Keys are added as logon keys rerofs:NAME (keyctl padd logon ... @u < FILE):
# key bytes never appear in argv.

ED=
e_keys_added=0

# e_padd TYPE NAME FILE: add FILE's bytes as a TYPE key "rerofs:NAME" to @u.
e_padd() {
	keyctl padd "$1" "rerofs:$2" @u <"$3" >/dev/null
}

e_setup() {
	[ -f "$DATA/encrypt/a.img" ] || { echo "no $DATA/encrypt/a.img (run.sh did not make the encrypted images)"; return 1; }
	# The images and blobs in the guest's tmpfs (7 MiB): read from the 9p share,
	# rerofs's direct reads are each a round trip to the host (the three
	# whole-tree reads below took 13 s of make check from there).
	ED=$WORK/img/enc-data
	mkdir -p "$ED" && cp -a "$DATA/encrypt/." "$ED/" || return 1
	e_padd logon enc-a "$ED/keys/a.key" && e_padd logon enc-b "$ED/keys/b.key" &&
		e_padd logon enc-new "$ED/keys/new.key" && e_padd logon enc-short "$ED/keys/short.key" &&
		e_padd user enc-user "$ED/keys/a.key" || return 1
	keyctl show @u | grep -c 'rerofs:enc-' | grep -qx 5 || { keyctl show @u; return 1; }
	e_keys_added=1
}

# e_mount_errno EXPECTED IMG OPTS: mount(2) of IMG (blobdir= the encrypted blob
# directory) with OPTS fails with errno EXPECTED (a name: ENOKEY...), promptly,
# with no kernel complaint; PATTERN (optional 4th) must be in dmesg.
e_mount_errno() {
	local want=$1 img=$2 opts=$3 pat=${4:-} got
	require_rerofs || return 1
	mkdir -p "$WORK/enc/x"
	dmesg_mark
	got=$("${PY[@]}" - "$img" "$WORK/enc/x" "blobdir=$ED/blobs${opts:+,$opts}" <<'PY'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
img, mnt, opts = sys.argv[1:]
if libc.mount(img.encode(), mnt.encode(), b"rerofs", 1, opts.encode()) == 0:
    libc.umount(mnt.encode())
    print("MOUNTED")
else:
    print(errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())))
PY
)
	dmesg_match -i rerofs
	[ "$got" = "$want" ] || { echo "mount: $got, expected $want"; return 1; }
	dmesg_match -q "$DMESG_BAD" && { echo "the kernel complained"; return 1; }
	[ -z "$pat" ] || dmesg_match -q "$pat" || { echo "dmesg does not say: $pat"; return 1; }
}

e_mount() { # IMG DIR KEYNAME: mounts with key=KEYNAME, dmesg says encrypted
	mkdir -p "$2"
	dmesg_mark
	mount_rerofs "$1" "$2" "blobdir=$ED/blobs,key=$3" || return 1
	dmesg_match -q 'encrypted \(key check verified\)' || { echo "dmesg does not say: encrypted"; return 1; }
	mnt_show "$2"
}

e_readall() { # DIR REF
	timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" readall "$1" "$2"
}

# No byte of any key, raw or hex, in the kernel log, /proc/mounts or mountinfo;
# the key's name is shown (key=enc-a), never more.
e_no_key_leak() {
	local m=$1
	is_mounted "$m" || { echo "$m is not mounted"; return 1; }
	grep -q ',key=enc-a' /proc/mounts || { echo "/proc/mounts does not show key=enc-a"; grep rerofs /proc/mounts; return 1; }
	kmsg_read
	"${PY[@]}" - "$ED/keys" "${KMSG:-/dev/null}" <<'PY'
import os, sys
keys, kmsg = sys.argv[1:]
hay = {}
for p in ("/proc/mounts", "/proc/self/mountinfo", kmsg):
    try:
        hay[p] = open(p, "rb").read()
    except OSError as e:
        print("cannot read %s: %s" % (p, e))
        sys.exit(1)
bad = 0
for k in sorted(os.listdir(keys)):
    b = open(os.path.join(keys, k), "rb").read()
    forms = [b, b.hex().encode(), b.hex().upper().encode(), b[:8].hex().encode()]
    for p, h in hay.items():
        for f in forms:
            if f and f in h:
                print("key %s found in %s" % (k, p))
                bad = 1
print("%d keys, none in %s" % (len(os.listdir(keys)), ", ".join(hay)) if not bad else "LEAK")
sys.exit(bad)
PY
}

e_cdriver_refuses() { # the C EROFS driver refuses the encrypted image (incompat bit)
	local dir=$WORK/enc/c
	mkdir -p "$dir"
	loop_setup "$ED/a.img" || return 1
	dmesg_mark
	if mount -t erofs -o ro "$LOOPDEV" "$dir" 2>&1; then
		umount "$dir"
		echo "the C driver mounted an encrypted image"
		return 1
	fi
	dmesg_match -i erofs
	dmesg_match -q 'unidentified incompatible feature|incompat' || { echo "the C driver does not name the feature"; return 1; }
}

e_shares_blob() { # b.img's slots name blobs that a.img names too
	"${PY[@]}" - "$ED/a.img" "$ED/b.img" <<'PY'
import struct, sys
def tags(p):
    img = open(p, "rb").read()
    n, off = struct.unpack_from("<HH", img, 1024 + 0x56)
    return [img[off * 128 + i * 128:off * 128 + i * 128 + 64].rstrip(b"\0").decode() for i in range(n)]
a, b = tags(sys.argv[1]), tags(sys.argv[2])
print("a.img blobs %s, b.img blobs %s" % ([t[:12] for t in a], [t[:12] for t in b]))
sys.exit(0 if b and set(b) <= set(a) else 1)
PY
}

e_copy_a() { # DIR: a copy of a.img (DIR/meta.img) and of the blobs it names (DIR/blobs)
	local t=$1 tag
	mkdir -p "$t/blobs" && cp "$ED/a.img" "$t/meta.img" || return 1
	for tag in $(e_tags "$ED/a.img"); do
		cp "$ED/blobs/$tag" "$t/blobs/" || return 1
	done
}

e_tags() { # IMG: the blob names its device slots give, one per line
	"${PY[@]}" - "$1" <<'PY'
import struct, sys
img = open(sys.argv[1], "rb").read()
n, off = struct.unpack_from("<HH", img, 1024 + 0x56)
for i in range(n):
    print(img[off * 128 + i * 128:off * 128 + i * 128 + 64].rstrip(b"\0").decode())
PY
}

e_tamper() { # the tamper campaign of veritytest.py on a copy of a.img and its blobs
	local t=$WORK/enc/t
	e_copy_a "$t" || return 1
	RERO_VT_OPTS=key=enc-a timeout -k 5 1200 "${PY[@]}" "$HERE/veritytest.py" tamper "$t/meta.img" "$t/blobs" "$t/m" "$ED/ref.json" --max-meta 8 --max-data 4
	local rc=$?
	rm -rf "$t"
	return $rc
}

e_partial() { # a hole in a blob: EIO there, the rest decrypts; fine once the bytes are back
	local t=$WORK/enc/p
	e_copy_a "$t" || return 1
	RERO_VT_OPTS=key=enc-a timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" partial "$t/meta.img" "$t/blobs" "$t/m" "$ED/ref.json"
	local rc=$?
	rm -rf "$t"
	return $rc
}

encrypt_tests() {
	local m=$WORK/enc
	ktest "encrypt: logon keys rerofs:enc-* added to @u from files (keyctl padd)" e_setup
	ktest "encrypt: mount -o key=enc-a,blobdir=: key check verified" e_mount "$ED/a.img" "$m/a" enc-a
	ktest "encrypt: the decrypted mount reads exactly the source tree (content, targets, xattrs)" e_readall "$m/a" "$ED/ref.json"
	ktest "encrypt: no key byte (raw or hex) in dmesg, /proc/mounts, mountinfo; key=NAME shown" e_no_key_leak "$m/a"
	step umount "$m/a"
	ktest "encrypt: no key= : refused with ENOKEY, naming the option" \
		e_mount_errno ENOKEY "$ED/a.img" "" 'name its key with -o key=NAME'
	ktest "encrypt: key= naming no key: ENOKEY" e_mount_errno ENOKEY "$ED/a.img" key=enc-none 'no usable logon key rerofs:enc-none'
	ktest "encrypt: another image's key: EKEYREJECTED" \
		e_mount_errno EKEYREJECTED "$ED/a.img" key=enc-b "is not this image's key"
	ktest "encrypt: a 31-byte logon key: EINVAL" e_mount_errno EINVAL "$ED/a.img" key=enc-short 'has 31 bytes'
	ktest "encrypt: a user (not logon) key of that name: ENOKEY" e_mount_errno ENOKEY "$ED/a.img" key=enc-user
	ktest "encrypt: verity=off refused" e_mount_errno EINVAL "$ED/a.img" key=enc-a,verity=off 'verity=off is refused on an encrypted image'
	ktest "encrypt: key= on an unencrypted image refused" \
		e_mount_errno EINVAL "$DATA/verity/unsigned.img" key=enc-a 'not encrypted'
	ktest "encrypt: the C EROFS driver refuses the encrypted image" e_cdriver_refuses
	ktest "encrypt: b.img (same domain key, first layer) reuses a.img's blob" e_shares_blob
	ktest "encrypt: b.img mounts with its own key and reads its tree" e_mount "$ED/b.img" "$m/b" enc-b
	ktest "encrypt: b.img reads exactly its source tree" e_readall "$m/b" "$ED/ref-b.json"
	step umount "$m/b"
	ktest "encrypt: a.img's key cannot mount b.img, though b reuses a's blob" \
		e_mount_errno EKEYREJECTED "$ED/b.img" key=enc-a
	ktest "encrypt: rewrapped image mounts with the new key" e_mount "$ED/a-rewrapped.img" "$m/r" enc-new
	ktest "encrypt: rewrapped image reads the source tree (same blobs)" e_readall "$m/r" "$ED/ref.json"
	step umount "$m/r"
	ktest "encrypt: rewrapped image refuses the old key" e_mount_errno EKEYREJECTED "$ED/a-rewrapped.img" key=enc-a
	ktest "encrypt: tamper campaign on the encrypted image (every region, key check too)" e_tamper
	ktest "encrypt: partial blob: EIO on the hole, decrypts once the bytes are back" e_partial
	[ "$e_keys_added" = 1 ] && step keyctl clear @u
	# The copy, test keys included.
	[ -n "$ED" ] && step rm -rf "$ED"
}
