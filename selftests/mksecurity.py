#!/usr/bin/env python3
"""Craft hostile rerofs images for the security selftests (selftests/guest/security.sh).

usage: mksecurity.py tags IN OUT TAG...       slot i's tag = TAG i (NUL padded)
       mksecurity.py many IN OUT N            the device table grows to N slots, every
                                              one a copy of slot 0 (same tag), placed
                                              in new blocks at the end of the image
       mksecurity.py noslotroot IN OUT        verity image IN without its slots' root
                                              hashes (compat bit 0x40000000 cleared,
                                              slot bytes 96..128 zeroed): each blob's
                                              trailer is then read at mount
       mksecurity.py huge IN OUT TRAILER      verity image IN: slot 0 now names a
                                              blob of 2^32 - 1 blocks (16 TiB) whose
                                              trailer block is written to TRAILER;
                                              prints the byte offset TRAILER goes at
                                              and the blob's name (its digest)

IN is an image made by rerofs mkfs (with extra devices). After editing, the
superblock crc32c is recomputed when SB_CHKSUM is set, and a verity image
(compat bit 0x80000000) gets its metadata blob's Merkle tree and trailer made
again (unsigned: such an image mounts "self-consistent only"). The layouts are
the ones Documentation/filesystems/rerofs.rst describes; nothing here reads
rerofs code.
"""
import hashlib
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtool  # noqa: E402

BS = 4096
SB = 1024
COMPAT_VERITY = 0x80000000
COMPAT_SLOT_ROOT = 0x40000000
INCOMPAT_DEVICE_TABLE = 0x8


def sbu16(img, off):
    return struct.unpack_from("<H", img, SB + off)[0]


def sbu32(img, off):
    return struct.unpack_from("<I", img, SB + off)[0]


def is_verity(img):
    return sbu32(img, 8) & COMPAT_VERITY != 0


def data_area(img):
    """The metadata blob's data area: `blocks` (superblock offset 36) blocks."""
    return img[: sbu32(img, 36) * BS] if is_verity(img) else img


def tree_levels(nblocks):
    """fs-verity tree levels, level 0 (hashes of data) first: block counts."""
    levels = []
    while nblocks > 1:
        nblocks = (nblocks + BS // 32 - 1) // (BS // 32)
        levels.append(nblocks)
    return levels


def merkle(data):
    """(tree bytes stored root level first, root hash) of `data` (whole blocks)."""
    assert len(data) % BS == 0
    blocks = [data[i:i + BS] for i in range(0, len(data), BS)]
    if len(blocks) <= 1:
        return b"", hashlib.sha256(blocks[0] if blocks else b"\0" * BS).digest()
    stored = []
    cur = blocks
    while len(cur) > 1:
        hashes = b"".join(hashlib.sha256(b).digest() for b in cur)
        hashes += b"\0" * (-len(hashes) % BS)
        lvl = [hashes[i:i + BS] for i in range(0, len(hashes), BS)]
        stored.append(b"".join(lvl))
        cur = lvl
    return b"".join(reversed(stored)), hashlib.sha256(cur[0]).digest()


def descriptor(data_size, root):
    """struct fsverity_descriptor (SHA-256, 4 KiB blocks, no salt), sig_size 0."""
    d = struct.pack("<BBBBIQ", 1, 1, 12, 0, 0, data_size) + root + b"\0" * 32
    d += b"\0" * 32 + b"\0" * 144
    assert len(d) == 256
    return d


def reseal(img):
    """A verity metadata blob: the data area followed by a new tree and trailer."""
    data = bytes(data_area(img))
    tree, root = merkle(data)
    trailer = descriptor(len(data), root)
    return data + tree + trailer + b"\0" * (BS - len(trailer))


def finish(img):
    if sbu32(img, 8) & sbtool.SB_CHKSUM:
        sbtool.put_u32(img, sbtool.CRC_OFF, sbtool.sb_crc(img))
    return reseal(img) if is_verity(img) else bytes(img)


def slot_pos(img, i):
    return sbu16(img, 0x58) * 128 + i * 128


def set_tag(img, i, tag):
    p = slot_pos(img, i)
    tag = tag[:64]
    img[p:p + 64] = tag + b"\0" * (64 - len(tag))


def cmd_tags(src, dst, tags):
    img = bytearray(data_area(open(src, "rb").read()))
    n = sbu16(img, 0x56)
    if len(tags) > n:
        sys.exit("mksecurity: %s has %d slots" % (src, n))
    for i, t in enumerate(tags):
        set_tag(img, i, t.encode())
    open(dst, "wb").write(finish(img))


def cmd_many(src, dst, n):
    img = bytearray(data_area(open(src, "rb").read()))
    slot0 = bytes(img[slot_pos(img, 0):slot_pos(img, 0) + 128])
    # The table must start below 65536 * 128 bytes (devt_slotoff is a __le16).
    start = len(img)
    if start % 128 or start // 128 > 0xFFFF:
        sys.exit("mksecurity: %s is too large to append a table" % src)
    img += slot0 * n
    img += b"\0" * (-len(img) % BS)
    struct.pack_into("<H", img, SB + 0x56, n)
    struct.pack_into("<H", img, SB + 0x58, start // 128)
    struct.pack_into("<I", img, SB + 36, len(img) // BS)
    open(dst, "wb").write(finish(img))


def cmd_noslotroot(src, dst):
    img = bytearray(data_area(open(src, "rb").read()))
    if not is_verity(img):
        sys.exit("mksecurity: %s has no verity trees" % src)
    struct.pack_into("<I", img, SB + 8, sbu32(img, 8) & ~COMPAT_SLOT_ROOT)
    for i in range(sbu16(img, 0x56)):
        img[slot_pos(img, i) + 96:slot_pos(img, i) + 128] = b"\0" * 32
    open(dst, "wb").write(finish(img))


def cmd_huge(src, dst, trailer_out):
    img = bytearray(data_area(open(src, "rb").read()))
    if not is_verity(img):
        sys.exit("mksecurity: %s has no verity trees" % src)
    blocks = 0xFFFFFFFF
    size = blocks * BS
    root = hashlib.sha256(b"no such tree").digest()
    desc = descriptor(size, root)
    name = hashlib.sha256(desc).hexdigest()
    set_tag(img, 0, name.encode())
    struct.pack_into("<I", img, slot_pos(img, 0) + 64, blocks)
    # The slot's root hash (COMPAT_RERO_SLOT_ROOT: the kernel rebuilds the
    # descriptor from the slot and reads no trailer).
    img[slot_pos(img, 0) + 96:slot_pos(img, 0) + 128] = root
    tree_blocks = sum(tree_levels(blocks))
    open(dst, "wb").write(finish(img))
    open(trailer_out, "wb").write(desc + b"\0" * (BS - len(desc)))
    print(size + tree_blocks * BS, name)


def main(argv):
    if len(argv) >= 3 and argv[0] == "tags":
        cmd_tags(argv[1], argv[2], argv[3:])
    elif len(argv) == 4 and argv[0] == "many":
        cmd_many(argv[1], argv[2], int(argv[3]))
    elif len(argv) == 3 and argv[0] == "noslotroot":
        cmd_noslotroot(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "huge":
        cmd_huge(argv[1], argv[2], argv[3])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
