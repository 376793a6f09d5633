#!/usr/bin/env bash
# `make demo`: build a signed, verity-protected multi-blob image of a real tree
# with `rerofs mkfs`, boot the test kernel, load the signer's certificate into
# rerofs's .rerofs keyring, mount the image (signature checked), show
# it and compare it with the source and with the C EROFS driver, then flip one
# byte in a copy of a data blob and show the damaged file failing with EIO while
# every other file reads correctly.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
out=$TOP/build/demo
rm -rf "$out" && mkdir -p "$out/blobs" "$out/keys"
. scripts/env.sh
rerofs=$TOP/tools/target/release/rerofs
# A real tree: the fs/ directory of the test kernel's source (2,500 files, 50 MB).
src=${DEMO_TREE:-$(ls -d "$RERO_CACHE"/kernel/src-*/fs | head -n 1)}

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
rmmod rerofs
echo "--- unmounted and unloaded"
GUEST
selftests/vm-run -- bash "$out/guest.sh"
echo "demo: not yet shown: keyed convergent encryption (not implemented yet)"
