#!/usr/bin/python3
"""rerofs fault and load tests, guest side (selftests/guest/faults.sh runs them).

Every command does its syscalls in this one process (mount(2), finit_module(2),
getdents64(2) through ctypes): a fork+exec costs about a second in the emulated
guest.

  faults.py nth OP MNT REF.json [--meta META --blobdir DIR --opts OPTS --allow ERRNO,..] [--long]
      Fails the N-th fault point (allocation) of one operation, for N = 1, 2, ...
      (/proc/thread-self/fail-nth, with failslab and fail_page_alloc set up to
      count every allocation), OP one of: mount (of META with blobdir=DIR and
      OPTS on MNT), stat (lookup + lstat), read (open, read all, close), readdir,
      getxattr. The fault points of the operation are counted first (an armed
      run that never fails); --long tries every one, the default a sample.
      Pass: each faulted run succeeds or fails with ENOMEM (EIO for a read),
      what it returns is right (sha256, names, values against REF.json), the
      same operation run at once without a fault succeeds and is right (nothing
      failed stays cached), and a mount that failed left no mount behind.
  faults.py readall MNT REF.json [--expect-eio LIST] [--save LIST] [--drop] [--only LIST]
      Reads every regular file of REF under MNT (--only: those listed; --drop:
      after drop_caches): counts correct, EIO, wrong.
      Without --expect-eio, any error fails; with it, the files that fail with
      EIO must be exactly those listed (--save writes the list of EIO files).
      Wrong data fails always.
  faults.py load MNT REF.json --meta2 META --blobdir2 DIR --mnt2 MNT2
      [--readers 8] [--seconds S]
      READERS processes read the files of REF under MNT in their own orders
      (sha256 checked) while one drops the caches in a loop and another
      mounts and unmounts META (blobdir= DIR) on MNT2 over and over.
  faults.py memcg CGROUP MNT REF.json
      A child joins CGROUP (cgroup v2 directory) and reads every file of REF
      under MNT once; prints the cgroup's memory.events and memory.peak.
  faults.py modcycle KO N [--mount IMG --mnt MNT --opts OPTS]
      rmmod + insmod (delete_module, finit_module) N times; every tenth cycle
      mounts IMG on MNT, reads it and unmounts it. The module is loaded at the end.
"""
import ctypes
import errno
import hashlib
import json
import os
import random
import signal
import stat
import struct
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 1
MNT_DETACH = 2
SYS_getdents64 = 217
SYS_finit_module = 313
SYS_delete_module = 176
DEBUGFS = "/sys/kernel/debug"
BUF = bytearray(1 << 20)  # the read buffer, touched before any armed run
BUFV = memoryview(BUF)
DENTS = ctypes.create_string_buffer(32768)


def fsb(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


def err_name(e):
    return errno.errorcode.get(e, str(e))


def wfile(path, value):
    with open(path, "w") as f:
        f.write(value)


def rfile(path):
    with open(path) as f:
        return f.read().strip()


# ---------------------------------------------------------------- syscalls
def sys_mount(src, mnt, opts):
    if LIBC.mount(fsb(src), fsb(mnt), b"rerofs", MS_RDONLY, fsb(opts)) == 0:
        return 0
    return ctypes.get_errno()


def sys_umount(mnt, flags=0):
    if LIBC.umount2(fsb(mnt), flags) == 0:
        return 0
    return ctypes.get_errno()


def is_mounted(mnt):
    mnt = os.fsdecode(os.path.realpath(mnt))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4] == mnt:
                return True
    return False


def drop_caches():
    # Twice: the first pass may only clear the "referenced" bit of recently
    # used dentries and inodes (the shrinker gives them a second chance).
    wfile("/proc/sys/vm/drop_caches", "3")
    wfile("/proc/sys/vm/drop_caches", "3")


def sha_file(path):
    """sha256 of a file read with one preallocated buffer (no allocation in the
    loop). Raises OSError."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            n = os.readv(fd, [BUF])
            if n == 0:
                break
            h.update(BUFV[:n])
    finally:
        os.close(fd)
    return h.hexdigest()


def getdents(path):
    """Names in a directory, through getdents64 into a preallocated buffer."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    names = []
    try:
        while True:
            n = LIBC.syscall(SYS_getdents64, fd, DENTS, len(DENTS))
            if n < 0:
                raise OSError(ctypes.get_errno(), "getdents64")
            if n == 0:
                break
            raw = DENTS.raw[:n]
            off = 0
            while off < n:
                reclen = struct.unpack_from("<H", raw, off + 16)[0]
                name = raw[off + 19:off + reclen].split(b"\0", 1)[0]
                names.append(name)
                off += reclen
    finally:
        os.close(fd)
    return names


def load_ref(refp):
    return json.load(open(refp))


def ref_files(ref):
    return sorted(p for p, e in ref.items() if stat.S_ISREG(e["mode"]))


# ---------------------------------------------------------------- fail-nth
class FailNth:
    """The calling thread's fail-nth: fail its N-th fault point from now on."""

    def __init__(self):
        self.fd = os.open("/proc/thread-self/fail-nth", os.O_RDWR)

    def arm(self, n):
        os.write(self.fd, b"%d" % n)

    def disarm(self):
        """Clears it; returns what was left (0: the fault was injected)."""
        left = int(os.pread(self.fd, 32, 0))
        os.write(self.fd, b"0")
        return left


KNOBS = {
    # Count every allocation, not only the atomic ones; print nothing (a stack
    # dump has "Call Trace", which the selftests treat as a kernel complaint).
    "failslab": {"ignore-gfp-wait": "N", "verbose": "0"},
    "fail_page_alloc": {"ignore-gfp-wait": "N", "ignore-gfp-highmem": "N", "min-order": "0", "verbose": "0"},
}


def fi_setup():
    saved = {}
    for d, knobs in KNOBS.items():
        for k, v in knobs.items():
            p = "%s/%s/%s" % (DEBUGFS, d, k)
            saved[p] = rfile(p)
            wfile(p, v)
    return saved


def fi_restore(saved):
    for p, v in saved.items():
        try:
            wfile(p, v)
        except OSError:
            pass


class Op:
    """One operation: run() returns a result or raises OSError; check(result)
    returns None when the result is right, else what is wrong."""

    allowed = (errno.ENOMEM,)
    fresh = True  # drop the caches before each run (so the path allocates)
    recheck = True  # after a fault, run again at once without one

    def prepare(self):
        if self.fresh:
            drop_caches()

    def cleanup(self, result):
        pass


class MountOp(Op):
    fresh = False
    recheck = False  # the next point's mount is the check (a mount costs seconds)

    def __init__(self, meta, blobdir, opts, mnt, probe, probe_sha):
        self.meta, self.mnt, self.probe, self.probe_sha = fsb(meta), fsb(mnt), probe, probe_sha
        os.makedirs(self.mnt, exist_ok=True)
        o = "blobdir=" + blobdir + ("," + opts if opts else "")
        self.opts = fsb(o)
        self.desc = "mount -o %s" % o

    def run(self):
        e = LIBC.mount(self.meta, self.mnt, b"rerofs", MS_RDONLY, self.opts)
        if e != 0:
            raise OSError(ctypes.get_errno(), "mount")
        return True

    def check(self, result):
        if not is_mounted(self.mnt):
            return "mount returned 0 but nothing is mounted"
        try:
            got = sha_file(os.path.join(self.mnt, fsb(self.probe)))
        except OSError as e:
            return "the new mount cannot read %s: %s" % (self.probe, err_name(e.errno))
        if got != self.probe_sha:
            return "the new mount reads %s wrongly" % self.probe
        return None

    def cleanup(self, result):
        if result is not None or is_mounted(self.mnt):
            e = sys_umount(self.mnt)
            if e:
                raise SystemExit("umount %s: %s" % (self.mnt, err_name(e)))

    def after_failure(self):
        return "a failed mount left a mount behind" if is_mounted(self.mnt) else None


class StatOp(Op):
    def __init__(self, mnt, rel, ref):
        self.path = os.path.join(fsb(mnt), fsb(rel))
        self.want = ref[rel]["mode"]
        self.desc = "lookup + lstat of %s" % rel

    def run(self):
        return os.lstat(self.path).st_mode

    def check(self, mode):
        return None if mode == self.want else "mode %o, want %o" % (mode, self.want)


class ReadOp(Op):
    allowed = (errno.ENOMEM, errno.EIO)

    def __init__(self, mnt, rel, ref):
        self.path = os.path.join(fsb(mnt), fsb(rel))
        self.want = ref[rel]["sha256"]
        self.desc = "open + read + close of %s (%d bytes)" % (rel, os.stat(self.path).st_size)

    def run(self):
        return sha_file(self.path)

    def check(self, sha):
        return None if sha == self.want else "WRONG DATA: sha256 %s, want %s" % (sha[:16], self.want[:16])


class ReaddirOp(Op):
    def __init__(self, mnt, rel, ref):
        self.path = os.path.join(fsb(mnt), fsb(rel))
        pre = rel + "/"
        self.want = sorted([b".", b".."] + [os.fsencode(p[len(pre):]) for p in ref
                                            if p.startswith(pre) and "/" not in p[len(pre):]])
        self.desc = "readdir of %s (%d entries)" % (rel, len(self.want))

    def run(self):
        return getdents(self.path)

    def check(self, names):
        got = sorted(names)
        if got == self.want:
            return None
        return "WRONG ENTRIES: %d names, want %d (e.g. %s)" % (
            len(got), len(self.want), sorted(set(got) ^ set(self.want))[:3])


class XattrOp(Op):
    def __init__(self, mnt, rel, ref):
        self.path = os.path.join(fsb(mnt), fsb(rel))
        self.xattrs = ref[rel]["xattrs"]
        self.name = sorted(self.xattrs)[0]
        self.desc = "getxattr %s of %s" % (self.name, rel)

    def run(self):
        return os.getxattr(self.path, self.name, follow_symlinks=False)

    def check(self, value):
        return None if value.hex() == self.xattrs[self.name] else "WRONG VALUE"


def sample(total, long_mode, k=40, head=12):
    if long_mode or total <= k:
        return list(range(1, total + 1))
    pts = set(range(1, head + 1))
    span = total - head
    for i in range(k - head):
        pts.add(head + 1 + (i * span) // (k - head))
    pts.add(total)
    return sorted(pts)


def once(op, fi, n):
    """Runs op with its n-th fault point failed (n = 0: no fault).
    Returns (outcome, detail, injected)."""
    op.prepare()
    result, err = None, None
    if n:
        fi.arm(n)
    try:
        result = op.run()
    except OSError as e:
        err = e.errno
    except MemoryError:
        err = "python"
    left = fi.disarm() if n else 1
    injected = n and left == 0
    try:
        if err is None:
            bad = op.check(result)
            if bad:
                return "BAD", bad, injected
            # right despite the fault: it hit an allocation with a fallback (such as
            # kmemleak's own metadata, which falls back to its pool)
            return ("right (fault absorbed)" if injected else "right (no fault reached)"), None, injected
        if err == "python":
            return "python", None, injected  # the fault hit the interpreter itself
        if not injected:
            return "BAD", "failed with %s but no fault was injected" % err_name(err), injected
        if err not in op.allowed:
            return "BAD", "failed with %s (allowed: %s)" % (
                err_name(err), "/".join(err_name(a) for a in op.allowed)), injected
        after = getattr(op, "after_failure", lambda: None)()
        if after:
            return "BAD", after, injected
        return err_name(err), None, injected
    finally:
        op.cleanup(result)


def cmd_nth(opname, mnt, refp, meta=None, blobdir=None, opts="", long_mode=False, pick=None, allow=None):
    ref = load_ref(refp)
    files = ref_files(ref)
    # A probe file: small (a few blocks), in a subdirectory.
    sizes = {}
    if opname == "mount":
        probe = pick or files[len(files) // 2]
        op = MountOp(meta, blobdir, opts, mnt, probe, ref[probe]["sha256"])
        if allow:
            op.allowed = op.allowed + tuple(getattr(errno, a) for a in allow.split(","))
    else:
        if opname in ("stat", "read"):
            cand = [p for p in files if p.count("/") >= 1]
            for p in cand:
                sizes[p] = os.lstat(os.path.join(mnt, p)).st_size
            if opname == "read":
                mid = [p for p in cand if 12000 <= sizes[p] <= 40000]
                rel = pick or (mid or cand)[0]
            else:
                rel = pick or max(cand, key=lambda p: p.count("/"))
            op = (StatOp if opname == "stat" else ReadOp)(mnt, rel, ref)
        elif opname == "readdir":
            dirs = [p for p, e in ref.items() if stat.S_ISDIR(e["mode"])]
            count = {d: 0 for d in dirs}
            for p in ref:
                d = p.rsplit("/", 1)[0] if "/" in p else None
                if d in count:
                    count[d] += 1
            rel = pick or max(dirs, key=lambda d: (count[d] if count[d] <= 200 else 0, d))
            op = ReaddirOp(mnt, rel, ref)
        elif opname == "getxattr":
            rel = pick or sorted(p for p, e in ref.items() if e.get("xattrs"))[0]
            op = XattrOp(mnt, rel, ref)
        else:
            raise SystemExit("unknown operation " + opname)
    saved = fi_setup()
    fi = FailNth()
    wfile("/proc/sys/vm/drop_caches", "4")  # no "drop_caches: 3" line per run
    try:
        # The fault points of one run (armed far away: nothing fails), after a
        # run that warms up the interpreter (its first run of a path faults
        # pages in, which are fault points too); the larger of two counts.
        big = 1 << 30
        total = 0
        for armed in (False, True, True):
            op.prepare()
            if armed:
                fi.arm(big)
            try:
                result = op.run()
            finally:
                left = fi.disarm() if armed else big
            total = max(total, big - left)
            bad = op.check(result)
            op.cleanup(result)
            if bad:
                print("%s: the run without faults is wrong: %s" % (op.desc, bad))
                return 1
        # (a mount costs less than the twice dropped caches of the other operations)
        points = sample(total, long_mode, *((64, 16) if opname == "mount" else (30, 10)))
        print("%s: %d fault points; trying %d of them%s" % (
            op.desc, total, len(points), "" if len(points) == total else " (RERO_FAULTS_LONG=1: all)"))
        counts, fails, t0 = {}, [], time.time()
        n = points[0] if points else 1
        for n in points:
            outcome, detail, injected = once(op, fi, n)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome == "BAD":
                fails.append("fault %d: %s" % (n, detail))
                continue
            if injected and op.recheck:
                # The same operation again, no fault, caches as the fault left them.
                op.fresh, keep = False, op.fresh
                try:
                    outcome2, detail2, _ = once(op, fi, 0)
                finally:
                    op.fresh = keep
                if not outcome2.startswith("right"):
                    counts["BAD after"] = counts.get("BAD after", 0) + 1
                    fails.append("fault %d (%s), then without a fault: %s %s" % (n, outcome, outcome2, detail2 or ""))
        # Past the last point: no fault happens, the operation succeeds.
        outcome, detail, injected = once(op, fi, total + 64)
        if not outcome.startswith("right"):
            fails.append("fault %d (past the end): %s %s" % (total + 64, outcome, detail or ""))
        if not any(counts.get(err_name(a)) for a in op.allowed):
            fails.append("no faulted run failed: the fault injection did nothing?")
        print("  outcomes: %s (%.1f s)" % (", ".join("%s %d" % kv for kv in sorted(counts.items())), time.time() - t0))
        for f in fails[:20]:
            print("  " + f)
        return 1 if fails else 0
    finally:
        fi_restore(saved)
        if opname == "mount" and is_mounted(mnt):
            sys_umount(mnt)


# ---------------------------------------------------------------- readall
def read_all(mnt, files, ref):
    ok, eio, wrong, other = [], [], [], []
    for p in files:
        try:
            got = sha_file(os.path.join(fsb(mnt), fsb(p)))
        except OSError as e:
            (eio if e.errno == errno.EIO else other).append(p if e.errno == errno.EIO else "%s (%s)" % (p, err_name(e.errno)))
            continue
        (ok if got == ref[p]["sha256"] else wrong).append(p)
    return ok, eio, wrong, other


def cmd_readall(mnt, refp, expect=None, save=None, drop=False, only=None):
    ref = load_ref(refp)
    if drop:
        wfile("/proc/sys/vm/drop_caches", "4")
        drop_caches()
    files = ref_files(ref)
    if only:
        files = sorted(set(l.rstrip("\n") for l in open(only) if l.strip()))
    ok, eio, wrong, other = read_all(mnt, files, ref)
    print("%d files: %d correct, %d EIO, %d WRONG DATA, %d other errors" % (
        len(files), len(ok), len(eio), len(wrong), len(other)))
    for w in (wrong + other)[:10]:
        print("  wrong/other: " + w)
    if save:
        with open(save, "w") as f:
            f.write("".join(p + "\n" for p in eio))
    rc = 0 if not (wrong or other) else 1
    if expect is None:
        if eio:
            print("  EIO: %s" % eio[:10])
            rc = 1
    else:
        want = [l.rstrip("\n") for l in open(expect) if l.strip()]
        if sorted(want) != sorted(eio):
            print("  EIO on %d files, expected on %d: unexpected %s, missing %s" % (
                len(eio), len(want), sorted(set(eio) - set(want))[:5], sorted(set(want) - set(eio))[:5]))
            rc = 1
        else:
            print("  EIO exactly on the %d files whose blocks lie in the bad range" % len(eio))
    return rc


# ---------------------------------------------------------------- load
def reader(mnt, files, ref, seed, deadline):
    rng = random.Random(seed)
    order = list(files)
    n = nbytes = 0
    while time.time() < deadline:
        rng.shuffle(order)
        for p in order:
            if time.time() >= deadline:
                break
            path = os.path.join(fsb(mnt), fsb(p))
            try:
                got = sha_file(path)
            except OSError as e:
                print("reader %d: %s: %s" % (seed, p, err_name(e.errno)), flush=True)
                return 1
            if got != ref[p]["sha256"]:
                print("reader %d: %s: WRONG DATA" % (seed, p), flush=True)
                return 1
            n += 1
            nbytes += os.stat(path).st_size
    print("reader %d: %d files, %.1f MiB, all correct" % (seed, n, nbytes / 1048576), flush=True)
    return 0


def dropper(deadline):
    n = 0
    while time.time() < deadline:
        # The page cache (file data and the verified blocks); every fourth time
        # the dentries and inodes too (slower: the slab shrinkers).
        wfile("/proc/sys/vm/drop_caches", "3" if n % 4 == 3 else "1")
        n += 1
        time.sleep(0.2)
    print("drop_caches: %d times" % n, flush=True)
    return 0 if n else 1


def mounter(meta, blobdir, mnt, probe, want, deadline):
    n = 0
    os.makedirs(mnt, exist_ok=True)
    while time.time() < deadline:
        e = sys_mount(meta, mnt, "blobdir=" + blobdir)
        if e:
            print("mounter: mount %s: %s" % (meta, err_name(e)), flush=True)
            return 1
        try:
            os.listdir(mnt)
            if sha_file(os.path.join(mnt, probe)) != want:
                print("mounter: %s: WRONG DATA" % probe, flush=True)
                return 1
        except OSError as ex:
            print("mounter: %s: %s" % (probe, err_name(ex.errno)), flush=True)
            sys_umount(mnt)
            return 1
        e = sys_umount(mnt)
        if e:
            print("mounter: umount: %s" % err_name(e), flush=True)
            return 1
        n += 1
    print("mounter: %d mount + read + umount cycles of the second image" % n, flush=True)
    return 0


def spawn(fn, *args):
    pid = os.fork()
    if pid == 0:
        rc = 1
        try:
            rc = fn(*args)
        except BaseException as e:  # report anything, never return into the parent's code
            print("child: %r" % e, flush=True)
        os._exit(rc)
    return pid


def cmd_load(mnt, refp, meta2, blobdir2, mnt2, readers=8, seconds=20):
    ref = load_ref(refp)
    files = ref_files(ref)
    # The second image's probe: its first regular file (ref2.json beside it, or any file).
    probe, want = None, None
    wfile("/proc/sys/vm/drop_caches", "4")
    os.makedirs(mnt2, exist_ok=True)
    e = sys_mount(meta2, mnt2, "blobdir=" + blobdir2)
    if e:
        print("mount of the second image: %s" % err_name(e))
        return 1
    for d, _, fs in os.walk(mnt2):
        for f in sorted(fs):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 4096:
                probe, want = os.path.relpath(p, mnt2), sha_file(p)
                break
        if probe:
            break
    sys_umount(mnt2)
    if not probe:
        print("no file to read in the second image")
        return 1
    sys.stdout.flush()
    deadline = time.time() + seconds
    pids = {spawn(reader, mnt, files, ref, i + 1, deadline): "reader %d" % (i + 1) for i in range(readers)}
    pids[spawn(dropper, deadline)] = "drop_caches loop"
    pids[spawn(mounter, meta2, blobdir2, mnt2, probe, want, deadline)] = "mount/umount loop"
    rc = 0
    for pid, what in pids.items():
        _, st = os.waitpid(pid, 0)
        if not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0):
            print("%s: failed (wait status %#x)" % (what, st))
            rc = 1
    return rc


def cmd_memcg(cg, mnt, refp):
    ref = load_ref(refp)
    files = ref_files(ref)
    total = sum(os.stat(os.path.join(mnt, p)).st_size for p in files)
    wfile("/proc/sys/vm/drop_caches", "4")
    drop_caches()
    limit = rfile(os.path.join(cg, "memory.max"))
    print("reading %d files, %.1f MiB, in a cgroup with memory.max %s (%.1f MiB)" % (
        len(files), total / 1048576, limit, int(limit) / 1048576 if limit.isdigit() else 0))
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        rc = 1
        try:
            wfile(os.path.join(cg, "cgroup.procs"), str(os.getpid()))
            ok, eio, wrong, other = read_all(mnt, files, ref)
            print("reader in the cgroup: %d correct, %d EIO, %d WRONG DATA, %d other errors" % (
                len(ok), len(eio), len(wrong), len(other)), flush=True)
            for w in (eio + wrong + other)[:5]:
                print("  " + w, flush=True)
            rc = 0 if len(ok) == len(files) else 1
        except BaseException as e:
            print("reader: %r" % e, flush=True)
        os._exit(rc)
    _, st = os.waitpid(pid, 0)
    ev = dict(l.split() for l in open(os.path.join(cg, "memory.events")))
    peak = rfile(os.path.join(cg, "memory.peak")) if os.path.exists(os.path.join(cg, "memory.peak")) else "?"
    print("memory.events: %s; memory.peak %s" % (", ".join("%s %s" % kv for kv in ev.items()), peak))
    if os.WIFSIGNALED(st):
        print("the reader was killed by signal %d%s" % (
            os.WTERMSIG(st), " (OOM kill)" if os.WTERMSIG(st) == signal.SIGKILL else ""))
        return 1
    if int(ev.get("oom_kill", 0)):
        print("OOM kills in the cgroup")
        return 1
    if not int(ev.get("max", 0)):
        print("the cgroup never reached memory.max: the limit did not bite")
        return 1
    return 0 if os.WEXITSTATUS(st) == 0 else 1


# ---------------------------------------------------------------- module cycles
def cmd_modcycle(ko, n, img=None, mnt=None, mopts=""):
    fd = os.open(ko, os.O_RDONLY)
    if mnt:
        os.makedirs(mnt, exist_ok=True)
    t0 = time.time()
    mounts = 0
    for i in range(n):
        if LIBC.syscall(SYS_delete_module, b"rerofs", os.O_NONBLOCK) != 0:
            print("cycle %d: delete_module: %s" % (i, err_name(ctypes.get_errno())))
            return 1
        if LIBC.syscall(SYS_finit_module, fd, b"", 0) != 0:
            print("cycle %d: finit_module: %s" % (i, err_name(ctypes.get_errno())))
            return 1
        if img and i % 10 == 9:
            e = sys_mount(img, mnt, mopts)
            if e:
                print("cycle %d: mount: %s" % (i, err_name(e)))
                return 1
            try:
                for d, _, fs in os.walk(mnt):
                    for f in fs:
                        p = os.path.join(d, f)
                        if os.path.isfile(p) and not os.path.islink(p):
                            sha_file(p)
            finally:
                e = sys_umount(mnt)
            if e:
                print("cycle %d: umount: %s" % (i, err_name(e)))
                return 1
            mounts += 1
    print("%d rmmod + insmod cycles (%d with a mount, walk and umount) in %.1f s" % (n, mounts, time.time() - t0))
    return 0


def main(a):
    opts = {}
    pos = []
    i = 0
    while i < len(a):
        if a[i] == "--long":
            opts["long"] = True
        elif a[i] == "--drop":
            opts["drop"] = True
        elif a[i].startswith("--"):
            opts[a[i][2:]] = a[i + 1]
            i += 1
        else:
            pos.append(a[i])
        i += 1
    if pos[:1] == ["nth"] and len(pos) == 4:
        return cmd_nth(pos[1], pos[2], pos[3], opts.get("meta"), opts.get("blobdir"), opts.get("opts", ""),
                       opts.get("long", False), opts.get("pick"), opts.get("allow"))
    if pos[:1] == ["readall"] and len(pos) == 3:
        return cmd_readall(pos[1], pos[2], opts.get("expect-eio"), opts.get("save"), opts.get("drop", False),
                           opts.get("only"))
    if pos[:1] == ["load"] and len(pos) == 3:
        return cmd_load(pos[1], pos[2], opts["meta2"], opts["blobdir2"], opts["mnt2"],
                        int(opts.get("readers", 8)), float(opts.get("seconds", 20)))
    if pos[:1] == ["memcg"] and len(pos) == 4:
        return cmd_memcg(pos[1], pos[2], pos[3])
    if pos[:1] == ["modcycle"] and len(pos) == 3:
        return cmd_modcycle(pos[1], int(pos[2]), opts.get("mount"), opts.get("mnt"), opts.get("opts", ""))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
