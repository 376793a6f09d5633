#!/bin/bash
# rerofs selftests, host side (make selftest / make check run it after building
# the module):
#   1. regenerate under build/selftests/ (wiped first) the source trees
#      (selftests/mktree.py), the EROFS images (mkfs.erofs) including corrupt
#      and truncated copies (selftests/sbtool.py), images.list (what the guest
#      tests) and manifests of the trees (selftests/guest/treecmp.py manifest);
#   2. boot the test kernel once (selftests/vm-run) and run
#      selftests/guest/main.sh in it, which prints KTAP;
#   3. print, as the last line, "N passed, N failed" (results missing from the
#      guest's output -- crash, timeout -- count as failed); exit 0 only if
#      everything passed.
# Options: --images-only (steps 1 only), --kvm (passed to vm-run).
# Environment: RERO_SELFTEST_SHARDS (guests run at once, default: host CPUs, at most 2),
# RERO_SHARD_LOCKS (lock file prefix, default /tmp/rerofs-vm-shard: guest K takes PREFIXK.lock),
# RERO_SELFTEST_IDLE (a guest that prints no line for this many seconds is stopped,
# default 1200: the longest silent test, the tamper campaign, took 177 s here), RERO_SELFTEST_TIMEOUT (overall limit per guest in s, default 10800:
# far above any real run; the idle watchdog is what catches a hang).
set -u
export LC_ALL=C

# One function, parsed before it runs: editing this file during a run is safe.
main() {
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/selftests
uuid=5e1f7e57-0000-4000-8000-000000000001
images_only=0
vm_args=()
for a; do
	case $a in
	--images-only) images_only=1 ;;
	--kvm) vm_args+=(--kvm) ;;
	*) echo "run.sh: unknown argument '$a'" >&2; exit 2 ;;
	esac
done

fail_setup() {
	echo "run.sh: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail_setup "must run as root (the trees need chown and mknod)"
for t in mkfs.erofs python3 cc; do
	command -v $t >/dev/null || fail_setup "$t not found (make setup)"
done

t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---------------------------------------------------------------- trees
rm -rf "$out" && mkdir -p "$out/trees" "$out/images" || fail_setup "cannot create $out"
python3 "$here/mktree.py" main "$out/trees/main" || fail_setup "mktree main failed"
python3 "$here/mktree.py" special "$out/trees/special" || fail_setup "mktree special failed"
python3 "$here/mktree.py" xattr "$out/trees/xattr" || fail_setup "mktree xattr failed"
python3 "$here/mktree.py" wide "$out/trees/wide" || fail_setup "mktree wide failed"
# The compact-inode variant of the wide image walks 2,500 of its entries: the
# 10,000-entry walk (wide.img) costs minutes per mount in the emulated guest.
python3 "$here/mktree.py" wide-small "$out/trees/wide-small" || fail_setup "mktree wide-small failed"
# The main tree without big/ (its 5,000-entry directory), for the images that vary
# only the inode and data layout of the main tree: every file and directory kind
# is still there, and large directories are covered by default.img (main) and the
# wide images (10,000 entries). A walk of 5,000 files costs about a minute per
# mount in the emulated KASAN guest, so scanning big/ again for each variant cost
# about 8 minutes of guest time and tested nothing new.
# (One cp of all the entries, so that hard links between them stay links.)
small=()
for d in "$out/trees/main"/* "$out/trees/main"/.[!.]*; do
	{ [ -e "$d" ] || [ -L "$d" ]; } && [ "$(basename "$d")" != big ] && small+=("$d")
done
mkdir -p "$out/trees/main-small" && cp -a "${small[@]}" "$out/trees/main-small/" ||
	fail_setup "cannot make trees/main-small"

# The guest's client of its warm Python (selftests/guest/pyrun.c, pyserve.py).
cc -O2 -Wall -o "$out/pyrun" "$here/guest/pyrun.c" || fail_setup "cannot compile selftests/guest/pyrun.c"

# ---------------------------------------------------------------- images
mkimg() { # NAME TREE MKFS-OPTIONS...
	local name=$1 tree=$2
	shift 2
	mkfs.erofs --quiet "$@" "$out/images/$name.img" "$out/trees/$tree" ||
		fail_setup "mkfs.erofs $* $name.img trees/$tree failed"
}
list=$out/images.list
src_fields=type,mode,size,uid,gid,nlink,target,content,inogroups
{
	echo "# kind name tree fields-vs-source extra-checks   (see selftests/guest/main.sh)"
	mkimg default main -T0 -U $uuid
	echo "good default main $src_fields lookups,reads,readonly,loop,hostfile"
	mkimg compact main-small -T0 -U $uuid -Eforce-inode-compact
	echo "good compact main-small $src_fields lookups"
	mkimg extended main-small -T0 -U $uuid -Eforce-inode-extended
	echo "good extended main-small $src_fields lookups,reads"
	mkimg noinline main-small -T0 -U $uuid -Enoinline_data
	echo "good noinline main-small $src_fields lookups,reads"
	# Per-file mtimes (seconds + nanoseconds) kept in extended inodes: compared
	# with the source tree too. (Not reproducible: the build time is "now".)
	mkimg mtime main-small -U $uuid --preserve-mtime -Eforce-inode-extended
	echo "good mtime main-small $src_fields,mtime -"
	# Devices, fifo, socket; uid 100000 forces some extended inodes among compact ones.
	mkimg special special -T0 -U $uuid
	echo "good special special type,mode,size,uid,gid,nlink,rdev,content -"
	# No superblock checksum (feature_compat SB_CHKSUM clear): must mount.
	mkimg nosbcrc main/nested -T0 -U $uuid -Enosbcrc
	echo "good nosbcrc main/nested $src_fields -"
	# xattrs of every namespace (inline and shared), security.capability, POSIX
	# ACLs, hard links, sparse files, sizes around chunk boundaries.
	x_fields=$src_fields,xattr
	mkimg xattr xattr -T0 -U $uuid
	echo "good xattr xattr $x_fields statfs,dirpos,reads,acl"
	mkimg xattr-compact xattr -T0 -U $uuid -Eforce-inode-compact
	echo "good xattr-compact xattr $x_fields -"
	mkimg xattr-extended xattr -T0 -U $uuid -Eforce-inode-extended
	echo "good xattr-extended xattr $x_fields -"
	# Chunk-based files: 4-byte block maps, and 8-byte chunk indexes.
	for cs in 4096 65536 1048576; do
		mkimg chunk$cs xattr -T0 -U $uuid --chunksize=$cs
		echo "good chunk$cs xattr $x_fields statfs,reads"
	done
	mkimg chunk65536-idx xattr -T0 -U $uuid --chunksize=65536 -Eforce-chunk-indexes
	echo "good chunk65536-idx xattr $x_fields reads"
	# File data in a separate blob device (--blobdev): given as a file, and as a
	# read-only loop device.
	mkimg blobdev xattr -T0 -U $uuid --chunksize=65536 --blobdev="$out/images/blobdev.blob"
	echo "good blobdev xattr $x_fields statfs,reads,blobloop"
	# 10,000 entries in one directory, names up to 254 bytes.
	mkimg wide wide -T0 -U $uuid
	echo "good wide wide $src_fields dirpos"
	mkimg wide-compact wide-small -T0 -U $uuid -Eforce-inode-compact
	echo "good wide-compact wide-small $src_fields -"
} >"$list"

# Manifests of the source trees (all metadata + content hashes): the guest
# compares against these, as walking the trees over 9p in the guest is slow.
mkdir -p "$out/manifests"
for tree in $(awk '$1 == "good" { print $3 }' "$list" | sort -u); do
	python3 "$here/guest/treecmp.py" manifest "$out/trees/$tree" "$out/manifests/${tree//\//_}.json" ||
		fail_setup "manifest of trees/$tree failed"
done

sb() { python3 "$here/sbtool.py" "$@"; }
def=$out/images/default.img
sb info "$def" | grep -q '^feature_compat: 0x[0-9a-f]*[13579bdf]$' ||
	fail_setup "default.img has no SB_CHKSUM (feature_compat bit 0x1): mkfs.erofs changed?"
sb crc "$def" >/dev/null || fail_setup "sbtool's crc32c does not match mkfs.erofs's"
bad() { # NAME EDIT...
	local name=$1
	shift
	sb corrupt "$def" "$out/images/$name.img" "$@" || fail_setup "sbtool corrupt $name failed"
	echo "bad $name $(IFS=+; echo "$*")" >>"$list"
}
size=$(stat -c %s "$def")
bad bad-magic magic=0x12345678
bad bad-crc badcrc
bad bad-blkszbits-9 blkszbits=9
bad bad-blkszbits-13 blkszbits=13
bad bad-incompat-8000 'incompat|=0x8000'
bad truncated-half truncate=$(( size / 2 / 4096 * 4096 ))
bad truncated-in-sb truncate=1100
bad empty truncate=0
# Compressed (lz4): refused at mount, naming the feature.
mkfs.erofs --quiet -T0 -U $uuid -zlz4hc "$out/images/compressed-lz4.img" "$out/trees/main/nested" ||
	fail_setup "mkfs.erofs -zlz4hc failed"
echo "bad compressed-lz4 mkfs.erofs -zlz4hc" >>"$list"
# ---------------------------------------------------------------- verity data
# (selftests/guest/verity.sh describes what each file is for.)
vd=$out/verity
# RERO_BIN: a rerofs binary already built (make check builds it once).
rerofs=${RERO_BIN:-$top/tools/target/release/rerofs}
if [ -z "${RERO_BIN:-}" ]; then
	(cd "$top/tools" && "${RERO_CARGO:-cargo}" build -q --release) ||
		fail_setup "cannot build the rerofs tools"
fi
mkdir -p "$vd/keys" "$out/trees/verity" || fail_setup "cannot create $vd"
# The main tree without big/ (5,000 files: too slow to walk once per tamper case
# in an emulated guest), plus a duplicated 1 MiB file for chunk dedup (16 chunks).
for d in "$out/trees/main"/*; do
	[ "$(basename "$d")" = big ] || cp -a "$d" "$out/trees/verity/"
done
head -c 1048576 /dev/urandom >"$out/trees/verity/dup1"
cp "$out/trees/verity/dup1" "$out/trees/verity/dup2"
setfattr -n user.verity -v "an xattr under verity" "$out/trees/verity/dup1"
# A 255-byte name (EROFS_NAME_LEN; mkfs.erofs 1.5 cannot write one, rerofs mkfs can).
echo "longest name" >"$out/trees/verity/$(printf 'n%.0s' $(seq 255))"
# A second layer, in a blob of its own (--blob-per-layer): a multi-blob image.
mkdir -p "$out/trees/verity-layer2/layer2"
head -c 600000 /dev/urandom >"$out/trees/verity-layer2/layer2/random"
cp "$out/trees/verity/dup1" "$out/trees/verity-layer2/layer2/dup3"  # dedups against layer 1
echo "second layer" >"$out/trees/verity-layer2/layer2/note"
rm -rf "$out/trees/verity-merged" && cp -a "$out/trees/verity" "$out/trees/verity-merged" &&
	cp -a "$out/trees/verity-layer2/layer2" "$out/trees/verity-merged/" || fail_setup "cannot merge the verity layers"
python3 "$here/guest/veritytest.py" ref "$out/trees/verity-merged" "$vd/ref.json" || fail_setup "veritytest ref failed"
ca=$top/kernel/certs/rerofs-test-ca
vmk() { SOURCE_DATE_EPOCH=1700000000 "$rerofs" mkfs -q --chunk-size 65536 --blob-per-layer "$@" "$out/trees/verity" "$out/trees/verity-layer2"; }
mkdir -p "$vd/signed/blobs" "$vd/noverity/blobs"
vmk --blob-dir "$vd/signed/blobs" "$vd/unsigned.img" || fail_setup "rerofs mkfs (verity) failed"
cp "$vd/unsigned.img" "$vd/signed/meta.img"
"$rerofs" sign --key "$ca.key" --cert "$ca.pem" "$vd/signed/meta.img" || fail_setup "rerofs sign failed"
vmk --no-verity --blob-dir "$vd/noverity/blobs" "$vd/noverity/meta.img" || fail_setup "rerofs mkfs --no-verity failed"
"$rerofs" inspect --devices "$vd/signed/meta.img" >"$vd/devices.list" || fail_setup "rerofs inspect --devices failed"
[ "$(wc -l <"$vd/devices.list")" = 2 ] || fail_setup "the verity image should have 2 data blobs: $(cat "$vd/devices.list")"
d1=$("$rerofs" digest "$vd/unsigned.img" | cut -d' ' -f1)
d2=$("$rerofs" digest "$vd/signed/meta.img" | cut -d' ' -f1)
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail_setup "signing changed the image digest ($d1 -> $d2)"
echo "$d1" >"$vd/image.digest"
(
	set -e
	cd "$vd/keys"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=rerofs untrusted test signer" \
		-keyout untrusted.key -out untrusted.pem 2>/dev/null
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=rerofs leaf test signer" \
		-keyout leaf.key -out leaf.csr 2>/dev/null
	printf 'keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\n' >leaf.ext
	openssl x509 -req -in leaf.csr -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -CAserial ca.srl \
		-days 30 -extfile leaf.ext -out leaf.pem 2>/dev/null
	openssl x509 -in leaf.pem -outform DER -out ../leaf.der
	openssl x509 -in untrusted.pem -outform DER -out ../untrusted.der
	openssl x509 -in "$ca.pem" -outform DER -out ../ca.der
) || fail_setup "openssl could not make the test keys"
cp "$vd/unsigned.img" "$vd/untrusted.img"
"$rerofs" sign --key "$vd/keys/untrusted.key" --cert "$vd/keys/untrusted.pem" "$vd/untrusted.img" || fail_setup "rerofs sign (untrusted) failed"
cp "$vd/unsigned.img" "$vd/leaf.img"
"$rerofs" sign --key "$vd/keys/leaf.key" --cert "$vd/keys/leaf.pem" "$vd/leaf.img" || fail_setup "rerofs sign (leaf) failed"
# Where the metadata structures of chunk65536.img are, for the corrupt campaign.
"$rerofs" inspect --json "$out/images/chunk65536.img" >"$vd/chunk65536.inspect.json" &&
	python3 "$here/guest/veritytest.py" ranges "$vd/chunk65536.inspect.json" "$vd/chunk65536.ranges" ||
	fail_setup "cannot list the metadata of chunk65536.img"
# blobdir= must refuse a tag that is not a content address (a path escape).
python3 "$here/sbtool.py" corrupt "$vd/noverity/meta.img" "$vd/badtag.img" "tag0=../../../../etc/passwd" ||
	fail_setup "sbtool tag0 failed"
# Stripped: the signed image with its signature bytes and sig_size zeroed.
python3 - "$vd/signed/meta.img" "$vd/stripped.img" <<'PY' || fail_setup "cannot strip the signature"
import shutil, struct, sys
src, dst = sys.argv[1:]
shutil.copyfile(src, dst)
with open(dst, "r+b") as f:
    f.seek(1024 + 36)
    d = struct.unpack("<I", f.read(4))[0] * 4096
    blocks, tree = d // 4096, 0
    while blocks > 1:
        blocks = (blocks + 127) // 128
        tree += blocks
    t = d + tree * 4096
    f.seek(t + 4)
    n = struct.unpack("<I", f.read(4))[0]
    assert n > 0, "the signed image has no signature"
    f.seek(t + 4)
    f.write(b"\0" * 4)
    f.seek(t + 256)
    f.write(b"\0" * n)
PY
# An fs-verity file signature (fsverity sign, test CA) of the same data area, and
# the signed image with its verity feature bit cleared (superblock crc fixed).
python3 "$here/guest/veritytest.py" fsvsign "$vd/signed/meta.img" "$vd/fsverity-signed.img" "$ca.key" "$ca.pem" &&
	python3 "$here/sbtool.py" corrupt "$vd/signed/meta.img" "$vd/nobit.img" 'compat&=~0x80000000' ||
	fail_setup "cannot make fsverity-signed.img or nobit.img"
# ---------------------------------------------------------------- encryption data
# (selftests/guest/encrypt.sh describes what each file is for.) Keys are files,
# never arguments.
ed=$out/encrypt
mkdir -p "$ed/keys" "$ed/blobs" || fail_setup "cannot create $ed"
for k in domain a b new; do
	"$rerofs" keygen "$ed/keys/$k.key" >/dev/null || fail_setup "rerofs keygen $k.key failed"
done
head -c 31 "$ed/keys/a.key" >"$ed/keys/short.key"
emk() { SOURCE_DATE_EPOCH=1700000000 "$rerofs" mkfs -q --chunk-size 65536 --encrypt --domain-key "$ed/keys/domain.key" --blob-dir "$ed/blobs" "$@"; }
emk --image-key "$ed/keys/a.key" --blob-per-layer "$ed/a.img" "$out/trees/verity" "$out/trees/verity-layer2" &&
	emk --image-key "$ed/keys/b.key" --blob-per-layer "$ed/b.img" "$out/trees/verity" ||
	fail_setup "rerofs mkfs --encrypt failed"
[ "$(ls "$ed/blobs" | wc -l)" = 2 ] || fail_setup "b.img should reuse a.img's first blob: $(ls "$ed/blobs")"
cp "$ed/a.img" "$ed/a-rewrapped.img" &&
	"$rerofs" rewrap --image-key "$ed/keys/a.key" --new-image-key "$ed/keys/new.key" "$ed/a-rewrapped.img" >/dev/null ||
	fail_setup "rerofs rewrap failed"
cp "$vd/ref.json" "$ed/ref.json" &&
	python3 "$here/guest/veritytest.py" ref "$out/trees/verity" "$ed/ref-b.json" || fail_setup "veritytest ref (encrypt) failed"
# ---------------------------------------------------------------- security data
# (selftests/guest/security.sh crafts the hostile images in the guest; only the
# nested images are made here: outer.img holds mid.img, which holds inner.img.)
sd=$out/security
mkdir -p "$sd/t/inner" "$sd/t/mid" "$sd/t/outer" || fail_setup "cannot create $sd"
echo "the innermost file" >"$sd/t/inner/file"
mkfs.erofs --quiet -T0 -U $uuid "$sd/t/mid/inner.img" "$sd/t/inner" &&
	mkfs.erofs --quiet -T0 -U $uuid "$sd/t/outer/mid.img" "$sd/t/mid" &&
	mkfs.erofs --quiet -T0 -U $uuid "$sd/outer.img" "$sd/t/outer" || fail_setup "mkfs.erofs of the nested images failed"
# ---------------------------------------------------------------- faults data
# (selftests/guest/faults.sh: fault injection, dm errors, load.) A verified
# two-blob image of 32 MiB of incompressible files for the load tests (readers,
# a cgroup memory limit far below it), with its digest and reference.
fd=$out/faults
mkdir -p "$fd/load/blobs" "$out/trees/load/a" "$out/trees/load/b" || fail_setup "cannot create $fd"
python3 - "$out/trees/load" <<'PY' || fail_setup "cannot make trees/load"
import random, sys
rng = random.Random(13)
# 16 files in two directories (one blob each), 256 KiB to 4 MiB: 32 MiB.
sizes = [262144, 524288, 1048576, 1572864, 2097152, 3145728, 4194304, 3407872]
for d in ("a", "b"):
    for i, s in enumerate(sizes):
        with open("%s/%s/f%02d" % (sys.argv[1], d, i), "wb") as f:
            f.write(rng.randbytes(s))
PY
(cd "$out/trees/load" && mkdir -p l1 l2 && mv a l1/ && mv b l2/) || fail_setup "cannot make trees/load"
SOURCE_DATE_EPOCH=1700000000 "$rerofs" mkfs -q --chunk-size 65536 --blob-per-layer --blob-dir "$fd/load/blobs" \
	"$fd/load/meta.img" "$out/trees/load/l1" "$out/trees/load/l2" || fail_setup "rerofs mkfs (load) failed"
"$rerofs" digest "$fd/load/meta.img" | cut -d' ' -f1 >"$fd/load/image.digest" &&
	python3 "$here/guest/veritytest.py" ref "$out/trees/load/l1" "$fd/load/ref-l1.json" &&
	python3 "$here/guest/veritytest.py" ref "$out/trees/load/l2" "$fd/load/ref-l2.json" &&
	python3 - "$fd/load" <<'PY' || fail_setup "cannot make the load reference"
import json, sys
ref = json.load(open(sys.argv[1] + "/ref-l1.json"))
ref.update(json.load(open(sys.argv[1] + "/ref-l2.json")))
json.dump(ref, open(sys.argv[1] + "/ref.json", "w"), sort_keys=True)
PY
# Seed images of the mutation campaign (selftests/guest/mutate.sh).
python3 "$here/mkmutate.py" "$out/mutate" "$rerofs" >/dev/null || fail_setup "mkmutate.py failed"
# ---------------------------------------------------------------- lazy data
# (selftests/guest/lazy.sh): a tree of about 16 MiB (256 MiB with RERO_LAZY_LONG=1),
# built with 64 KiB chunks, and the sha256 of every file (sha256sum -c format).
ld=$out/lazy
mkdir -p "$ld/blobs" || fail_setup "cannot create $ld"
python3 -I -S - "$ld/src" "${RERO_LAZY_LONG:-0}" <<'PY' || fail_setup "cannot make the lazy tree"
import hashlib, os, random, sys
root, long_run = sys.argv[1], sys.argv[2] == "1"
r = random.Random(14)
def put(path, data):
    p = os.path.join(root, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, (1700000000, 1700000000))
put("one-mib", r.randbytes(1 << 20))        # the 1 MiB file read alone
put("cold/two-mib", r.randbytes(2 << 20))   # read by 8 readers at once
put("cold/corrupt", r.randbytes(512 << 10)) # read through the corrupting daemon
put("cold/killed", r.randbytes(512 << 10))  # the daemon killed in the middle
put("cold/nodaemon", r.randbytes(256 << 10))
put("cold/timeout", r.randbytes(256 << 10))
for d in range(20):
    for i in range(25):
        put(f"small/d{d:02}/f{i:02}", r.randbytes(r.randrange(0, 9000)))
total = 8 << 20 if not long_run else 248 << 20
for i in range(total // (4 << 20)):
    put(f"big/f{i:03}", r.randbytes(4 << 20))
PY
SOURCE_DATE_EPOCH=1700000000 "$rerofs" mkfs -q --chunk-size 65536 --blob-dir "$ld/blobs" "$ld/meta.img" "$ld/src" ||
	fail_setup "rerofs mkfs (lazy) failed"
(cd "$ld/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum >"$ld/sums") || fail_setup "cannot hash the lazy tree"
echo "run.sh: trees and images in $out ($(ms "$t0") ms)" >&2
[ $images_only = 1 ] && exit 0

# ---------------------------------------------------------------- guest runs
# The groups (one per image in images.list, plus "verity", "verity-campaigns",
# "security", "mutate", "lazy", "encrypt" and "faults") are
# split over several guests that run at the same time (RERO_SELFTEST_SHARDS,
# default: the number of host CPUs, at most 2): each guest runs its groups one
# after the other, mostly on one vCPU, so two guests keep two host
# cores busy. Every group runs in exactly one shard; every shard also loads and
# unloads the module and checks dmesg.
#
# kmemleak: guest 1 runs with it, the other guest boots with kmemleak=off
# (RERO_SELFTEST_KMEMLEAK=all: every guest with it). Tracking every allocation
# costs a guest 26-28% of its time (the encrypt group alone: 139 s with it, 103 s
# without, the same tests passing), and make check is CPU-bound. The groups
# where a leak would hide, error and allocation-failure paths, are pinned to
# guest 1: faults (fail-nth on every allocation, ENOMEM at mount and read),
# verity-campaigns and mutate (hundreds of refused and half-failed mounts of
# damaged images) and security. The other groups read good images through the
# same code, and also leave the module to rmmod, whose slab caches must be empty.
#
# vCPUs: guest 1 has two, so that the load tests of the faults group (8 readers,
# drop_caches, mounts in a loop) run truly in parallel under KASAN and lockdep.
# The guest without kmemleak has one (RERO_SELFTEST_CPUS=N: N in every guest),
# and so has the read-bench smoke guest: their groups run one process at a time,
# and make check is CPU-bound: two guests of two vCPUs each, a third guest and
# the host's builds on two cores overcommit the host, and a vCPU then waits for
# another whose host thread is descheduled (a cross-CPU call, a TLB flush that
# stops every vCPU under TCG, a spinlock whose holder's vCPU is not running: the
# kernel has no paravirt spinlocks under TCG). Alone on an idle machine a second
# vCPU costs little (the default and verity groups: 154 CPU-s with two vCPUs,
# 158 with one); in make check, guest 2 at one vCPU (and the kernel without a
# tick on idle vCPUs, CONFIG_NO_HZ_IDLE, and the shorter campaigns, about 120 s
# of it) took make check from 1,220 s and 2,327 CPU-s to 725-1,055 s and
# 1,250-2,007 CPU-s (three runs within two hours: the machine's speed varies):
# the encrypt group 135 s -> 60-93 s, lazy 199 s -> 70-145 s, the same tests.
#
# The weights are the "# group NAME: N ms" lines of make check (the mean of two
# fresh clones of 047ac0b, 12.4 and 28.7 min), in seconds, as in guest 1: a group
# measured in guest 2 is its time / 0.72, and a group placed in a guest without
# kmemleak is counted at $nokml_pct% of its weight (groups not listed: 8); every
# run prints the group times at its end. security and encrypt are less than
# measured there by what reading their images from the guest's tmpfs instead of
# the 9p share saved (s_evict, e_setup). Pinned groups first, then the others
# longest first, each to the shard whose load after it is the least.
declare -A weight=([faults]=190 [lazy]=150 [verity-campaigns]=126 [default]=114 [wide]=107 [encrypt]=93
	[security]=92 [verity]=49 [mutate]=47 [blobdev]=35 [xattr]=32 [chunk65536]=24 [chunk65536-idx]=24
	[chunk4096]=23 [compact]=20 [wide-compact]=20 [xattr-compact]=20 [chunk1048576]=19 [extended]=19
	[mtime]=18 [noinline]=17 [special]=17 [xattr-extended]=16 [nosbcrc]=15)
leak_groups=" faults verity-campaigns mutate security "
nokml_pct=72
groups=()
while read -r kind name rest; do
	case $kind in good|bad) groups+=("$name") ;; esac
done < <(grep -vE '^\s*(#|$)' "$list")
groups+=(verity verity-campaigns security mutate encrypt lazy faults)
nshards=${RERO_SELFTEST_SHARDS:-$(nproc)}
case $nshards in ''|*[!0-9]*|0) nshards=1 ;; esac
[ "$nshards" -gt 2 ] && nshards=2
declare -a load shard_groups pct
# Guest 1 (two vCPUs, kmemleak) starts with 50 s of load of its own: in the make
# check of ddfdb93 its first test began at 98 s of uptime against guest 2's 62,
# and its final kmemleak scan takes about 15 s more (with equal predicted loads,
# guest 1 ended 75 s after guest 2, one host core idle meanwhile).
guest1_extra=50
for ((k = 0; k < nshards; k++)); do
	load[k]=0 shard_groups[k]= pct[k]=100
	[ "$k" -gt 0 ] && [ "${RERO_SELFTEST_KMEMLEAK:-}" != all ] && pct[k]=$nokml_pct
done
[ "$nshards" -gt 1 ] && load[0]=$((guest1_extra * 100))
while read -r pin w g; do
	best=0
	if [ "$pin" = 1 ]; then
		best=0
	else
		for ((k = 1; k < nshards; k++)); do
			[ $((load[k] + w * pct[k])) -lt $((load[best] + w * pct[best])) ] && best=$k
		done
	fi
	load[best]=$((load[best] + w * pct[best]))
	shard_groups[best]+=" $g"
done < <(for g in "${groups[@]}"; do
	case $leak_groups in *" $g "*) p=1 ;; *) p=0 ;; esac
	echo "$p ${weight[$g]:-8} $g"
done | sort -k1,1nr -k2,2nr -k3)

t1=$(date +%s%N)
cd "$top" || exit 1
idle=${RERO_SELFTEST_IDLE:-1200}
pids=()
for ((k = 0; k < nshards; k++)); do
	kml=() ncpu=${RERO_SELFTEST_CPUS:-2}
	[ "${pct[k]}" = 100 ] || { kml=(--append kmemleak=off); ncpu=${RERO_SELFTEST_CPUS:-1}; }
	echo "run.sh: guest $((k + 1))/$nshards (kmemleak $([ ${#kml[@]} = 0 ] && echo on || echo off), $ncpu vCPU(s), predicted $((load[k] / 100)) s) runs:${shard_groups[k]}" >&2
	(
		rm -f "$out/guest-$k.retried"
		for attempt in 1 2; do
			RERO_VM_LOCK=${RERO_SHARD_LOCKS:-/tmp/rerofs-vm-shard}$k.lock "$here/vm-run" "${vm_args[@]}" "${kml[@]}" --cpus "$ncpu" \
				--idle-timeout "$idle" --timeout "${RERO_SELFTEST_TIMEOUT:-10800}" -- \
				env RERO_SELFTEST_IMAGES="${shard_groups[k]# }" RERO_BIN="$rerofs" "$here/guest/main.sh" \
				>"$out/guest-$k.log" 2>"$out/guest-$k.err" &
			vp=$!
			# Live progress on stderr (the results are printed once, below).
			tail -n +1 -F --pid="$vp" "$out/guest-$k.log" 2>/dev/null | sed -u "s/^/[guest $((k + 1))] /" >&2 &
			wait "$vp"
			rc=$?
			echo $rc >"$out/guest-$k.rc"
			sleep 1
			# A guest whose script wrote no line at all, not even the KTAP
			# header main.sh prints before it loads the module, lost its output
			# channel (virtme's virtio-serial ports: seen once in a loaded
			# make check, exit 255, the tests having run unseen): boot it
			# again, once. Any output at all, or a second silent run, counts.
			[ -s "$out/guest-$k.log" ] || [ $attempt = 2 ] && break
			echo "run.sh: guest $((k + 1)) printed nothing (exit status $rc): booting it again, once" >&2
			{ echo "exit status $rc"; cat "$out/guest-$k.err"; } >"$out/guest-$k.retried"
		done
	) &
	pids+=($!)
	# vng sets up its module tree in the kernel build dir at start: not twice at once.
	sleep 5
done
wait "${pids[@]}"
echo "run.sh: guest runs: $(ms "$t1") ms" >&2

# ---------------------------------------------------------------- summary
# One KTAP document: every shard's results, renumbered in order.
total_plan=0 passed=0 failed=0 extra_fail=0
merged=$out/guest.log
: >"$merged.body"
for ((k = 0; k < nshards; k++)); do
	log=$out/guest-$k.log
	rc=$(cat "$out/guest-$k.rc" 2>/dev/null || echo 255)
	tr -d '\r' <"$log" >"$log.clean"
	p=$(grep -cE '^ok [0-9]+( |$)' "$log.clean")
	f=$(grep -cE '^not ok [0-9]+( |$)' "$log.clean")
	plan=$(grep -m1 -oE '^1\.\.[0-9]+' "$log.clean" | cut -c4-)
	echo "# guest $((k + 1))/$nshards:${shard_groups[k]} (exit status $rc)" >>"$merged.body"
	[ -f "$out/guest-$k.retried" ] &&
		echo "# guest $((k + 1)): its first boot printed nothing ($(head -n 1 "$out/guest-$k.retried")); booted again" >>"$merged.body"
	if [ -s "$out/guest-$k.err" ]; then
		grep -E '^vm-run:' "$out/guest-$k.err" | sed 's/^/# /' >>"$merged.body"
	fi
	if [ -z "$plan" ]; then
		echo "run.sh: guest $((k + 1)) printed no KTAP plan (exit status $rc): counting one failure" >&2
		plan=$((p + f + 1))
	fi
	miss=$((plan - p - f))
	awk -v base="$total_plan" '
		/^(not )?ok [0-9]+( |$)/ { n = ($1 == "not") ? 3 : 2; $n = $n + base; print; next }
		/^TAP version|^1\.\.[0-9]+$/ { next }
		{ print }' "$log.clean" >>"$merged.body"
	for ((i = p + f + 1; i <= plan; i++)); do
		echo "not ok $((total_plan + i)) - guest $((k + 1)): result missing (guest crash or timeout; see $out/guest-$k.err)" >>"$merged.body"
	done
	[ $miss -gt 0 ] && echo "run.sh: guest $((k + 1)): $miss of $plan results missing (crash or timeout?): counted as failed" >&2
	[ $miss -lt 0 ] && { echo "run.sh: guest $((k + 1)): more results than its plan: counting one failure" >&2; extra_fail=$((extra_fail + 1)); miss=0; }
	if [ "$rc" != 0 ] && [ $f = 0 ] && [ $miss = 0 ]; then
		echo "run.sh: guest $((k + 1)) exit status $rc with no failed test: counting one failure" >&2
		extra_fail=$((extra_fail + 1))
	fi
	total_plan=$((total_plan + plan))
	passed=$((passed + p))
	failed=$((failed + f + miss))
	rm -f "$log.clean"
done
failed=$((failed + extra_fail))
{
	echo "TAP version 13"
	echo "1..$total_plan"
	cat "$merged.body"
	echo "# Totals: pass:$passed fail:$failed xfail:0 xpass:0 skip:0 error:0"
} >"$merged"
rm -f "$merged.body"
cat "$merged"
echo "# slowest guest tests:"
grep -E '^(not )?ok [0-9]+ .* # .*[0-9]+ ms$' "$merged" |
	sed -E 's/^(.*) # (exit [0-9]+, )?([0-9]+) ms$/\3 \1/' | sort -nr | head -n 10 |
	awk '{ ms = $1; $1 = ""; printf "#   %7.1f s %s\n", ms / 1000, $0 }'
echo "# guest groups (wall time with their set-up; the shard weights above come from these):"
grep -E '^# group [^ ]+: [0-9]+ ms$' "$merged" | awk '{ printf "#   %7.1f s %s\n", $4 / 1000, $3 }' | sort -k2,2nr | head -n 12
echo "run.sh: total $(ms "$t0") ms" >&2
echo "$passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
}

main "$@"
exit
