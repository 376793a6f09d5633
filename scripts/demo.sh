#!/usr/bin/env bash
# `make demo`: build a signed, verity-protected multi-blob image of a real tree
# with `rerofs mkfs`, boot the test kernel, load the signer's certificate into
# rerofs's .rerofs keyring, mount the image (signature checked), show
# it and compare it with the source and with the C EROFS driver, then flip one
# byte in a copy of a data blob and show the damaged file failing with EIO while
# every other file reads correctly. Then the same tree encrypted (keyed
# convergent encryption): the mount refused without the image key, working with
# it (a logon key), and a scan showing no plaintext block in any blob.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
out=$TOP/build/demo
rm -rf "$out" && mkdir -p "$out/blobs" "$out/keys"
. scripts/env.sh
rerofs=$TOP/tools/target/release/rerofs
# A real tree: the fs/ directory of the test kernel's source (2,500 files, 50 MB).
src=${DEMO_TREE:-$(rero_ksrc)/fs}

echo "demo: a signing key for this demo, vouched for by the test CA built into the test kernel"
ca=$TOP/kernel/certs/rerofs-test-ca
(
	cd "$out/keys"
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=rerofs demo signer" -keyout demo.key -out demo.csr 2>/dev/null
	printf 'keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\n' >demo.ext
	openssl x509 -req -in demo.csr -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -CAserial ca.srl \
		-days 30 -extfile demo.ext -out demo.pem 2>/dev/null
	openssl x509 -in demo.pem -outform DER -out demo.der
)
# Two layers, each in a data blob of its own (--blob-per-layer): the tree without its
# largest subdirectory, then that subdirectory. Applied in order they give the tree.
big=$(cd "$src" && du -s -- */ | sort -n | tail -n 1 | cut -f2)
big=${big%/}
mkdir -p "$out/layers/1" "$out/layers/2"
cp -a "$src/." "$out/layers/1/"
mv "$out/layers/1/$big" "$out/layers/2/$big"
echo "demo: rerofs mkfs of $src as two layers (the rest, then $big/): 64 KiB chunks, deduplicated,"
echo "      one data blob per layer, per-blob Merkle trees, signed"
"$rerofs" mkfs --chunk-size 65536 --blob-per-layer --blob-dir "$out/blobs" \
	--key "$out/keys/demo.key" --cert "$out/keys/demo.pem" "$out/meta.img" "$out/layers/1" "$out/layers/2"
echo "demo: the same layers encrypted: a domain key (builders only) and an image key (what a node gets)"
mkdir -p "$out/enc/blobs"
"$rerofs" keygen "$out/keys/domain.key"
"$rerofs" keygen "$out/keys/image.key"
"$rerofs" mkfs --chunk-size 65536 --blob-per-layer --blob-dir "$out/enc/blobs" \
	--encrypt --domain-key "$out/keys/domain.key" --image-key "$out/keys/image.key" \
	--key "$out/keys/demo.key" --cert "$out/keys/demo.pem" "$out/enc/meta.img" "$out/layers/1" "$out/layers/2"
echo "demo: scanning every blob of the encrypted image for any 4 KiB block of the source's files:"
python3 - "$src" "$out/enc" <<'PY'
import os, sys
src, enc = sys.argv[1:]
blocks = set()
for d, _, files in os.walk(src):
    for f in files:
        p = os.path.join(d, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        with open(p, "rb") as fh:
            while True:
                b = fh.read(4096)
                if len(b) < 4096:
                    break
                if b.count(0) != 4096:
                    blocks.add(b)
found = scanned = 0
paths = [os.path.join(enc, "meta.img")] + [os.path.join(enc, "blobs", n) for n in os.listdir(os.path.join(enc, "blobs"))]
for p in paths:
    with open(p, "rb") as fh:
        while True:
            b = fh.read(4096)
            if not b:
                break
            scanned += 1
            found += b in blocks
print("  %d distinct plaintext blocks of the source, %d blocks of %d files scanned: %d found" % (
    len(blocks), scanned, len(paths), found))
sys.exit(1 if found else 0)
PY
rm -rf "$out/layers"
"$rerofs" inspect --devices "$out/meta.img" >"$out/devices.list"
sed 's/^/  device slot tag (fs-verity digest of the blob): /' "$out/devices.list"
echo "demo: image digest: $("$rerofs" digest "$out/meta.img")"
echo "demo: offline check of every blob: $("$rerofs" verify --blob-dir "$out/blobs" --cert "$out/keys/demo.pem" "$out/meta.img" 2>&1 | tail -n 1)"
ls -l "$out/meta.img" "$out/blobs"
# What every file must read as (sha256 of the source), to compare with in the guest.
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$out/source.sums"

cat >"$out/guest.sh" <<GUEST
set -e
echo "--- guest: \$(uname -r)"
insmod "\$RERO_MODULE"
grep rerofs /proc/filesystems
echo "--- without the signer's certificate in the .rerofs keyring, the mount is refused:"
mkdir -p /tmp/demo /tmp/demo-erofs
if mount -t rerofs -o blobdir=$out/blobs "$out/meta.img" /tmp/demo 2>&1; then echo "UNEXPECTED: mounted"; exit 1; fi
dmesg | grep rerofs | tail -n 1
echo "--- keyctl padd the demo signer's certificate to .rerofs (it is signed by the built-in test CA,"
echo "    so the restricted keyring takes it):"
keyctl padd asymmetric "" %:.rerofs <"$out/keys/demo.der"
mount -t rerofs -o blobdir=$out/blobs "$out/meta.img" /tmp/demo
dmesg | grep rerofs | tail -n 1
echo "--- mounted: \$(grep ' /tmp/demo ' /proc/mounts)"
echo "--- listing (first 12 entries):"
ls -la /tmp/demo | head -n 12
echo "--- a file:"; f=\$(find /tmp/demo -type f -size +1k | head -n 1); echo "\$f"; head -c 200 "\$f"; echo
echo "--- every block verified; comparing every file with the source tree:"
sums() { (cd "\$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum 2>"\$2"); }
sums /tmp/demo /tmp/err >/tmp/rerofs.sums
cmp -s /tmp/rerofs.sums "$out/source.sums" && echo "identical to $src (\$(wc -l </tmp/rerofs.sums) files)" || { echo "DIFFERS from $src"; exit 1; }
devs=""; for t in \$(cat "$out/devices.list"); do devs="\$devs,device=\$(losetup -r -f --show "$out/blobs/\$t")"; done
mount -t erofs -o ro\$devs "\$(losetup -r -f --show "$out/meta.img")" /tmp/demo-erofs
sums /tmp/demo-erofs /tmp/err >/tmp/erofs.sums
cmp -s /tmp/rerofs.sums /tmp/erofs.sums && echo "identical to the C EROFS driver's view of the same image" || { echo "DIFFERS from C EROFS"; exit 1; }
umount /tmp/demo-erofs /tmp/demo
echo "--- tampering: a copy of the blobs with one byte flipped in the middle of the largest blob"
mkdir -p /tmp/tampered && mount -t tmpfs tmpfs /tmp/tampered
cp "$out/blobs"/* /tmp/tampered/
big=\$(ls -S /tmp/tampered | head -n 1)
size=\$(stat -c %s /tmp/tampered/\$big)
off=\$(( size / 3 ))
python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^1]))" /tmp/tampered/\$big \$off
echo "flipped byte \$off of blob \${big:0:16}..."
mount -t rerofs -o blobdir=/tmp/tampered "$out/meta.img" /tmp/demo
sums /tmp/demo /tmp/err >/tmp/tampered.sums || true
sed 's/^/read failed: /' /tmp/err
# Every file that did read must read exactly as the source.
wrong=\$(grep -vxFf "$out/source.sums" /tmp/tampered.sums | wc -l)
bad=\$(grep -c 'Input/output error' /tmp/err || true)
echo "--- \$bad file(s) failed with EIO, \$(wc -l </tmp/tampered.sums) read correctly (each compared with the source), \$wrong read wrong"
dmesg | grep -m 1 'hash mismatch' || true
[ "\$wrong" = 0 ] || { echo "DAMAGED DATA REACHED USERSPACE"; exit 1; }
[ \$bad -gt 0 ] || { echo "tampering NOT detected"; exit 1; }
umount /tmp/demo /tmp/tampered
echo "--- the encrypted image: without its key the mount is refused"
mkdir -p /tmp/enc
if mount -t rerofs -o blobdir=$out/enc/blobs "$out/enc/meta.img" /tmp/enc 2>&1; then echo "UNEXPECTED: mounted"; exit 1; fi
dmesg | grep rerofs | tail -n 1
echo "--- keyctl padd logon rerofs:demo @u < image.key (the key from a file, never on a command line)"
keyctl padd logon rerofs:demo @u <"$out/keys/image.key" >/dev/null
mount -t rerofs -o blobdir=$out/enc/blobs,key=demo "$out/enc/meta.img" /tmp/enc
dmesg | grep rerofs | tail -n 1
echo "--- mounted: \$(grep ' /tmp/enc ' /proc/mounts)"
sums /tmp/enc /tmp/err >/tmp/enc.sums
cmp -s /tmp/enc.sums "$out/source.sums" && echo "decrypted, verified, identical to $src (\$(wc -l </tmp/enc.sums) files)" || { echo "DIFFERS from $src"; exit 1; }
umount /tmp/enc
keyctl clear @u
rmmod rerofs
echo "--- unmounted and unloaded"
GUEST
selftests/vm-run -- bash "$out/guest.sh"
echo "demo: done"
