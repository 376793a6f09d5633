#!/usr/bin/env python3
"""Inspect and corrupt EROFS superblocks for the selftests.

usage: sbtool.py info IMG
       sbtool.py crc IMG                      print stored and computed crc32c
       sbtool.py corrupt IN OUT EDIT...       copy IN to OUT, apply EDITs, then
                                              recompute the superblock crc32c when
                                              SB_CHKSUM is set (unless an edit is
                                              "badcrc" or "keepcrc")
EDITs: magic=0xHEX  blkszbits=N  incompat|=0xHEX  compat&=~0xHEX  badcrc  keepcrc
       truncate=N (bytes; applied last)  tag0=STRING (first device slot's tag)

The superblock is at byte 1024. Its crc32c (Castagnoli, seed ~0, no final xor,
as the kernel's crc32c() is used by erofs) covers bytes [1024, 4096) with the
4-byte checksum field at 1028 zeroed; feature_compat bit 0x1 (SB_CHKSUM) says it
is present. mkfs.erofs 1.5 sets SB_CHKSUM unless -Enosbcrc.
"""
import shutil
import struct
import sys

SB_OFF = 1024
MAGIC_OFF, CRC_OFF, COMPAT_OFF, BLKSZBITS_OFF, INCOMPAT_OFF = 0, 4, 8, 12, 80
SB_CHKSUM = 0x1
EROFS_MAGIC = 0xE0F5E1E2


def _table():
    poly = 0x82F63B78
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data, crc=0xFFFFFFFF):
    """Raw crc32c update: no pre/post inversion beyond the given seed."""
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def sb_crc(img):
    blk = bytearray(img[SB_OFF:4096])
    blk[CRC_OFF:CRC_OFF + 4] = b"\0\0\0\0"
    return crc32c(bytes(blk))


def u32(img, off):
    return struct.unpack_from("<I", img, SB_OFF + off)[0]


def put_u32(img, off, v):
    struct.pack_into("<I", img, SB_OFF + off, v & 0xFFFFFFFF)


def info(img):
    return {
        "magic": hex(u32(img, MAGIC_OFF)),
        "checksum": hex(u32(img, CRC_OFF)),
        "computed": hex(sb_crc(img)),
        "feature_compat": hex(u32(img, COMPAT_OFF)),
        "blkszbits": img[SB_OFF + BLKSZBITS_OFF],
        "feature_incompat": hex(u32(img, INCOMPAT_OFF)),
        "root_nid": struct.unpack_from("<H", img, SB_OFF + 14)[0],
        "blocks": u32(img, 36),
        "meta_blkaddr": u32(img, 40),
        "size": len(img),
    }


def corrupt(src, dst, edits):
    img = bytearray(open(src, "rb").read())
    fix_crc = True
    truncate = None
    for e in edits:
        if e.startswith("magic="):
            put_u32(img, MAGIC_OFF, int(e[6:], 0))
        elif e.startswith("blkszbits="):
            img[SB_OFF + BLKSZBITS_OFF] = int(e[10:], 0)
        elif e.startswith("incompat|="):
            put_u32(img, INCOMPAT_OFF, u32(img, INCOMPAT_OFF) | int(e[10:], 0))
        elif e.startswith("compat&=~"):
            put_u32(img, COMPAT_OFF, u32(img, COMPAT_OFF) & ~int(e[9:], 0))
        elif e == "badcrc":
            fix_crc = False
        elif e == "keepcrc":
            fix_crc = False
        elif e.startswith("truncate="):
            truncate = int(e[9:], 0)
        elif e.startswith("tag0="):
            # The first device slot's tag (devt_slotoff * 128), NUL padded.
            slot = struct.unpack_from("<H", img, SB_OFF + 0x58)[0] * 128
            tag = e[5:].encode()[:64]
            img[slot:slot + 64] = tag + b"\0" * (64 - len(tag))
        else:
            sys.exit("sbtool: unknown edit %r" % e)
    if "badcrc" in edits:
        if not u32(img, COMPAT_OFF) & SB_CHKSUM:
            sys.exit("sbtool: %s has no SB_CHKSUM; a bad crc would not be noticed" % src)
        put_u32(img, CRC_OFF, sb_crc(img) ^ 0x1)
    elif fix_crc and u32(img, COMPAT_OFF) & SB_CHKSUM:
        put_u32(img, CRC_OFF, sb_crc(img))
    if truncate is not None:
        del img[truncate:]
    with open(dst, "wb") as f:
        f.write(img)
    shutil.copymode(src, dst)


def main(argv):
    if len(argv) >= 2 and argv[0] == "info":
        for k, v in info(open(argv[1], "rb").read()).items():
            print("%s: %s" % (k, v))
    elif len(argv) == 2 and argv[0] == "crc":
        img = open(argv[1], "rb").read()
        stored, computed = u32(img, CRC_OFF), sb_crc(img)
        print("stored %#010x computed %#010x %s" % (stored, computed, "OK" if stored == computed else "MISMATCH"))
        return 0 if stored == computed else 1
    elif len(argv) >= 4 and argv[0] == "corrupt":
        corrupt(argv[1], argv[2], argv[3:])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
