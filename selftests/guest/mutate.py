#!/usr/bin/env python3
"""The guest mutation campaign of rerofs: mutated copies of valid images,
mounted, walked, unmounted; the kernel must survive every one.

usage:
  mutate.py run SEEDDIR WORKDIR MNT [--start C] [-n N] [--seed S] [--only NAME,...]
                [--cases FILE] [--keep DIR] [--progress FILE]
        cases C .. C+N-1 of campaign S (default 1): case c mutates seed
        c mod K (K seeds; a seed mounted several ways, as rerofs-verity is,
        counts once per way), with mutations drawn from Random(S, c); then
        mount(2), walk (readdir, lstat, readlink, every xattr, a lookup of a
        missing name, read every regular file), umount(2). --cases FILE: also
        run first the case numbers listed in FILE (the regression cases: one
        "S C NAME", "S C" or "C" per line, # comments; NAME, a seed's name,
        pins the case to that seed whatever the number of seeds). Prints per seed: images tried,
        mounted, refused, paths that failed to read; then the errnos seen.
        Each case's "campaign case seed", and the counts so far, go to
        --progress FILE (a host path: after a guest crash it names the case)
        before its mount. A case after which
        the kernel logged a report (oops, KASAN, UBSAN, lockdep, hung task,
        WARNING: read from /dev/kmsg), whose umount failed or whose getdents never
        ended is a finding: its
        image and mutation list are kept in --keep DIR and printed (FOUND).
  mutate.py make SEEDDIR CASE OUT [--seed S] [--name SEEDNAME]
        write the image of one case to OUT (blobs: the seed's), print its
        seed, mount mode and mutations (to reproduce a finding on the host or
        in a guest: mount OUT with the options printed).

SEEDDIR is what selftests/mkmutate.py made (seeds.json, the images, their
blobs). WORKDIR must be a tmpfs (the image is rewritten every case). Exit
status: 0 when the campaign ran (the caller checks dmesg for kernel reports),
1 when a umount failed (the kernel would not let go of a mount) or a
directory's getdents never ended (returning entries again and again: the
campaign reads directories with getdents64 itself and gives up after 2,000
calls), 2 on harness failure (missing seeds, unwritable WORKDIR, usage).

Mutations are biased to metadata: 85% of them fall in the structures
mkmutate.py listed (superblock, inode cores, inline and shared xattrs, inline data and
directory entries, directory blocks, chunk tables, the device table; a kind is
drawn first, then one of its ranges), 12% anywhere in the metadata area, 3%
anywhere in the file. Each is a bit flip, a random byte, an interesting byte,
or a 16/32/64-bit word set to a boundary value or to its old value +-1, *2,
or a 32-byte splice from another structure of the same kind. The superblock
checksum is recomputed afterwards (when SB_CHKSUM is still set), so mutations
are not all refused by it; for a verity image mounted "resealed", the metadata
blob's Merkle tree and descriptor are made again (mksecurity.py), so the
mutated metadata passes verification (self-consistent, unsigned); for an
encrypted seed (a "key" in seeds.json: mounted with key=, the image key added
once as the logon key rerofs:mutate) re-sealing also makes the key check again
over the new image digest (selftests/aesgcm.py), unless a mutation hit the key
check itself, so mutations get past it to the encryption structures.
"""
import errno
import hashlib
import json
import os
import random
import re
import stat
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import aesgcm  # noqa: E402  (selftests/aesgcm.py: the key check's GCM tag)
import mksecurity  # noqa: E402  (selftests/mksecurity.py: Merkle tree, reseal)
import sbtool  # noqa: E402  (selftests/sbtool.py: the superblock crc32c)

BS = 4096
# What the kernel must never say (main.sh's DMESG_BAD, plus lockdep's and the
# hung-task detector's own words).
BAD = re.compile(r"BUG:|WARNING:|KASAN|Oops|general protection|Call Trace|UBSAN|suspected memory leak|"
                 r"lockdep is turned off|possible circular locking|detected stall|blocked for more than|"
                 r"out of range `errno`")
# Walk limits: a mutated directory can name itself or claim huge sizes.
MAX_ENTRIES = 1500
MAX_DEPTH = 24
MAX_FILE = 1 << 20
MAX_READ = 16 << 20
MAX_WALK_S = 30.0
# A directory of 4 KiB blocks holds at most 4096 / 13 entries a block; the
# seeds' largest has 46. Far past these, getdents is going round in circles.
GETDENTS_MAX_CALLS = 2000
GETDENTS_MAX_ENTRIES = 20000

I8 = [0, 1, 0x7F, 0x80, 0xFF]
I16 = [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x1000, 0xFFF]
I32 = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1000, 0xFFFFF000, 0xFFFF, 0x10000]
I64 = [0, (1 << 63), (1 << 64) - 1, (1 << 63) - 1, 1 << 32, (1 << 44)]


def fsb(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


# ---------------------------------------------------------------- seeds
class Seed:
    def __init__(self, d, info, mode):
        self.name = info["name"] + ("" if mode == "plain" else ":" + mode)
        self.base = info["name"]
        self.mode = mode
        self.kind = info["kind"]
        self.img = os.path.join(d, info["img"])
        self.blob = os.path.join(d, info["blob"]) if info["blob"] else None
        self.key = os.path.join(d, info["key"]) if info.get("key") else None
        self.ranges = [tuple(r) for r in info["ranges"]]
        self.area = info["area"]
        self.bykind = {}
        for r in self.ranges:
            self.bykind.setdefault(r[0], []).append(r)
        self.kinds = sorted(self.bykind)
        self.meta_end = min(self.area, -(-max(r[2] for r in self.ranges) // BS) * BS)
        self.data = None

    def load(self):
        if self.data is None:
            with open(self.img, "rb") as f:
                self.data = f.read()
        return self.data

    def options(self, blob):
        """mount options, given where the blob (file or directory) is."""
        if self.kind == "erofs":
            return "device=" + blob if blob else ""
        o = "blobdir=" + blob
        if self.mode == "off":
            o += ",verity=off"
        if self.key:
            o += ",key=" + KEY_NAME
        return o


def load_seeds(d):
    try:
        with open(os.path.join(d, "seeds.json")) as f:
            infos = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("mutate: cannot read %s/seeds.json: %s (selftests/mkmutate.py makes it)" % (d, e))
    seeds = []
    for info in infos:
        for mode in info["modes"]:
            seeds.append(Seed(d, info, mode))
    if not seeds:
        raise SystemExit("mutate: no seeds in %s/seeds.json" % d)
    return seeds


KEY_NAME = "mutate"


def add_keys(seeds):
    """The image keys of the encrypted seeds, as the logon key rerofs:mutate in
    the user keyring (keyctl padd: the key bytes go through a pipe, never argv).
    All encrypted seeds share one image key (mkmutate.py)."""
    import subprocess
    keys = sorted(set(s.key for s in seeds if s.key))
    if len(keys) > 1:
        raise SystemExit("mutate: encrypted seeds with different keys: %s" % keys)
    for k in keys:
        with open(k, "rb") as f:
            r = subprocess.run(["keyctl", "padd", "logon", "rerofs:" + KEY_NAME, "@u"], stdin=f,
                               stdout=subprocess.DEVNULL)
        if r.returncode:
            raise SystemExit("mutate: keyctl padd logon rerofs:%s @u < %s failed" % (KEY_NAME, k))


# ---------------------------------------------------------------- mutations
def case_rng(campaign, case):
    return random.Random(campaign * 1000003 + case)


def pick_range(seed, rng):
    p = rng.random()
    if p < 0.85:
        k = rng.choice(seed.kinds)
        return rng.choice(seed.bykind[k])
    if p < 0.97:
        return ("metadata area", 0, seed.meta_end)
    return ("anywhere", 0, len(seed.load()))


def draw(seed, rng):
    """The mutation list of one case: [(kind-of-range, offset, op, value)]."""
    img = seed.load()
    muts = []
    n = 1 + min(3, int(rng.expovariate(0.9)))
    for _ in range(n):
        kind, lo, hi = pick_range(seed, rng)
        op = rng.choice(["bit", "bit", "byte", "byte8", "u16", "u32", "u32", "u64", "splice"])
        width = {"u16": 2, "u32": 4, "u64": 8, "splice": 32}.get(op, 1)
        if hi - lo < width:
            op, width = "bit", 1
        off = rng.randrange(lo, hi - width + 1)
        if op in ("u16", "u32", "u64"):
            off -= (off - lo) % width  # aligned within the structure
        if op == "bit":
            val = 1 << rng.randrange(8)
        elif op == "byte":
            val = rng.randrange(256)
        elif op == "byte8":
            val = rng.choice(I8)
        elif op == "splice":
            k2, lo2, hi2 = rng.choice(seed.bykind.get(kind, seed.ranges))
            src = rng.randrange(lo2, max(lo2 + 1, hi2 - width + 1))
            val = src
        else:
            fmt = {"u16": "<H", "u32": "<I", "u64": "<Q"}[op]
            old = struct.unpack_from(fmt, img, off)[0]
            table = {"u16": I16, "u32": I32, "u64": I64}[op]
            mask = (1 << (8 * width)) - 1
            val = rng.choice(table + [(old + 1) & mask, (old - 1) & mask, (old * 2) & mask,
                                      (old + BS) & mask, old ^ (1 << rng.randrange(8 * width))])
        muts.append((kind, off, op, val))
    return muts


def apply(seed, muts):
    img = bytearray(seed.load())
    for _, off, op, val in muts:
        if op == "bit":
            img[off] ^= val
        elif op in ("byte", "byte8"):
            img[off] = val
        elif op == "splice":
            img[off:off + 32] = bytes(img[val:val + 32]).ljust(32, b"\0")[:32]
        else:
            struct.pack_into({"u16": "<H", "u32": "<I", "u64": "<Q"}[op], img, off, val)
    if len(img) >= BS and struct.unpack_from("<I", img, sbtool.SB_OFF + sbtool.COMPAT_OFF)[0] & sbtool.SB_CHKSUM:
        sbtool.put_u32(img, sbtool.CRC_OFF, sbtool.sb_crc(img))
    if seed.mode == "resealed":
        data = bytes(img[:seed.area])
        tree, root = mksecurity.merkle(data)
        trailer = mksecurity.descriptor(len(data), root)
        kc = bytes(img[-64:])
        img = bytearray(data + tree + trailer + b"\0" * (BS - len(trailer)))
        if seed.key:
            # The key check (last 64 bytes of the trailer block): made again over
            # the new image digest with the old nonce, unless mutated itself.
            if not any(k == "key check" for k, _, _, _ in muts) and kc[:8] == b"RerofsKc":
                digest = hashlib.sha256(trailer).digest()
                with open(seed.key, "rb") as f:
                    key = f.read()
                kc = kc[:28] + aesgcm.gcm_tag_empty(key, kc[16:28], b"rerofs key check" + digest) + kc[44:]
            img[-64:] = kc
    return bytes(img)


def describe(muts):
    out = []
    for kind, off, op, val in muts:
        v = ("from %d" % val) if op == "splice" else ("%#x" % val)
        out.append("%s@%d %s %s" % (op, off, kind, v))
    return "; ".join(out)


# ---------------------------------------------------------------- the kernel
_libc = None


def libc():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def sys_mount(src, mnt, fstype, opts):
    import ctypes
    if libc().mount(fsb(src), fsb(mnt), fstype.encode(), 1, opts.encode()) == 0:  # MS_RDONLY
        return 0
    return ctypes.get_errno() or errno.EIO


def sys_umount(mnt, flags=0):
    import ctypes
    if libc().umount2(fsb(mnt), flags) == 0:
        return 0
    return ctypes.get_errno() or errno.EIO


class Kmsg:
    """New kernel log records since the last call (nonblocking /dev/kmsg)."""

    def __init__(self):
        try:
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.fd = None

    def new(self):
        out = []
        while self.fd is not None:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:  # records overwritten: go on
                    continue
                break
            if not rec:
                break
            text = rec.decode("utf-8", "replace")
            out.append(text.split(";", 1)[-1].split("\n", 1)[0])
        return out


# ---------------------------------------------------------------- the walk
class Walk:
    def __init__(self):
        self.errors = {}
        self.entries = 0
        self.read = 0
        self.loop = None

    def err(self, e):
        self.errors[e.errno] = self.errors.get(e.errno, 0) + 1

    def run(self, mnt):
        t0 = time.monotonic()
        try:
            os.statvfs(mnt)
        except OSError as e:
            self.err(e)
        seen = set()
        stack = [(fsb(mnt), 0)]
        while stack:
            d, depth = stack.pop()
            try:
                st = os.lstat(d)
            except OSError as e:
                self.err(e)
                continue
            if (st.st_dev, st.st_ino) in seen or depth > MAX_DEPTH:
                continue
            seen.add((st.st_dev, st.st_ino))
            self.xattrs(d)
            try:
                os.lstat(os.path.join(d, b"no such name, surely"))
            except OSError as e:
                if e.errno != errno.ENOENT:
                    self.err(e)
            names = self.readdir(d)
            if names is None:
                continue
            for name in names:
                self.entries += 1
                if self.entries > MAX_ENTRIES or time.monotonic() - t0 > MAX_WALK_S:
                    return
                self.entry(os.path.join(d, name), depth, stack)

    def readdir(self, d):
        """The names in directory d (getdents64 by hand: os.scandir loops in C
        as long as getdents returns only "." and "..", and a directory whose
        getdents never ends must be noticed, not hang the campaign)."""
        import ctypes
        try:
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            self.err(e)
            return None
        buf = ctypes.create_string_buffer(32768)
        names, calls, returned = [], 0, 0
        try:
            while True:
                calls += 1
                if calls > GETDENTS_MAX_CALLS or returned > GETDENTS_MAX_ENTRIES:
                    self.loop = "getdents on %s did not end: %d calls returned %d entries (%d distinct names)" % (
                        os.fsdecode(d), calls - 1, returned, len(set(names)))
                    return names
                n = libc().syscall(217, fd, buf, len(buf))  # SYS_getdents64 (x86_64)
                if n < 0:
                    self.err(OSError(ctypes.get_errno(), "getdents64"))
                    return names
                if n == 0:
                    return names
                raw, off = buf.raw[:n], 0
                while off + 19 <= n:
                    reclen = struct.unpack_from("<H", raw, off + 16)[0]
                    if reclen < 20 or off + reclen > n:
                        break
                    name = raw[off + 19:off + reclen].split(b"\0", 1)[0]
                    returned += 1
                    if name not in (b".", b".."):
                        names.append(name)
                    off += reclen
        finally:
            os.close(fd)

    def entry(self, p, depth, stack):
        try:
            st = os.lstat(p)
        except OSError as e:
            self.err(e)
            return
        m = st.st_mode
        if stat.S_ISDIR(m):
            stack.append((p, depth + 1))
            return
        self.xattrs(p)
        if stat.S_ISLNK(m):
            try:
                os.readlink(p)
            except OSError as e:
                self.err(e)
        elif stat.S_ISREG(m):
            self.readfile(p, st.st_size)

    def xattrs(self, p):
        try:
            names = os.listxattr(p, follow_symlinks=False)
        except OSError as e:
            self.err(e)
            return
        for n in names:
            try:
                os.getxattr(p, n, follow_symlinks=False)
            except OSError as e:
                self.err(e)

    def readfile(self, p, size):
        if self.read >= MAX_READ:
            return
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            self.err(e)
            return
        try:
            got = 0
            while got < MAX_FILE:
                b = os.read(fd, 65536)
                if not b:
                    break
                got += len(b)
            self.read += got
            if size > MAX_FILE:
                # The end of a long (or claimed long) file, and a middle.
                for off in (size - 1, size // 2, (1 << 40)):
                    os.pread(fd, 4096, off)
        except OSError as e:
            self.err(e)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- the campaign
class Stats:
    def __init__(self):
        self.tried = self.mounted = self.refused = self.readerr = 0
        self.merr = {}


def copy_blob(seed, work):
    """The seed's blob (file) or blob directory, copied once into WORK."""
    if not seed.blob:
        return None
    dst = os.path.join(work, "blob-" + seed.base)
    if os.path.exists(dst):
        return dst
    if os.path.isdir(seed.blob):
        os.makedirs(dst)
        for n in os.listdir(seed.blob):
            with open(os.path.join(seed.blob, n), "rb") as f, open(os.path.join(dst, n), "wb") as g:
                g.write(f.read())
    else:
        with open(seed.blob, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    return dst


def read_cases(path, campaign):
    """[(campaign, case, seed name or None)] of a regression-case file."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) == 1:
                out.append((campaign, int(line[0]), None))
            elif len(line) in (2, 3):
                out.append((int(line[0]), int(line[1]), line[2] if len(line) == 3 else None))
    return out


def seed_of(seeds, case, name=None):
    if name is None:
        return seeds[case % len(seeds)]
    for s in seeds:
        if s.name == name:
            return s
    raise SystemExit("mutate: no seed named %s (a regression case names it)" % name)


def cmd_run(seeddir, work, mnt, start=0, n=60, campaign=1, only=None, cases=None, keep=None, progress=None):
    seeds = load_seeds(seeddir)
    if only:
        seeds = [s for s in seeds if s.name in only or s.base in only]
        if not seeds:
            raise SystemExit("mutate: --only %s names no seed" % ",".join(only))
    os.makedirs(mnt, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    img = os.path.join(work, "mutated.img")
    todo = read_cases(cases, campaign) if cases else []
    have = set(s.name for s in seeds)
    todo = [t for t in todo if t[2] is None or t[2] in have]  # (--only)
    nreg = len(todo)
    todo += [(campaign, c, None) for c in range(start, start + n)]
    stats = {s.name: Stats() for s in seeds}
    errnos = {}
    findings = 0
    found = []
    umount_failed = 0
    readdir_loops = 0
    kmsg = Kmsg()
    t0 = time.monotonic()
    tm = {"prepare": 0.0, "mount": 0.0, "walk": 0.0, "umount": 0.0}
    add_keys(seeds)
    for i, (camp, c, name) in enumerate(todo):
        t1 = time.monotonic()
        seed = seed_of(seeds, c, name)
        muts = draw(seed, case_rng(camp, c))
        data = apply(seed, muts)
        blob = copy_blob(seed, work)
        with open(img, "wb") as f:
            f.write(data)
        if progress:
            try:
                with open(progress, "w") as f:
                    # The case about to be mounted, then the counts so far (of
                    # this run: a partial run still says how far it got).
                    f.write("%d %d %s after %d images: %d mounted, %d refused, %d read errors, %d findings\n" % (
                        camp, c, seed.name, i, sum(x.mounted for x in stats.values()),
                        sum(x.refused for x in stats.values()), sum(x.readerr for x in stats.values()), findings))
            except OSError:
                progress = None
        kmsg.new()
        st = stats[seed.name]
        st.tried += 1
        t2 = time.monotonic()
        tm["prepare"] += t2 - t1
        rc = sys_mount(img, mnt, "rerofs", seed.options(blob))
        t1 = time.monotonic()
        tm["mount"] += t1 - t2
        bad_umount = None
        if rc:
            st.refused += 1
            st.merr[rc] = st.merr.get(rc, 0) + 1
        else:
            st.mounted += 1
            w = Walk()
            w.run(mnt)
            t2 = time.monotonic()
            tm["walk"] += t2 - t1
            for e, k in w.errors.items():
                errnos[e] = errnos.get(e, 0) + k
            st.readerr += sum(w.errors.values())
            if w.loop:
                bad_umount = w.loop
                readdir_loops += 1
            urc = sys_umount(mnt)
            tm["umount"] += time.monotonic() - t2
            if urc:
                bad_umount = "umount failed: %s" % os.strerror(urc)
                umount_failed += 1
                sys_umount(mnt, 2)  # MNT_DETACH: the next case needs the mount point
        lines = [ln for ln in kmsg.new() if BAD.search(ln)]
        if lines or bad_umount:
            findings += 1
            why = bad_umount or lines[0]
            found.append("FOUND case %d %d (%s, %s): %s" % (camp, c, seed.name, describe(muts), why))
            found += ["  kernel: " + ln for ln in lines[:5]]
            if keep:
                try:
                    os.makedirs(keep, exist_ok=True)
                    stem = os.path.join(keep, "case-%d-%d" % (camp, c))
                    with open(stem + ".img", "wb") as f:
                        f.write(data)
                    with open(stem + ".json", "w") as f:
                        json.dump({"campaign": camp, "case": c, "seed": seed.name,
                                   "options": seed.options("BLOB"), "mutations": muts,
                                   "why": why, "kernel": lines[:40]}, f, indent=1)
                except OSError as e:
                    print("mutate: cannot keep case %d in %s: %s" % (c, keep, e))
    secs = time.monotonic() - t0
    tot = Stats()
    print("%-24s %6s %7s %7s %10s  refusals" % ("seed", "tried", "mounted", "refused", "read errs"))
    for s in seeds:
        st = stats[s.name]
        tot.tried += st.tried
        tot.mounted += st.mounted
        tot.refused += st.refused
        tot.readerr += st.readerr
        why = ", ".join("%s %d" % (errno.errorcode.get(e, e), k) for e, k in sorted(st.merr.items()))
        print("%-24s %6d %7d %7d %10d  %s" % (s.name, st.tried, st.mounted, st.refused, st.readerr, why))
    print("%-24s %6d %7d %7d %10d" % ("total", tot.tried, tot.mounted, tot.refused, tot.readerr))
    print("read errors by errno: %s" % (", ".join("%s %d" % (errno.errorcode.get(e, e), k)
                                                  for e, k in sorted(errnos.items())) or "none"))
    print("mutate: campaign %d, cases %d..%d%s, %d seeds, %.0f s (%.2f s an image: %s); %d findings" % (
        campaign, start, start + n - 1, " + %d regression cases" % nreg if nreg else "", len(seeds),
        secs, secs / max(1, len(todo)), ", ".join("%s %.0f s" % kv for kv in tm.items()), findings))
    # After the table (the caller shows the first lines of the output); every
    # finding is in --keep DIR too.
    for ln in found[:30]:
        print(ln)
    if tot.tried != len(todo):
        print("mutate: harness error: %d cases tried of %d" % (tot.tried, len(todo)))
        return 2
    return 1 if umount_failed or readdir_loops else 0


def cmd_make(seeddir, case, out, campaign=1, name=None):
    seeds = load_seeds(seeddir)
    seed = seed_of(seeds, case, name)
    muts = draw(seed, case_rng(campaign, case))
    with open(out, "wb") as f:
        f.write(apply(seed, muts))
    print("case %d %d: seed %s, mount -t rerofs -o ro%s %s MNT" % (
        campaign, case, seed.name, ("," + seed.options(seed.blob)) if seed.blob or seed.mode == "off" else "", out))
    for m in muts:
        print("  " + describe([m]))
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "run":
        kw = {}
        a = argv[4:]
        names = {"--start": ("start", int), "-n": ("n", int), "--seed": ("campaign", int),
                 "--only": ("only", lambda v: v.split(",")), "--cases": ("cases", str),
                 "--keep": ("keep", str), "--progress": ("progress", str)}
        while a:
            if a[0] not in names or len(a) < 2:
                raise SystemExit(__doc__)
            k, conv = names[a[0]]
            kw[k] = conv(a[1])
            a = a[2:]
        return cmd_run(argv[1], argv[2], argv[3], **kw)
    if len(argv) in (4, 6, 8) and argv[0] == "make":
        kw = {}
        a = argv[4:]
        while a:
            if a[0] not in ("--seed", "--name"):
                raise SystemExit(__doc__)
            kw["campaign" if a[0] == "--seed" else "name"] = int(a[1]) if a[0] == "--seed" else a[1]
            a = a[2:]
        return cmd_make(argv[1], int(argv[2]), argv[3], **kw)
    print(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code)
            sys.exit(2)
        raise
