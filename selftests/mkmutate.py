#!/usr/bin/env python3
"""Seed images of the guest mutation campaign (host side; selftests/run.sh and
selftests/fuzz-guest.sh run it).

usage: mkmutate.py OUTDIR RERO_BIN

Makes in OUTDIR (wiped first) a small deterministic source tree (every inode
kind, inline and shared xattrs, POSIX ACLs, a multi-block directory, symlinks
up to 4000 bytes, hard links, sparse and deduplicated files, extended inodes),
the seed images of selftests/guest/mutate.py from it, the byte ranges of their
metadata structures (from `rerofs inspect --json` plus the directory blocks,
chunk tables, shared xattrs and device slots read from the inode cores and
xattr headers), and
seeds.json, which mutate.py reads:

  erofs-plain       mkfs.erofs
  erofs-noinline    mkfs.erofs -Enoinline_data
  erofs-chunk4096   mkfs.erofs --chunksize=4096
  erofs-extidx      mkfs.erofs --chunksize=4096 -Eforce-inode-extended -Eforce-chunk-indexes
  erofs-blobdev     mkfs.erofs --chunksize=4096 --blobdev (data in a blob device)
  rerofs-plain      rerofs mkfs --no-verity, two layers, one blob each (blobdir=)
  rerofs-verity     rerofs mkfs (verity, unsigned), two layers, one blob each;
                    mounted three ways by mutate.py: verity=off, verity on
                    after re-sealing the metadata blob's Merkle tree, and
                    verity on as mutated (refused by verification)
  rerofs-enc        rerofs mkfs --encrypt (keys made here: enc/domain.key,
                    enc/image.key), two layers, one blob each; mounted with
                    key= two ways: re-sealed (tree and key check made again,
                    so mutations reach the encryption header, device records,
                    block maps and key table) and as mutated; it comes last,
                    so the case numbers of the older seeds keep their meaning
                    within their own seed (regression cases name their seed)

Every image is reproducible (fixed times, UUIDs and contents), so a case number
of the campaign names the same bytes on every machine.
"""
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys

BS = 4096
UUID = "5e1f7e57-0000-4000-8000-00000000a7a7"


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def mktree(root):
    """The source tree: about 70 inodes, 430 kB."""
    rng = random.Random(13)
    os.makedirs(root)
    for n, size in [("empty", 0), ("tiny", 6), ("small", 100), ("tail3000", 3000), ("block", 4096),
                    ("block1", 4097), ("mid9000", 9000), ("chunks70000", 70000)]:
        write(os.path.join(root, n), rng.randbytes(size))
    shutil.copyfile(os.path.join(root, "mid9000"), os.path.join(root, "dup9000"))
    # Sparse: a hole, data in the middle, a hole at the end.
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.seek(200000)
        f.write(rng.randbytes(5000))
        f.truncate(300000)
    os.link(os.path.join(root, "small"), os.path.join(root, "small-link"))
    os.symlink("tiny", os.path.join(root, "sym-short"))
    os.symlink("d/" * 100, os.path.join(root, "sym-200"))
    os.symlink("t" * 4000, os.path.join(root, "sym-4000"))
    os.symlink("/nonexistent/target", os.path.join(root, "sym-dangling"))
    d = root
    for depth in range(3):
        d = os.path.join(d, "level%d" % depth)
        os.makedirs(d)
        write(os.path.join(d, "file"), rng.randbytes(50 * depth))
    # A directory over several blocks: 44 entries with names of 100 to 250 bytes.
    many = os.path.join(root, "many")
    os.makedirs(many)
    for i in range(44):
        name = "%03d-%s" % (i, "n" * rng.randrange(96, 246))
        p = os.path.join(many, name)
        k = i % 4
        if k == 0:
            os.makedirs(p)
        elif k == 1:
            os.symlink(name[:40], p)
        else:
            write(p, rng.randbytes(rng.choice([0, 10, 700, 5000])))
    os.mknod(os.path.join(root, "chardev"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(os.path.join(root, "blockdev"), stat.S_IFBLK | 0o600, os.makedev(7, 0))
    os.mkfifo(os.path.join(root, "fifo"))
    # xattrs: one shared by many files (mkfs.erofs shares those used more than
    # twice), per-file inline ones, a long value, trusted. and security. ones.
    xf = ["tiny", "small", "tail3000", "block", "mid9000", "level0", "many"]
    for n in xf:
        p = os.path.join(root, n)
        os.setxattr(p, "user.shared", b"the same value on many files")
        os.setxattr(p, "trusted.shared2", b"also shared")
        os.setxattr(p, "user.own", n.encode())
    os.setxattr(os.path.join(root, "block1"), "user.long", rng.randbytes(1000))
    os.setxattr(os.path.join(root, "block1"), "security.label", b"system_u:object_r:x")
    os.setxattr(os.path.join(root, "sym-short"), "trusted.onlink", b"link xattr", follow_symlinks=False)
    subprocess.run(["setfacl", "-m", "u:1234:r,g:77:rw", os.path.join(root, "small")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rx", os.path.join(root, "level0")], check=True)
    # Owners: one past 65535 forces an extended inode among compact ones.
    os.chown(os.path.join(root, "tiny"), 1000, 1000)
    os.chown(os.path.join(root, "block"), 100000, 100001)
    os.chmod(os.path.join(root, "tail3000"), 0o4755)
    for dp, dns, fns in os.walk(root):
        for n in dns + fns + [""]:
            os.utime(os.path.join(dp, n), (1700000000, 1700000000), follow_symlinks=False)


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def ranges(img_path, inspect):
    """[(kind, start, end)] of the metadata structures of one image (the
    metadata blob's data area)."""
    img = open(img_path, "rb").read()
    sb = inspect["superblock"]
    base = sb["meta_blkaddr"] * BS
    out = [("superblock", 1024, 1024 + 128)]
    if sb["extra_devices"]:
        s = sb["devt_slotoff"] * 128
        out.append(("device table", s, s + 128 * sb["extra_devices"]))
    shared = set()
    for ino in inspect["inodes"]:
        pos = base + ino["nid"] * 32
        core = 64 if ino["extended"] else 32
        out.append(("inode core", pos, pos + core))
        if ino["xattr_bytes"]:
            out.append(("inline xattrs", pos + core, pos + core + ino["xattr_bytes"]))
            # The shared xattrs it names: 4-byte ids from xattr_blkaddr after the
            # 12-byte header (h_name_filter, h_shared_count, 7 reserved bytes).
            for k in range(img[pos + core + 4]):
                if pos + core + 16 + 4 * k > pos + core + ino["xattr_bytes"]:
                    break
                e = sb["xattr_blkaddr"] * BS + 4 * u32(img, pos + core + 12 + 4 * k)
                if e + 4 <= len(img):
                    n = 4 + img[e] + u16(img, e + 2)
                    shared.add((e, e + n))
        after = pos + core + ino["xattr_bytes"]
        i_u = u32(img, pos + 16)
        size = ino["size"]
        isdir = ino["mode"].startswith("40")
        lay = ino["layout"]
        if lay.startswith("chunk_based"):
            bits = 12 + (i_u & 0x1F)
            esz = 8 if i_u & 0x20 else 4
            if esz == 8:
                after = (after + 7) // 8 * 8
            n = max(1, -(-size // (1 << bits)))
            out.append(("chunk table", after, min(after + n * esz, (after // BS + 1) * BS)))
        elif lay in ("flat_inline", "flat_plain"):
            full = size // BS if lay == "flat_inline" else -(-size // BS)
            if isdir and full:
                out.append(("directory blocks", i_u * BS, min((i_u + full) * BS, len(img))))
            tail = size - (size // BS) * BS if lay == "flat_inline" else 0
            if tail:
                kind = "directory entries (inline)" if isdir else "inline data"
                out.append((kind, after, min(after + tail, (after // BS + 1) * BS)))
    out += [("shared xattrs", lo, hi) for lo, hi in sorted(shared)]
    area = sb["blocks"] * BS if sb["feature_compat"] & 0x80000000 else len(img)
    out = [r for r in out if 0 <= r[1] < r[2] <= area]
    return out, area


def enc_ranges(img_path, inspect):
    """The encryption structures of an encrypted image: header, device records,
    block maps, key table (in the data area) and the key check (the last 64
    bytes of the trailer block, after the data area)."""
    img = open(img_path, "rb").read()
    e = inspect["encryption"]
    out = [("encryption header", e["header_offset"], e["header_offset"] + 128)]
    dr = e["device_records_offset"]
    out.append(("device records", dr, dr + 16 * e["device_records"]))
    for d in range(e["device_records"]):
        pos = struct.unpack_from("<Q", img, dr + 16 * d)[0]
        blocks = u32(img, dr + 16 * d + 8)
        out.append(("block map", pos, pos + 4 * blocks))
    kt = e["key_table_offset"]
    out.append(("key table", kt, kt + 128 * e["key_table_entries"]))
    if img[-64:-56] != b"RerofsKc":
        sys.exit("mkmutate: %s has no key check in its last 64 bytes" % img_path)
    out.append(("key check", len(img) - 64, len(img)))
    return out


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    out, rerofs = os.path.abspath(argv[0]), argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tree = os.path.join(out, "tree")
    mktree(tree)
    # The second layer of the rerofs images: new files, one duplicate of layer 1.
    l2 = os.path.join(out, "layer2")
    os.makedirs(os.path.join(l2, "layer2"))
    write(os.path.join(l2, "layer2", "new"), random.Random(2).randbytes(20000))
    shutil.copyfile(os.path.join(tree, "mid9000"), os.path.join(l2, "layer2", "dup"))
    seeds = []

    def erofs(name, *opts, blob=False):
        img = os.path.join(out, name + ".img")
        cmd = ["mkfs.erofs", "--quiet", "-T0", "-U", UUID] + list(opts)
        if blob:
            cmd.append("--blobdev=" + os.path.join(out, name + ".blob"))
        subprocess.run(cmd + [img, tree], check=True)
        seeds.append({"name": name, "img": name + ".img", "blob": name + ".blob" if blob else None,
                      "kind": "erofs", "modes": ["plain"]})

    erofs("erofs-plain")
    erofs("erofs-noinline", "-Enoinline_data")
    erofs("erofs-chunk4096", "--chunksize=4096")
    erofs("erofs-extidx", "--chunksize=4096", "-Eforce-inode-extended", "-Eforce-chunk-indexes")
    erofs("erofs-blobdev", "--chunksize=4096", blob=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    # The keys of the encrypted seed: fixed bytes, so its data blobs (and every
    # case's image but for the random GCM nonces) are the same on every machine.
    keys = os.path.join(out, "rerofs-enc", "keys")
    os.makedirs(keys)
    for k, fill in (("domain.key", 0xD0), ("image.key", 0x1A)):
        write(os.path.join(keys, k), bytes((fill + i) & 0xFF for i in range(32)))
        os.chmod(os.path.join(keys, k), 0o600)
    enc = ["--encrypt", "--domain-key", os.path.join(keys, "domain.key"), "--image-key", os.path.join(keys, "image.key")]
    for name, opts, modes in [("rerofs-plain", ["--no-verity"], ["plain"]),
                              ("rerofs-verity", [], ["off", "resealed", "raw"]),
                              ("rerofs-enc", enc, ["resealed", "raw"])]:
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "blobs"))
        subprocess.run([rerofs, "mkfs", "-q", "-T", "1700000000", "--uuid", UUID, "--chunk-size", "4096",
                        "--blob-per-layer", "--blob-dir", os.path.join(d, "blobs")] + opts +
                       [os.path.join(d, "meta.img"), tree, l2], check=True, env=env)
        seeds.append({"name": name, "img": name + "/meta.img", "blob": name + "/blobs", "kind": "rerofs",
                      "modes": modes})
        if name == "rerofs-enc":
            seeds[-1]["key"] = name + "/keys/image.key"
    for s in seeds:
        img = os.path.join(out, s["img"])
        r = subprocess.run([rerofs, "inspect", "--json", img], stdout=subprocess.PIPE, check=True)
        ins = json.loads(r.stdout)
        if ins.get("errors"):
            sys.exit("mkmutate: rerofs inspect %s: %s" % (img, ins["errors"]))
        s["ranges"], s["area"] = ranges(img, ins)
        if "key" in s:
            s["ranges"] += enc_ranges(img, ins)
        kinds = sorted(set(k for k, _, _ in s["ranges"]))
        for want in ("superblock", "inode core"):
            if want not in kinds:
                sys.exit("mkmutate: no %s range in %s" % (want, img))
        s["inodes"] = len(ins["inodes"])
        print("mkmutate: %-16s %7d bytes, %d inodes, %d metadata ranges (%s)" % (
            s["name"], os.path.getsize(img), s["inodes"], len(s["ranges"]), ", ".join(kinds)))
    with open(os.path.join(out, "seeds.json"), "w") as f:
        json.dump(seeds, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
