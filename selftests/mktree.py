#!/usr/bin/env python3
"""Generate the selftest source trees (deterministic: fixed seed, fixed mtimes).

usage: mktree.py main DIR      the main tree (dirs, regular files, symlinks, hard links)
       mktree.py special DIR   fifo, character and block devices, a socket
       mktree.py xattr DIR     xattrs (user/trusted/security, security.capability,
                               one xattr shared by many files), a POSIX ACL, hard
                               links, sparse files, files for chunked layouts
       mktree.py wide DIR      one directory with 10,000 entries (names up to 254 bytes)
       mktree.py wide-small DIR  the first 2,500 of them (still about 170 directory
                               blocks; for the inode-layout variant of the wide image)

Must run as root (chown, mknod). Names and contents are the same on every run.
"""
import os
import random
import socket
import stat
import sys

SEED = 0x5E1F7E57
# Fixed, distinct mtimes (seconds, nanoseconds); the "mtime" image keeps them.
BASE_MTIME = 1_600_000_000


def set_meta(path, mode=None, uid=None, gid=None, n=0):
    if uid is not None:
        os.chown(path, uid, gid if gid is not None else uid, follow_symlinks=False)
    if mode is not None and not os.path.islink(path):
        os.chmod(path, mode)  # after chown: chown clears set-id bits
    ns = (BASE_MTIME + n * 7919) * 10**9 + (n * 123_456_789) % 10**9
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


class Gen:
    def __init__(self, root):
        self.root = root
        self.rng = random.Random(SEED)
        self.n = 0
        self.dirs = []

    def p(self, rel):
        return os.path.join(self.root, rel) if isinstance(rel, str) else os.path.join(os.fsencode(self.root), rel)

    def tick(self):
        self.n += 1
        return self.n

    def dir(self, rel, mode=0o755, uid=0, gid=0):
        os.makedirs(self.p(rel), exist_ok=True)
        # Directory mtimes change as entries are added: set them at the end.
        self.dirs.append((rel, mode, uid, gid, self.tick()))

    def file(self, rel, data=b"", mode=0o644, uid=0, gid=0):
        path = self.p(rel)
        with open(path, "wb") as f:
            f.write(data)
        set_meta(path, mode, uid, gid, self.tick())

    def rand(self, size):
        return self.rng.randbytes(size)

    def symlink(self, rel, target, uid=0, gid=0):
        path = self.p(rel)
        os.symlink(target, path)
        set_meta(path, None, uid, gid, self.tick())

    def finish(self):
        for rel, mode, uid, gid, n in reversed(self.dirs):
            set_meta(self.p(rel), mode, uid, gid, n)


def main_tree(g):
    g.dir(".")
    g.file("hello.txt", b"hello, rerofs\n")
    g.dir("empty")

    # Nested directories, 12 levels, a file at each level.
    g.dir("nested")
    rel = "nested"
    for i in range(12):
        rel = os.path.join(rel, "d%02d" % i)
        g.dir(rel)
        g.file(os.path.join(rel, "f%02d" % i), b"level %d\n" % i)

    # A directory with 5,000 entries: names of varying lengths so that the
    # dirent blocks hold varying numbers of entries; mostly small files, some
    # empty files, some subdirectories and symlinks.
    g.dir("big")
    for i in range(5000):
        name = "e%05d" % i + "_" * (i % 37)
        rel = os.path.join("big", name)
        if i % 500 == 250:
            g.dir(rel)
        elif i % 250 == 100:
            g.symlink(rel, "e%05d" % (i - 1))
        elif i % 10 == 3:
            g.file(rel, b"")
        else:
            g.file(rel, b"%d\n" % i)

    # Long and unusual names.
    g.dir("names")
    for n in (1, 2, 3, 16, 100, 200, 250, 253, 254):
        g.file(os.path.join("names", "n" * (n - 3) + "%03d" % n if n >= 3 else "x" * n), b"len %d\n" % n)
    g.file(os.path.join("names", "with space"), b"space\n")
    g.file(os.path.join("names", "-dash"), b"dash\n")
    g.file(os.path.join("names", "tab\there"), b"tab\n")
    g.file(os.path.join("names", "new\nline"), b"newline\n")
    g.file(os.path.join("names", "ünïcødé-名前"), b"utf8\n")
    g.file(os.path.join(b"names", b"latin1-\xe9\xff"), b"not utf-8\n")
    g.file(os.path.join("names", "." * 3), b"dots\n")
    g.dir(os.path.join("names", "d" * 254))
    g.file(os.path.join("names", "d" * 254, "f" * 254), b"long/long\n")

    # Sizes around block boundaries; random content.
    g.dir("sizes")
    for size in (0, 1, 2, 511, 512, 1000, 2048, 3000, 4095, 4096, 4097, 8191, 8192, 8193,
                 12287, 16384 + 100, 65536, 65537, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 4097):
        g.file(os.path.join("sizes", "s%d" % size), g.rand(size))
    g.file(os.path.join("sizes", "zeros-8192"), bytes(8192))
    g.file(os.path.join("sizes", "empty2"), b"")

    # Symlinks: short, long (up to PATH_MAX - 1), dangling, absolute, to dirs.
    g.dir("links")
    g.symlink("links/short", "a")
    g.symlink("links/to-hello", "../hello.txt")
    g.symlink("links/to-dir", "../nested")
    g.symlink("links/abs", "/nonexistent/target")
    g.symlink("links/dot", ".")
    for n in (59, 60, 61, 255, 1000, 3000, 4000, 4095):
        g.symlink("links/len%d" % n, ("t" * (n - 1) + "Z")[:n])
    g.symlink("links/long-path", "/".join(["component%02d" % i for i in range(40)]))

    # Hard links.
    g.dir("hard")
    g.file("hard/a", g.rand(5000))
    os.link(g.p("hard/a"), g.p("hard/b"))
    os.link(g.p("hard/a"), g.p("big/hardlink-to-hard-a"))
    g.file("hard/c", b"two links\n")
    os.link(g.p("hard/c"), g.p("hard/d"))

    # Modes and owners (uid/gid < 65536 so that -Eforce-inode-compact works).
    g.dir("modes")
    for name, mode, uid, gid in (
        ("m0600", 0o600, 0, 0),
        ("m0755", 0o755, 0, 0),
        ("m4755", 0o4755, 0, 0),
        ("m2755", 0o2755, 0, 50),
        ("m6711", 0o6711, 1000, 1000),
        ("m0000", 0o000, 0, 0),
        ("m0444", 0o444, 4242, 100),
        ("m0777", 0o777, 65534, 65534),
        ("m0640", 0o640, 1, 2),
    ):
        g.file(os.path.join("modes", name), b"mode %o\n" % mode, mode, uid, gid)
    g.dir("modes/dir0700", 0o700, 1000, 1000)
    g.file("modes/dir0700/inside", b"x\n", 0o600, 1000, 1000)
    g.dir("modes/dir1777", 0o1777)
    g.dir("modes/dir2775", 0o2775, 0, 100)
    g.symlink("modes/link-owned", "m0600", 4242, 4243)


def special_tree(g):
    g.dir(".")
    g.file("regular", b"regular\n")
    for name, kind, major, minor in (
        ("null", stat.S_IFCHR, 1, 3),
        ("char-big", stat.S_IFCHR, 300, 70000),   # needs the new (32-bit) dev encoding
        ("loop0", stat.S_IFBLK, 7, 0),
        ("blk-big", stat.S_IFBLK, 259, 1 << 19),
    ):
        path = g.p(name)
        os.mknod(path, kind | 0o640, os.makedev(major, minor))
        set_meta(path, 0o640, 0, 6, g.tick())
    g.file("bigid", b"uid 100000 needs an extended inode\n", 0o644, 100000, 200000)
    os.mkfifo(g.p("fifo"), 0o600)
    set_meta(g.p("fifo"), 0o600, 1000, 1000, g.tick())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(g.p("socket"))
    s.close()
    set_meta(g.p("socket"), 0o755, 0, 0, g.tick())


def xattr_tree(g):
    g.dir(".")
    setx = os.setxattr
    # Per-file xattrs of every prefix, values of varying sizes (incl. empty).
    g.dir("x")
    for i in range(12):
        rel = "x/f%02d" % i
        g.file(rel, b"xattr file %d\n" % i)
        p = g.p(rel)
        setx(p, "user.i%02d" % i, b"v" * (i * 13))
        if i % 2:
            setx(p, "trusted.odd", b"T%d" % i)
        if i % 3 == 0:
            setx(p, "security.three", bytes(range(i, i + 40)))
        if i == 5:
            for k in range(12):
                setx(p, "user.many.%02d" % k, b"%d" % k * (k + 1))
            setx(p, "user.big", g.rand(1500))
            setx(p, "user." + "n" * 200, b"long name")
        set_meta(p, None, None, None, g.tick())
    # security.capability (vfs_cap_data revision 2: cap_net_raw, cap_net_bind_service).
    g.file("x/cap", b"capable\n", 0o755)
    import struct
    setx(g.p("x/cap"), "security.capability", struct.pack("<IIIII", 0x02000001, (1 << 13) | (1 << 10), 0, 0, 0))
    set_meta(g.p("x/cap"), None, None, None, g.tick())
    # The same xattrs on many files: mkfs.erofs puts them in the shared area.
    g.dir("shared")
    for i in range(40):
        rel = "shared/s%02d" % i
        g.file(rel, b"shared %d\n" % i)
        setx(g.p(rel), "user.common", b"the same value on every file")
        setx(g.p(rel), "trusted.common", b"trusted shared")
        setx(g.p(rel), "user.own", b"own %d" % i)
        set_meta(g.p(rel), None, None, None, g.tick())
    # xattrs on a directory and on a symlink (trusted.* works on symlinks).
    setx(g.p("shared"), "user.dir", b"on a directory")
    g.symlink("x/link", "f00")
    setx(g.p("x/link"), "trusted.onlink", b"on a symlink", follow_symlinks=False)
    # POSIX ACLs: uid 1234 denied, group 77 read; a default ACL on a directory.
    g.file("acl-file", b"acl protected\n", 0o644)
    g.dir("acl-dir", 0o755)
    g.file("acl-dir/inside", b"inside\n")
    # Hard links with xattrs.
    g.file("hard-a", g.rand(9000))
    setx(g.p("hard-a"), "user.hard", b"linked")
    os.link(g.p("hard-a"), g.p("x/hard-b"))
    os.link(g.p("hard-a"), g.p("shared/hard-c"))
    # Sparse files: holes with a few written bytes.
    g.dir("sparse")
    for name, size, writes in (
        ("hole-1m", 1 << 20, [(0, b"head"), (700000, b"middle"), ((1 << 20) - 4, b"tail")]),
        ("hole-only", 3 * 65536 + 17, []),
        ("hole-start", 5 * 4096 + 1, [(5 * 4096, b"!")]),
        ("hole-3m", 3 << 20, [(65536 * 17 + 3, b"x" * 5000), ((2 << 20), b"y")]),
    ):
        p = g.p(os.path.join("sparse", name))
        with open(p, "wb") as f:
            f.truncate(size)
            for off, data in writes:
                f.seek(off)
                f.write(data)
        set_meta(p, 0o644, 0, 0, g.tick())
    # Sizes around chunk boundaries (4 KiB, 64 KiB, 1 MiB chunks), random and repeated content.
    g.dir("chunks")
    for size in (1, 4095, 4096, 4097, 65535, 65536, 65537, 200000, (1 << 20) - 1, (1 << 20) + 1, 2 * (1 << 20) + 12345):
        g.file("chunks/c%d" % size, g.rand(size))
    g.file("chunks/dup-a", g.rand(65536) * 3)
    g.file("chunks/dup-b", g.rand(4096) * 20 + b"end")


def acl_tree_fixup(g):
    import subprocess
    subprocess.run(["setfacl", "-m", "u:1234:---,g:77:r--,m::r--", g.p("acl-file")], check=True)
    subprocess.run(["setfacl", "-m", "u:1234:---", "-d", "-m", "u:1234:r-x", g.p("acl-dir")], check=True)
    set_meta(g.p("acl-file"), None, None, None, 777)


def wide_tree(g, count=10000):
    g.dir(".")
    g.dir("wide")
    for i in range(count):
        # Lengths 6..254: dirent blocks with very different entry counts.
        name = "w%05d" % i + "_" * ((i * 7) % 249)
        if i % 1000 == 500:
            g.dir(os.path.join("wide", name))
        elif i % 333 == 1:
            g.symlink(os.path.join("wide", name), "w%05d" % (i - 1))
        else:
            g.file(os.path.join("wide", name), b"" if i % 2 else b"%d\n" % i)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("main", "special", "xattr", "wide", "wide-small"):
        sys.exit(__doc__)
    root = sys.argv[2]
    if os.path.exists(root):
        sys.exit("mktree: %s exists" % root)
    os.umask(0)
    g = Gen(root)
    {"main": main_tree, "special": special_tree, "xattr": xattr_tree, "wide": wide_tree,
     "wide-small": lambda g: wide_tree(g, 2500)}[sys.argv[1]](g)
    g.finish()
    if sys.argv[1] == "xattr":
        acl_tree_fixup(g)


if __name__ == "__main__":
    main()
