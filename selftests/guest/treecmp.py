#!/usr/bin/env python3
"""Compare directory trees for the rerofs selftests: a rerofs mount against the
C erofs mount of the same image, and against a manifest of the source tree
(made on the host: walking the source tree over 9p in an emulated guest takes
minutes). Paths are bytes throughout, so any name works. Errors on single paths
(EIO, EINVAL, ...) are recorded as differences and the walk goes on.

usage:
  treecmp.py manifest TREE OUT.json
        record TREE (every field) into OUT.json (run on the host).
  treecmp.py compare [--fields F,...] A B
        A and B are directories or manifests; compare per path the fields (default
        all but mtime and dirsize): type mode size (regular files and symlinks)
        dirsize uid gid nlink mtime target rdev content xattr inogroups dirent.
        "xattr": every name listxattr gives and the sha256 of its getxattr value.
        "content" is the sha256 of the file as read(2) returns it (sha256sum);
        "inogroups": paths sharing an inode number (hard links) form the same
        groups in A and B, and the number of distinct inodes is the same;
        "dirent": d_type and d_ino from getdents64 agree with lstat.
  treecmp.py order A B
        every directory lists its entries (getdents64) in the same order in A and
        B, without duplicates.
  treecmp.py lookups A B
        missing names give ENOENT in both, other bad paths the same errno in
        both, existing names are found.
  treecmp.py reads A B
        pread(2)s at block-boundary-crossing offsets and past EOF, and mmap(2)
        reads of regular files agree between A and B (a sample of big/).
  treecmp.py readonly A
        create, open for writing, mkdir, unlink, rename, chmod, symlink and
        truncate all fail (EROFS, or EACCES/EPERM/EISDIR/EEXIST).
  treecmp.py suite OUTDIR A B [--manifest M FIELDS] [--checks C,...] [--b-tree JSON]
        run several checks in one process (each tree is recorded once) and write
        OUTDIR/CHECK.rc and OUTDIR/CHECK.log for each; CHECK is one of compare
        (A vs B, all fields), source (A vs manifest M with FIELDS), order,
        lookups, reads, readonly (of A), statfs (A vs B), dirpos (tiny getdents
        buffers and telldir/seekdir, A vs B). --b-tree JSON: B's record is
        read from JSON if it exists, else recorded and saved there (a second
        mount of the same image, compared with the same unchanged B mount,
        does not walk B again).
Exit status: 0 equal / check passed, 1 differences, 2 usage or unexpected error.
"""
import errno
import io
import json
import mmap
import os
import random
import stat
import struct
import subprocess
import sys
import time
import traceback

ALL_FIELDS = ["type", "mode", "size", "dirsize", "uid", "gid", "nlink", "mtime", "target", "rdev", "content",
              "xattr", "inogroups", "dirent"]
DEFAULT_FIELDS = [f for f in ALL_FIELDS if f not in ("mtime", "dirsize")]
MAX_REPORT = 30
out = sys.stdout


def fsb(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


def show(p):
    return (repr(p)[2:-1] if isinstance(p, bytes) else p) or "."


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def ftype(m):
    for test, name in ((stat.S_ISREG, "reg"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "lnk"),
                       (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "sock")):
        if test(m):
            return name
    return "unknown(%o)" % stat.S_IFMT(m)


def jp(root, rel):
    return os.path.join(root, rel) if rel else root


FIND_FMT = "%P\\0%y\\0%m\\0%s\\0%U\\0%G\\0%n\\0%i\\0%T@\\0%l\\0"
FIND_N = 10
FIND_TYPES = {"f": "reg", "d": "dir", "l": "lnk", "c": "chr", "b": "blk", "p": "fifo", "s": "sock"}


class Tree:
    """Every path of a tree (or a manifest) with all its fields. The walk uses
    find(1) and sha256sum(1): in the emulated guest they are several times
    faster than the same work done in Python."""

    def __init__(self, name, recs, errors):
        self.name, self.recs, self.errors = name, recs, errors

    @classmethod
    def scan(cls, root, content=True):
        root = fsb(root)
        errors = []
        p = subprocess.run(["find", root, "-printf", FIND_FMT], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors += ["find: " + l for l in p.stderr.decode(errors="replace").splitlines()]
        f = p.stdout.split(b"\0")
        if len(f) % FIND_N != 1:
            raise RuntimeError("find output has %d fields" % len(f))
        recs = {}
        for i in range(0, len(f) - 1, FIND_N):
            rel, y, m, size, uid, gid, nlink, ino, mt, target = f[i:i + FIND_N]
            t = FIND_TYPES.get(y.decode(), "unknown(%s)" % y.decode())
            sec, _, frac = mt.decode().partition(".")
            r = {"ino": int(ino), "type": t, "mode": "%o" % int(m, 8), "uid": int(uid), "gid": int(gid),
                 "nlink": int(nlink), "mtime": "%s.%s" % (sec, (frac + "000000000")[:9])}
            if t in ("reg", "lnk"):
                r["size"] = int(size)
            if t == "dir":
                r["dirsize"] = int(size)
            if t == "lnk":
                r["target"] = show(target)
            if t in ("chr", "blk"):
                try:
                    st = os.lstat(jp(root, rel))
                    r["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
                except OSError as e:
                    r["rdev"] = "error: " + ename(e)
            recs[rel] = r
        if content:
            regs = [rel for rel, r in recs.items() if r["type"] == "reg"]
            for rel in regs:
                recs[rel]["content"] = "unreadable"
            p = subprocess.run(["xargs", "-0", "-r", "sha256sum", "-z", "--"], cwd=root, input=b"\0".join(b"./" + r for r in regs),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            errors += ["sha256sum: " + l for l in p.stderr.decode(errors="replace").splitlines()]
            for line in p.stdout.split(b"\0")[:-1]:
                h, _, rel = line.partition(b"  ./")
                if rel in recs:
                    recs[rel]["content"] = h.decode()[:32]
        cls.xattrs(root, recs)
        cls.dirents(root, recs)
        return cls(os.fsdecode(root), recs, errors)

    @staticmethod
    def xattrs(root, recs):
        """Every xattr (listxattr, then getxattr of each name) as name=sha256."""
        import hashlib
        for rel, r in recs.items():
            p = jp(root, rel)
            try:
                names = sorted(os.listxattr(p, follow_symlinks=False))
                r["xattr"] = ";".join("%s=%s" % (n, hashlib.sha256(os.getxattr(p, n, follow_symlinks=False)).hexdigest()[:16])
                                      for n in names)
            except OSError as e:
                r["xattr"] = "error: " + ename(e)

    @staticmethod
    def dirents(root, recs):
        """d_ino and d_type from getdents64 (os.scandir, no lstat unless
        DT_UNKNOWN) must agree with lstat."""
        for rel, r in list(recs.items()):
            if r["type"] != "dir":
                continue
            try:
                with os.scandir(jp(root, rel)) as it:
                    ents = list(it)
            except OSError as e:
                r["dirent"] = "scandir: " + ename(e)
                continue
            for ent in ents:
                c = os.path.join(rel, ent.name) if rel else ent.name
                cr = recs.get(c)
                if cr is None:
                    continue
                d = []
                try:
                    if ent.inode() != cr["ino"]:
                        d.append("d_ino %d != st_ino %d" % (ent.inode(), cr["ino"]))
                    dt = ("dir" if ent.is_dir(follow_symlinks=False) else "lnk" if ent.is_symlink()
                          else "reg" if ent.is_file(follow_symlinks=False) else None)
                    if dt != cr["type"] and (dt is not None or cr["type"] in ("dir", "lnk", "reg")):
                        d.append("d_type says %s, lstat %s" % (dt, cr["type"]))
                except OSError as e:
                    d.append("DirEntry: " + ename(e))
                cr["dirent"] = "; ".join(d) or "ok"

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"name": self.name, "errors": self.errors,
                       "recs": {k.hex(): v for k, v in self.recs.items()}}, f)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            d = json.load(f)
        return cls("manifest of " + d["name"], {bytes.fromhex(k): v for k, v in d["recs"].items()}, d["errors"])

    @classmethod
    def get(cls, arg):
        return cls.load(arg) if arg.endswith(".json") and os.path.isfile(arg) else cls.scan(arg)


class Report:
    def __init__(self):
        self.n = 0

    def diff(self, msg):
        self.n += 1
        if self.n <= MAX_REPORT:
            print("  " + msg, file=out)
        elif self.n == MAX_REPORT + 1:
            print("  ... (more differences not shown)", file=out)


def compare(ta, tb, fields):
    rep = Report()
    for t in (ta, tb):
        for e in t.errors:
            rep.diff("%s: %s" % (t.name, e))
    ra, rb = ta.recs, tb.recs
    for rel in sorted(set(ra) | set(rb)):
        name = show(rel)
        if rel not in rb:
            rep.diff("%s: only in %s" % (name, ta.name))
            continue
        if rel not in ra:
            rep.diff("%s: only in %s" % (name, tb.name))
            continue
        a, b = ra[rel], rb[rel]
        if "error" in a or "error" in b:
            rep.diff("%s: %s vs %s" % (name, a.get("error", "ok"), b.get("error", "ok")))
            continue
        for k in fields:
            if k == "inogroups":
                continue
            if k == "dirent":
                for t, r in ((ta, a), (tb, b)):
                    if r.get("dirent", "ok") != "ok":
                        rep.diff("%s: in %s: %s" % (name, t.name, r["dirent"]))
                continue
            if a.get(k) != b.get(k):
                rep.diff("%s: %s differs: %s vs %s" % (name, k, a.get(k), b.get(k)))
    if "inogroups" in fields:
        def groups(recs):
            by_ino = {}
            for rel, r in recs.items():
                if "ino" in r:
                    by_ino.setdefault(r["ino"], []).append(rel)
            return by_ino, {frozenset(v) for v in by_ino.values() if len(v) > 1}
        (ia, ga), (ib, gb) = groups(ra), groups(rb)
        for g in sorted(ga ^ gb, key=lambda g: sorted(g)):
            rep.diff("hard-link group %s only in %s" % ([show(x) for x in sorted(g)], ta.name if g in ga else tb.name))
        if len(ia) != len(ib):
            rep.diff("distinct inode numbers: %d vs %d" % (len(ia), len(ib)))
    print("# compared %d vs %d entries (%s): %d differences" % (len(ra), len(rb), ",".join(fields), rep.n), file=out)
    return 1 if rep.n else 0


def cmd_compare(args):
    fields = DEFAULT_FIELDS
    if args[:1] == ["--fields"]:
        fields = parse_fields(args[1])
        args = args[2:]
    a, b = args
    return compare(Tree.get(a), Tree.get(b), fields)


def parse_fields(s):
    fields = s.split(",")
    bad = [f for f in fields if f not in ALL_FIELDS]
    if bad:
        raise SystemExit("treecmp: unknown fields %s" % bad)
    return fields


def order(a, b, dirs=None):
    a, b = fsb(a), fsb(b)
    rep = Report()
    if dirs is None:
        dirs = [rel for rel, r in Tree.scan(a, content=False).recs.items() if r.get("type") == "dir"]
    for rel in dirs:
        try:
            la = os.listdir(jp(a, rel))
            lb = os.listdir(jp(b, rel))
        except OSError as e:
            rep.diff("%s: listdir: %s" % (show(rel), ename(e)))
            continue
        if len(set(la)) != len(la):
            rep.diff("%s: duplicate entries in %s" % (show(rel), os.fsdecode(a)))
        if la != lb:
            i = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
            rep.diff("%s: order differs at index %d (%d vs %d entries): %s vs %s" % (
                show(rel), i, len(la), len(lb), show(la[i]) if i < len(la) else "-", show(lb[i]) if i < len(lb) else "-"))
    print("# %d directories: %d differences" % (len(dirs), rep.n), file=out)
    return 1 if rep.n else 0


def probe(path):
    try:
        os.lstat(path)
        return "found"
    except OSError as e:
        return ename(e)


# For the main tree (see selftests/mktree.py).
MISSING = [b"nonexistent", b"hello.tx", b"hello.txtx", b"Hello.txt", b"hello.txt\xff", b"big/e0000",
           b"big/e00001_x", b"big/e99999", b"big/e05000", b"big/" + b"\xff" * 200, b"big/a", b"big/zzzz",
           b"big/E00000", b"big/e02500_", b"names/" + b"n" * 251 + b"254x", b"names/" + b"n" * 251 + b"25",
           b"names/" + b"m" * 255, b"nested/d00/d01/nothere", b"empty/x", b"sizes/s40960"]
OTHER = [b"hello.txt/x", b"links/abs/x", b"links/short/x", b"names/" + b"n" * 300, b"links/to-hello/"]
EXISTING = [b"hello.txt", b"big/e00000", b"big/e04999" + b"_" * (4999 % 37), b"names/" + b"n" * 251 + b"254",
            b"links/to-dir/d00", b"links/dot/short", b"nested/d00/d01/f01", b"big/e02500" + b"_" * (2500 % 37),
            b"names/" + b"d" * 254 + b"/" + b"f" * 254]


def lookups(a, b):
    a, b = fsb(a), fsb(b)
    rep = Report()
    n = 0
    # Trees without big/ (main-small) skip the names that must exist in it; their
    # lookups run on the images made from the whole main tree.
    has_big = os.path.isdir(os.path.join(a, b"big"))
    if not has_big:
        print("# no big/ in this tree: its existing names are looked up on the images that have it", file=out)
    for names, want in ((MISSING, "ENOENT"), (EXISTING, "found"), (OTHER, None)):
        for name in names:
            if want == "found" and not has_big and name.startswith(b"big/"):
                continue
            n += 1
            ea, eb = probe(os.path.join(a, name)), probe(os.path.join(b, name))
            if ea != eb or (want and ea != want):
                rep.diff("%s: %s vs %s%s" % (show(name), ea, eb, " (want %s)" % want if want else ""))
    print("# %d lookups: %d differences" % (n, rep.n), file=out)
    return 1 if rep.n else 0


def reads(a, b, files=None):
    a, b = fsb(a), fsb(b)
    rng = random.Random(1234)
    rep = Report()
    if files is None:
        files = [(rel, r["size"]) for rel, r in Tree.scan(a, content=False).recs.items() if r.get("type") == "reg"]
    nfiles = nreads = 0
    for rel, size in sorted(files):
        if rel.startswith(b"big/") and rng.random() > 0.02:
            continue  # a sample of the 5,000 small files is enough
        nfiles += 1
        try:
            fa = os.open(jp(a, rel), os.O_RDONLY)
        except OSError as e:
            rep.diff("%s: open: %s" % (show(rel), ename(e)))
            continue
        fb = os.open(jp(b, rel), os.O_RDONLY)
        try:
            cands = [(0, 1), (0, size + 10), (size, 10), (size + 4096, 1), (max(size - 1, 0), 100)]
            for blk in range(0, size + 4096, 4096):
                if len(cands) > 60:
                    break
                cands += [(max(blk - 3, 0), 7), (blk, 4096), (blk + 4095, 2)]
            cands += [(rng.randrange(0, size + 1), rng.randrange(1, 20000)) for _ in range(20)]
            for off, ln in cands:
                nreads += 1
                try:
                    da = os.pread(fa, ln, off)
                except OSError as e:
                    da = "error " + ename(e)
                db = os.pread(fb, ln, off)
                if da != db:
                    rep.diff("%s: pread(len %d, off %d): %s vs %d bytes" % (
                        show(rel), ln, off, da if isinstance(da, str) else "%d bytes, differ" % len(da), len(db)))
            if size:
                try:
                    with mmap.mmap(fa, 0, prot=mmap.PROT_READ) as ma, mmap.mmap(fb, 0, prot=mmap.PROT_READ) as mb:
                        if ma[:] != mb[:]:
                            rep.diff("%s: mmap contents differ" % show(rel))
                except OSError as e:
                    rep.diff("%s: mmap: %s" % (show(rel), ename(e)))
        finally:
            os.close(fa)
            os.close(fb)
    print("# %d files, %d preads + mmap: %d differences" % (nfiles, nreads, rep.n), file=out)
    return 1 if rep.n else 0


def readonly(a):
    a = fsb(a)
    rep = Report()
    j = lambda n: os.path.join(a, n)  # noqa: E731
    ok = (errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR, errno.EEXIST)
    checks = [
        ("create", lambda: os.close(os.open(j(b"newfile"), os.O_CREAT | os.O_WRONLY, 0o644))),
        ("open O_WRONLY", lambda: os.close(os.open(j(b"hello.txt"), os.O_WRONLY))),
        ("open O_RDWR|O_TRUNC", lambda: os.close(os.open(j(b"hello.txt"), os.O_RDWR | os.O_TRUNC))),
        ("mkdir", lambda: os.mkdir(j(b"newdir"))),
        ("unlink", lambda: os.unlink(j(b"hello.txt"))),
        ("rename", lambda: os.rename(j(b"hello.txt"), j(b"renamed"))),
        ("chmod", lambda: os.chmod(j(b"hello.txt"), 0o600)),
        ("symlink", lambda: os.symlink(b"x", j(b"newlink"))),
        ("truncate", lambda: os.truncate(j(b"hello.txt"), 0)),
    ]
    for what, fn in checks:
        try:
            fn()
            rep.diff("%s: succeeded on a read-only mount" % what)
        except OSError as e:
            if e.errno not in ok:
                rep.diff("%s: failed with %s, want EROFS" % (what, ename(e)))
    print("# %d read-only checks: %d failures" % (len(checks), rep.n), file=out)
    return 1 if rep.n else 0


def statfs(a, b):
    """statfs(2) of A and B agree: f_type (stat -f), f_bsize, f_blocks, f_files,
    f_ffree, f_namemax."""
    rep = Report()
    va, vb = os.statvfs(a), os.statvfs(b)
    for k in ("f_bsize", "f_blocks", "f_bfree", "f_files", "f_ffree", "f_namemax"):
        if getattr(va, k) != getattr(vb, k):
            rep.diff("%s: %d vs %d" % (k, getattr(va, k), getattr(vb, k)))
    ta = subprocess.run(["stat", "-f", "-c", "%t", a], stdout=subprocess.PIPE).stdout.strip()
    tb = subprocess.run(["stat", "-f", "-c", "%t", b], stdout=subprocess.PIPE).stdout.strip()
    if ta != tb:
        rep.diff("f_type: %s vs %s" % (ta.decode(), tb.decode()))
    print("# statfs: f_type %s f_bsize %d f_blocks %d f_files %d f_ffree %d f_namemax %d: %d differences" % (
        ta.decode(), va.f_bsize, va.f_blocks, va.f_files, va.f_ffree, va.f_namemax, rep.n), file=out)
    return 1 if rep.n else 0


def getdents_names(path, bufsize):
    """Names from getdents64(2) with a buffer of bufsize bytes (tiny buffers make
    the file system resume from its own offsets after every entry or two)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    names = []
    try:
        buf = ctypes.create_string_buffer(bufsize)
        while True:
            n = libc.syscall(217, fd, buf, bufsize)  # SYS_getdents64 on x86_64
            if n < 0:
                raise OSError(ctypes.get_errno(), "getdents64")
            if n == 0:
                return names
            raw, pos = buf.raw[:n], 0
            while pos < n:
                reclen = struct.unpack_from("<H", raw, pos + 16)[0]
                names.append(raw[pos + 19:pos + reclen].split(b"\0", 1)[0])
                pos += reclen
    finally:
        os.close(fd)


def seek_resume(path):
    """telldir/seekdir: remember the position after every 7th entry, read on,
    seek back to each remembered position: what follows must be the same."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir64.restype = ctypes.c_void_p
    libc.readdir64.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.closedir.argtypes = [ctypes.c_void_p]
    d = libc.opendir(fsb(path))
    if not d:
        raise OSError(ctypes.get_errno(), "opendir")

    def name(ent):
        return ctypes.string_at(ent + 19)

    try:
        seq, marks = [], []
        while True:
            if len(seq) % 7 == 0:
                marks.append((len(seq), libc.telldir(d)))
            ent = libc.readdir64(d)
            if not ent:
                break
            seq.append(name(ent))
        bad = 0
        for idx, pos in marks[::-1]:
            libc.seekdir(d, pos)
            ent = libc.readdir64(d)
            got = name(ent) if ent else None
            want = seq[idx] if idx < len(seq) else None
            if got != want:
                bad += 1
        return seq, bad
    finally:
        libc.closedir(d)


def tiny_getdents(path):
    """getdents64 with a 64-byte buffer (one or two entries a call); a directory
    with a name too long for it (EINVAL, as it must) with 280 bytes, room for one
    entry of a 255-byte name."""
    try:
        return getdents_names(path, 64)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        return getdents_names(path, 280)


def dirpos(a, b, dirs):
    """Every directory: getdents64 with a 64-byte buffer lists what a 32 KiB
    buffer lists, in the same order, in A and in B; telldir/seekdir resume at the
    same entry (A)."""
    rep = Report()
    a, b = fsb(a), fsb(b)
    for rel in sorted(dirs):
        try:
            big_a = getdents_names(jp(a, rel), 32768)
            tiny_a, tiny_b = tiny_getdents(jp(a, rel)), tiny_getdents(jp(b, rel))
            seq, bad = seek_resume(jp(a, rel))
        except OSError as e:
            rep.diff("%s: %s" % (show(rel), ename(e)))
            continue
        if tiny_a != big_a:
            rep.diff("%s: 64-byte getdents gives %d entries, 32 KiB gives %d (or another order)" % (show(rel), len(tiny_a), len(big_a)))
        if tiny_a != tiny_b:
            rep.diff("%s: 64-byte getdents differs between A and B" % show(rel))
        if seq != big_a:
            rep.diff("%s: readdir(3) sequence differs from getdents" % show(rel))
        if bad:
            rep.diff("%s: %d seekdir positions resumed at another entry" % (show(rel), bad))
    print("# dirpos: %d directories: %d differences" % (len(dirs), rep.n), file=out)
    return 1 if rep.n else 0


def cmd_suite(args):
    global out
    outdir, a, b = args[:3]
    rest = args[3:]
    manifest = src_fields = b_json = None
    checks = ["compare", "source", "order", "lookups", "reads", "readonly"]
    while rest:
        if rest[0] == "--manifest":
            manifest, src_fields = rest[1], parse_fields(rest[2])
            rest = rest[3:]
        elif rest[0] == "--checks":
            checks = rest[1].split(",")
            rest = rest[2:]
        elif rest[0] == "--b-tree":
            b_json = rest[1]
            rest = rest[2:]
        else:
            raise SystemExit("treecmp: suite: unknown argument %s" % rest[0])
    os.makedirs(outdir, exist_ok=True)
    cache = {}

    def tree(x):
        if x not in cache:
            if x == b and b_json and os.path.isfile(b_json):
                cache[x] = Tree.load(b_json)
                cache[x].name = "%s (recorded by an earlier suite)" % x
            else:
                cache[x] = Tree.get(x)
                if x == b and b_json:
                    cache[x].save(b_json)
        return cache[x]

    jobs = {
        "compare": lambda: compare(tree(a), tree(b), ALL_FIELDS),
        "source": lambda: compare(tree(a), tree(manifest), src_fields),
        "order": lambda: order(a, b, [rel for rel, r in tree(a).recs.items() if r.get("type") == "dir"]),
        "lookups": lambda: lookups(a, b),
        "reads": lambda: reads(a, b, [(rel, r["size"]) for rel, r in tree(a).recs.items() if r.get("type") == "reg"]),
        "readonly": lambda: readonly(a),
        "statfs": lambda: statfs(a, b),
        "dirpos": lambda: dirpos(a, b, [rel for rel, r in tree(a).recs.items() if r.get("type") == "dir"]),
    }
    worst = 0
    for c in checks:
        buf = io.StringIO()
        out = buf
        t0 = time.monotonic()
        try:
            rc = jobs[c]()
        except Exception:
            traceback.print_exc(file=buf)
            rc = 2
        print("# %s: %d ms" % (c, (time.monotonic() - t0) * 1000), file=buf)
        out = sys.stdout
        with open(os.path.join(outdir, c + ".log"), "w") as f:
            f.write(buf.getvalue())
        with open(os.path.join(outdir, c + ".rc"), "w") as f:
            f.write("%d\n" % rc)
        worst = max(worst, rc)
    return worst


def cmd_manifest(args):
    tree, dst = args
    Tree.scan(tree).save(dst)
    return 0


def main(argv):
    cmds = {
        "manifest": cmd_manifest,
        "compare": cmd_compare,
        "order": lambda a: order(*a),
        "lookups": lambda a: lookups(*a),
        "reads": lambda a: reads(*a),
        "readonly": lambda a: readonly(*a),
        "suite": cmd_suite,
    }
    if not argv or argv[0] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[argv[0]](argv[1:])
    except (TypeError, ValueError) as e:
        print("treecmp: %s\n%s" % (e, __doc__), file=sys.stderr)
        return 2
    except OSError as e:
        print("# error: %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
