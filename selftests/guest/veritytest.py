#!/usr/bin/env python3
"""Verity selftests for rerofs (guest side, except `ref`, run on the host).

usage:
  veritytest.py ref TREE OUT.json
        record every path of TREE: type, sha256 of regular files, symlink
        targets, xattrs (run on the host).
  veritytest.py readall MNT REF.json
        read everything under MNT and compare with REF: passes when every path
        matches. Prints counts.
  veritytest.py tamper META BLOBDIR MNT REF.json [--max-meta N] [--max-data N]
        the tamper campaign: for a sample of positions in every region of every
        blob (each metadata block up to N, data blocks, every Merkle tree level,
        the descriptor, the signature), flip one byte in place, mount with
        blobdir=BLOBDIR, read everything, unmount, restore the byte. A case
        passes when the mount is refused, or when every read either returns the
        right bytes or fails with EIO, and the damage was noticed (a refused
        mount or at least one EIO). Nothing wrong may ever be read.
  veritytest.py ranges INSPECT.json OUT.json
        the byte ranges of an image's metadata structures, from `rerofs inspect
        --json` (run on the host).
  veritytest.py corrupt IMG MNT CASES RANGES.json [OPTIONS]
        damage of an unverified image (3 flipped bytes a case, in the inode
        cores, inline xattrs, directory entries, inline data and chunk tables
        RANGES lists): mount, walk, read everything, unmount; must not hang
        (the caller checks dmesg for oopses and KASAN).
  veritytest.py partial META BLOBDIR MNT REF.json
        punch a hole (fallocate) in the data area of the largest data blob,
        mount, check reads of the absent range fail with EIO and nothing wrong is
        read, write the bytes back without unmounting, and check that everything
        now reads correctly.
  veritytest.py fsvsign META OUT KEY CERT
        copy the verity metadata blob META to OUT with, in place of its
        signature, what `fsverity sign --key KEY --cert CERT` makes for its data
        area: an fs-verity file signature of the same digest, which rerofs must
        refuse (run on the host).
Exit status: 0 pass, 1 fail, 2 usage or setup error.
"""
import errno
import hashlib
import json
import os
import random
import stat
import struct
import subprocess
import sys

BS = 4096


# Where an encrypted image's key check is in the trailer block (format/encrypt.rs).
KEY_CHECK_POS = 4096 - 64


def fsb(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


def record(root):
    """{relpath: entry} of everything under root; errors recorded per path."""
    root = fsb(root)
    out, errs = {}, {}

    def onerror(e):
        errs[os.path.relpath(fsb(e.filename), root).decode("utf-8", "surrogateescape")] = e.errno

    for d, dirs, files in os.walk(root, onerror=onerror):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root).decode("utf-8", "surrogateescape")
            try:
                st = os.lstat(p)
                e = {"mode": st.st_mode}
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        e["sha256"] = hashlib.sha256(f.read()).hexdigest()
                elif stat.S_ISLNK(st.st_mode):
                    e["target"] = os.readlink(p).hex()
                if not stat.S_ISLNK(st.st_mode):
                    e["xattrs"] = {n: os.getxattr(p, n, follow_symlinks=False).hex()
                                   for n in sorted(os.listxattr(p, follow_symlinks=False))}
                out[rel] = e
            except OSError as ex:
                errs[rel] = ex.errno
    return out, errs


def compare(ref, got, errs):
    """(wrong, eio, other): paths read wrongly, paths failing with EIO (or under
    a directory that did), paths failing otherwise."""
    wrong, eio, other = [], [], []
    eio_dirs = [p for p, e in errs.items() if e == errno.EIO]
    for p, e in errs.items():
        (eio if e == errno.EIO else other).append("%s (%s)" % (p, errno.errorcode.get(e, e)))
    for p, want in ref.items():
        if p in errs:
            continue
        if p not in got:
            if any(p.startswith(d + "/") for d in eio_dirs):
                continue
            wrong.append(p + " (missing)")
        elif got[p] != want:
            wrong.append(p)
    for p in got:
        if p not in ref:
            wrong.append(p + " (not in the source)")
    return wrong, eio, other


def sb_blocks(path):
    with open(path, "rb") as f:
        f.seek(1024 + 36)
        return struct.unpack("<I", f.read(4))[0]


def geometry(data_size):
    """(level_blocks (level 0 first), level_start, tree_blocks) as fs-verity."""
    blocks, levels = data_size // BS, []
    while blocks > 1:
        blocks = (blocks + 127) // 128
        levels.append(blocks)
    start, s = [0] * len(levels), 0
    for lvl in reversed(range(len(levels))):
        start[lvl] = s
        s += levels[lvl]
    return levels, start, s


def descriptor(path, data_size):
    levels, start, tree = geometry(data_size)
    trailer = data_size + tree * BS
    with open(path, "rb") as f:
        f.seek(trailer)
        d = f.read(256)
    sig_size = struct.unpack("<I", d[4:8])[0]
    return trailer, sig_size, levels, start


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


# mount(2) and umount(2) called directly: a mount(8) exec costs about a second
# in the emulated guest, and the campaigns mount hundreds of times. (rerofs takes
# a regular file as its source, so mount(8) would pass it through unchanged.)
_libc = None


def _sys():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


MS_RDONLY = 1


def sys_mount(src, mnt, fstype, opts):
    import ctypes
    if _sys().mount(fsb(src), fsb(mnt), fstype.encode(), MS_RDONLY, opts.encode()) == 0:
        return True, ""
    e = ctypes.get_errno()
    return False, "mount: %s" % os.strerror(e)


def mount(meta, blobdir, mnt, opts=""):
    """Mounts with blobdir= and opts, plus $RERO_VT_OPTS (e.g. key=NAME for an
    encrypted image)."""
    os.makedirs(mnt, exist_ok=True)
    extra = [o for o in (opts, os.environ.get("RERO_VT_OPTS", "")) if o]
    return sys_mount(meta, mnt, "rerofs", ",".join(["blobdir=" + blobdir] + extra))


def umount(mnt):
    import ctypes
    if _sys().umount(fsb(mnt)) != 0:
        raise SystemExit("umount %s failed: %s" % (mnt, os.strerror(ctypes.get_errno())))


def cases_for(path, data_size, is_meta, rng, max_blocks, trailer_unused=False):
    """[(region, offset)] of one blob. TRAILER_UNUSED: the kernel reads none of
    this blob's trailer (RERO_SLOT_ROOT), so one descriptor case stands for all."""
    out = []
    n = data_size // BS
    trailer, sig_size, levels, start = descriptor(path, data_size)
    picks = list(range(n))
    if len(picks) > max_blocks:
        picks = sorted(set([0, n - 1] + rng.sample(range(n), max_blocks - 2)))
    for b in picks:
        if is_meta and b == 0:
            out.append(("superblock", 1024 + 36))  # blocks
            out.append(("superblock block, outside the superblock", 3000))
            continue
        out.append(("data block %d" % b, b * BS + rng.randrange(BS)))
    for lvl, nblk in enumerate(levels):
        for hb in sorted(set([0, nblk - 1, rng.randrange(nblk)])):
            # Anywhere in the block: its zero padding is hashed too.
            out.append(("tree level %d block %d" % (lvl, hb), data_size + (start[lvl] + hb) * BS + rng.randrange(BS)))
    out.append(("descriptor root hash", trailer + 16 + rng.randrange(32)))
    if not trailer_unused:
        out.append(("descriptor data_size", trailer + 8))
    if sig_size:
        out.append(("signature", trailer + 256 + rng.randrange(sig_size)))
    if is_meta:
        with open(path, "rb") as f:
            f.seek(trailer + KEY_CHECK_POS)
            kc = f.read(8)
        if kc == b"RerofsKc":
            # An encrypted image's key check (its tag): the mount must refuse.
            out.append(("key check tag", trailer + KEY_CHECK_POS + 28 + rng.randrange(16)))
    return out


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xFF]))


def cmd_tamper(meta, blobdir, mnt, refp, max_meta=24, max_data=6):
    ref = json.load(open(refp))
    rng = random.Random(20261201)
    blobs = [("metadata blob", meta, sb_blocks(meta) * BS, True)]
    for name in sorted(os.listdir(blobdir)):
        p = os.path.join(blobdir, name)
        # A data blob's data size: from its own descriptor is what we want to
        # damage, so take it from the metadata blob's device table instead.
        blobs.append(("blob " + name[:12], p, None, False))
    # Device slots: 128-byte records at devt_slotoff * 128 (sb offset 1024+ 0x56).
    with open(meta, "rb") as f:
        f.seek(1024)
        sb = f.read(128)
    extra, slotoff = struct.unpack("<HH", sb[0x56:0x5A])
    # COMPAT_RERO_SLOT_ROOT: the slots carry the data blobs' root hashes, and the
    # kernel never reads a data blob's trailer: damage there changes nothing read.
    slot_root = struct.unpack("<I", sb[0x08:0x0C])[0] & 0x40000000 != 0
    sizes = {}
    with open(meta, "rb") as f:
        for i in range(extra):
            f.seek(slotoff * 128 + i * 128)
            slot = f.read(128)
            sizes[slot[:64].rstrip(b"\0").decode()] = struct.unpack("<I", slot[64:68])[0] * BS
    total = passed = 0
    regions = {}
    for label, path, size, is_meta in blobs:
        if size is None:
            size = sizes.get(os.path.basename(path))
            if size is None:
                print("# %s: not in the device table" % path)
                return 1
        for region, off in cases_for(path, size, is_meta, rng, max_meta if is_meta else max_data,
                                     slot_root and not is_meta):
            total += 1
            flip(path, off)
            unused = slot_root and not is_meta and region.startswith("descriptor")
            try:
                ok, msg = mount(meta, blobdir, mnt)
                if unused:
                    if not ok:
                        verdict, good = "mount REFUSED over an unused trailer: %s" % msg, False
                    else:
                        got, errs = record(mnt)
                        umount(mnt)
                        wrong, eio, other = compare(ref, got, errs)
                        good = not (wrong or eio or other)
                        verdict = ("trailer not read (root hash from the slot): all %d paths read correctly"
                                   % len(got) if good else "%s %s %s" % (wrong[:5], eio[:5], other[:5]))
                elif not ok:
                    verdict, good = "mount refused", True
                else:
                    got, errs = record(mnt)
                    umount(mnt)
                    wrong, eio, other = compare(ref, got, errs)
                    if wrong or other:
                        verdict, good = "WRONG DATA REACHED USERSPACE: %s %s" % (wrong[:5], other[:5]), False
                    elif not eio:
                        verdict, good = "damage NOT DETECTED (all %d paths read fine)" % len(got), False
                    else:
                        verdict, good = "%d paths EIO, %d read correctly" % (len(eio), len(got)), True
            finally:
                flip(path, off)
            passed += good
            regions[region.split(" ")[0]] = regions.get(region.split(" ")[0], 0) + 1
            print("%s %s: %s at byte %d: %s" % ("ok" if good else "FAIL", label, region, off, verdict))
    print("tamper: %d cases (%s), %d passed, %d failed" % (
        total, ", ".join("%s %d" % kv for kv in sorted(regions.items())), passed, total - passed))
    return 0 if passed == total and total > 0 else 1


def cmd_readall(mnt, refp):
    ref = json.load(open(refp))
    got, errs = record(mnt)
    wrong, eio, other = compare(ref, got, errs)
    print("%d paths, %d wrong, %d EIO, %d other errors" % (len(got), len(wrong), len(eio), len(other)))
    for w in (wrong + eio + other)[:20]:
        print("  " + w)
    return 0 if not (wrong or eio or other) else 1


def cmd_partial(meta, blobdir, mnt, refp):
    ref = json.load(open(refp))
    blobs = sorted(os.listdir(blobdir), key=lambda n: -os.path.getsize(os.path.join(blobdir, n)))
    if not blobs:
        print("no data blobs")
        return 2
    path = os.path.join(blobdir, blobs[0])
    size = os.path.getsize(path)
    # A 64 KiB hole in the middle of the data area (well before the tree).
    off = (size // 3) // 65536 * 65536
    with open(path, "rb") as f:
        f.seek(off)
        saved = f.read(65536)
    r = run(["fallocate", "--punch-hole", "--keep-size", "-o", str(off), "-l", "65536", path])
    if r.returncode != 0:
        print("fallocate failed: " + r.stdout.decode(errors="replace"))
        return 2
    ok, msg = mount(meta, blobdir, mnt)
    if not ok:
        print("mount with a partial blob failed: " + msg)
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(saved)
        return 1
    rc = 0
    try:
        got, errs = record(mnt)
        wrong, eio, other = compare(ref, got, errs)
        print("with a 64 KiB hole at byte %d of %s: %d EIO, %d wrong, %d other" % (
            off, blobs[0][:12], len(eio), len(wrong), len(other)))
        for w in (eio + wrong + other)[:8]:
            print("  " + w)
        if wrong or other or not eio:
            rc = 1
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(saved)
            f.flush()
            os.fsync(f.fileno())
        got, errs = record(mnt)
        wrong, eio, other = compare(ref, got, errs)
        print("after the bytes arrived (same mount): %d paths, %d EIO, %d wrong, %d other" % (
            len(got), len(eio), len(wrong), len(other)))
        if wrong or other or eio:
            rc = 1
    finally:
        umount(mnt)
    return rc


def cmd_ranges(inspect_json, out):
    """Host side of `corrupt`: the byte ranges of each metadata structure of an
    image, from `rerofs inspect --json`: inode cores, their inline xattrs, and
    what follows them (inline data: directory entries, symlink targets, tails;
    or the chunk table). Shared xattrs and directory blocks outside inodes are
    not listed; the superblock is (it is protected by its checksum)."""
    d = json.load(open(inspect_json))
    base = d["superblock"]["meta_blkaddr"] * BS
    ranges = [("superblock", 1024, 1024 + 128)]
    for ino in d["inodes"]:
        pos = base + ino["nid"] * 32
        core = 64 if ino["extended"] else 32
        ranges.append(("inode core", pos, pos + core))
        if ino["xattr_bytes"]:
            ranges.append(("inline xattrs", pos + core, pos + core + ino["xattr_bytes"]))
        after = pos + core + ino["xattr_bytes"]
        if ino["layout"].startswith("chunk_based"):
            ranges.append(("chunk table", after, after + 16))
        elif ino["layout"] == "flat_inline":
            kind = "directory entries" if ino["mode"].startswith("40") else "inline data"
            end = min(after + max(ino["size"], 1), (after // BS + 1) * BS)
            ranges.append((kind, after, end))
    json.dump(ranges, open(out, "w"))
    return 0


def cmd_corrupt(img, mnt, cases, ranges_json, opts=""):
    """Damage of an unverified image: each case flips 3 bytes in the structures
    `ranges` lists (chosen at random, seeded), mounts, walks and reads
    everything, unmounts. Errors are expected (EUCLEAN, EIO, ENOENT, ...), wrong
    data too (nothing verifies it); a hang, an oops or a KASAN report is not:
    the caller checks dmesg. Restores the image after each case."""
    rng = random.Random(7)
    ranges = [r for r in json.load(open(ranges_json)) if r[0] != "superblock"]
    refused = mounted = errors = 0
    kinds = {}
    for case in range(int(cases)):
        picks = [rng.choice(ranges) for _ in range(3)]
        offs = sorted(set(rng.randrange(lo, hi) for _, lo, hi in picks))
        for k, _, _ in picks:
            kinds[k] = kinds.get(k, 0) + 1
        with open(img, "r+b") as f:
            saved = []
            for o in offs:
                f.seek(o)
                saved.append(f.read(1))
                f.seek(o)
                f.write(bytes([saved[-1][0] ^ (1 << rng.randrange(8))]))
        try:
            os.makedirs(mnt, exist_ok=True)
            ok, _ = sys_mount(img, mnt, "rerofs", opts)
            if not ok:
                refused += 1
                continue
            mounted += 1
            got, errs = record(mnt)
            errors += len(errs)
            umount(mnt)
        finally:
            with open(img, "r+b") as f:
                for o, b in zip(offs, saved):
                    f.seek(o)
                    f.write(b)
    print("corrupt: %s cases, flips in %s: %d refused at mount, %d mounted, %d paths failed to read" % (
        cases, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), refused, mounted, errors))
    return 0


def cmd_fsvsign(meta, out, key, cert):
    d = sb_blocks(meta) * BS
    trailer, _, _, _ = descriptor(meta, d)
    area, sigf = out + ".area", out + ".fsverity-sig"
    with open(meta, "rb") as f:
        img = bytearray(f.read())
    with open(area, "wb") as f:
        f.write(img[:d])
    r = run(["fsverity", "sign", area, sigf, "--key", key, "--cert", cert])
    os.unlink(area)
    if r.returncode != 0:
        print("fsverity sign failed: %s" % r.stdout.decode(errors="replace"))
        return 2
    with open(sigf, "rb") as f:
        sig = f.read()
    os.unlink(sigf)
    if not 0 < len(sig) <= BS - 256:
        print("fsverity sign made %d bytes" % len(sig))
        return 2
    struct.pack_into("<I", img, trailer + 4, len(sig))
    img[trailer + 256:trailer + BS] = sig + bytes(BS - 256 - len(sig))
    with open(out, "wb") as f:
        f.write(img)
    return 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["ref"] and len(a) == 3:
        got, errs = record(a[1])
        if errs:
            print("errors reading %s: %s" % (a[1], errs))
            return 2
        json.dump(got, open(a[2], "w"), sort_keys=True)
        return 0
    if a[:1] == ["readall"] and len(a) == 3:
        return cmd_readall(a[1], a[2])
    if a[:1] == ["tamper"] and len(a) >= 5:
        kw = {}
        rest = a[5:]
        while rest:
            k, v = rest[0], int(rest[1])
            kw[{"--max-meta": "max_meta", "--max-data": "max_data"}[k]] = v
            rest = rest[2:]
        return cmd_tamper(a[1], a[2], a[3], a[4], **kw)
    if a[:1] == ["ranges"] and len(a) == 3:
        return cmd_ranges(a[1], a[2])
    if a[:1] == ["corrupt"] and len(a) in (5, 6):
        return cmd_corrupt(*a[1:])
    if a[:1] == ["partial"] and len(a) == 5:
        return cmd_partial(*a[1:])
    if a[:1] == ["fsvsign"] and len(a) == 5:
        return cmd_fsvsign(*a[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
