# SPDX-License-Identifier: GPL-2.0
"""Guest side of bench/read.sh, run by bench/guest-read.sh as `python3 -I -S`.

One process does every measurement (a python start costs seconds in the guest):
it mounts every contender at once, then for each repetition runs each workload
on each contender in turn (each rerofs contender next to its C peers, the groups
rotating and the order reversed every other repetition: `run_order`), dropping
the guest's caches before every cold run. It prints
progress lines starting with "# " and, last, one line "RESULT <json>" with every
sample, which bench/report.py turns into the table and the JSON file.

Usage: guest-bench.py DISK REPS RAND_OPS SHA_MIB
  DISK      the mounted ext4 disk bench/read.sh made (images, blobs, digests)
"""

import ctypes
import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

ROOT = "/tmp/bench"
MS_RDONLY = 1
LIBC = ctypes.CDLL(None, use_errno=True)
CONTENDERS = ["rerofs-off", "rerofs-on", "rerofs-on-buf", "rerofs-enc", "erofs-loop", "erofs-file", "erofs-dmverity",
              "erofs-fsverity", "erofs-dmcrypt-verity"]
# The order the contenders run in: each rerofs contender next to the C peers its
# targets compare it with (rerofs-off and erofs-file; rerofs-on and dm-verity,
# fs-verity; rerofs-enc and dm-crypt + dm-verity), so that a pair runs at nearly
# the same host speed (which drifts by a third over minutes under TCG here).
RUN_GROUPS = [["rerofs-off", "erofs-file"], ["rerofs-on", "erofs-dmverity", "erofs-fsverity"],
              ["rerofs-enc", "erofs-dmcrypt-verity"], ["rerofs-on-buf", "erofs-loop"]]
assert sorted(sum(RUN_GROUPS, [])) == sorted(CONTENDERS)


def run_order(rep):
    """Repetition rep's order: the groups rotated by one per repetition, and every
    other repetition reversed (so that which of a pair runs first alternates);
    a group is never split."""
    k = rep % len(RUN_GROUPS)
    order = sum(RUN_GROUPS[k:] + RUN_GROUPS[:k], [])
    return order[::-1] if rep % 2 else order


# mount-1k only: C EROFS file-backed mounting rerofs's own 1,000-blob image with
# one `device=` per blob file, in slot order: the same files rerofs-off opens
# (the other C contenders mount a one-device image of the same files).
MOUNT_ONLY = ["erofs-blobs"]
# dm-crypt of the encrypted peer: as rerofs's data units (AES-256-XTS, 4096-byte
# sectors, the plain64 IV).
# --profile's workloads, by their names in the table or short ones.
PROFILE_WORKLOADS = {"seq": "seq", "seq-cold": "seq", "rand": "rand", "rand-4k": "rand", "tree-read": "tree-read",
                     "tree-stat": "tree-stat", "mount": "mount", "mount-1k": "mount"}


def profile_specs(arg):
    """--profile's value (CONTENDER[:WORKLOAD],...) as [(contender, workload)];
    SystemExit naming the first one that is not a contender and a workload."""
    out = []
    for spec in [x for x in arg.split(",") if x]:
        c, _, w = spec.partition(":")
        w = PROFILE_WORKLOADS.get(w or "seq")
        if c not in CONTENDERS + MOUNT_ONLY or w is None or (c in MOUNT_ONLY and w != "mount"):
            raise SystemExit("--profile %s: contenders %s (%s: mount only); workloads %s"
                             % (spec, ", ".join(CONTENDERS), ", ".join(MOUNT_ONLY), ", ".join(PROFILE_WORKLOADS)))
        out.append((c, w))
    return out


if sys.argv[1:2] == ["--check-profile"]:  # bench/read.sh, on the host, before it builds anything
    profile_specs(sys.argv[2] if len(sys.argv) > 2 else "")
    sys.exit(0)
DISK, REPS, RAND_OPS, SHA_MIB = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DMCRYPT = ["--type", "plain", "--cipher", "aes-xts-plain64", "--key-size", "512", "--sector-size", "4096"]
T_START = time.monotonic()


def log(msg):
    print("# [%6.1f s] %s" % (time.monotonic() - T_START, msg), flush=True)


def run(*argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def mount(src, dst, fstype, data=None):
    os.makedirs(dst, exist_ok=True)
    d = data.encode() if data else None
    if LIBC.mount(src.encode(), dst.encode(), fstype.encode(), MS_RDONLY, d):
        e = ctypes.get_errno()
        raise SystemExit("mount %s on %s (%s, %s): %s" % (src, dst, fstype, data, os.strerror(e)))


# The new mount API (x86_64 syscall numbers): a C EROFS mount with one `device=`
# per blob, as many as the image has, which mount(2)'s one-page option string
# cannot carry.
SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 429, 430, 431, 432
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
MOUNT_ATTR_RDONLY, MOVE_MOUNT_F_EMPTY_PATH = 0x1, 0x4


def mount_devices(src, dst, fstype, devices):
    """Mounts SRC (fstype) on DST read-only with one `device=` per entry of DEVICES
    (fsopen, fsconfig, fsmount, move_mount)."""
    os.makedirs(dst, exist_ok=True)
    sc = LIBC.syscall

    def check(r, what):
        if r < 0:
            e = ctypes.get_errno()
            raise SystemExit("mount %s on %s (%s, %d devices): %s: %s"
                             % (src, dst, fstype, len(devices), what, os.strerror(e)))
        return r
    fd = check(sc(SYS_FSOPEN, fstype.encode(), 0), "fsopen")
    try:
        check(sc(SYS_FSCONFIG, fd, FSCONFIG_SET_STRING, b"source", src.encode(), 0), "fsconfig source")
        for d in devices:
            check(sc(SYS_FSCONFIG, fd, FSCONFIG_SET_STRING, b"device", d.encode(), 0), "fsconfig device")
        check(sc(SYS_FSCONFIG, fd, FSCONFIG_CMD_CREATE, None, None, 0), "fsconfig create")
        mfd = check(sc(SYS_FSMOUNT, fd, 0, MOUNT_ATTR_RDONLY), "fsmount")
        try:
            check(sc(SYS_MOVE_MOUNT, mfd, b"", -100, dst.encode(), MOVE_MOUNT_F_EMPTY_PATH), "move_mount")
        finally:
            os.close(mfd)
    finally:
        os.close(fd)


def do_mount(entry, dst):
    """Mounts one contender's source ENTRY: (src, fstype, options) for mount(2), or
    (src, fstype, [device, ...]) for the new mount API."""
    s, t, d = entry
    if isinstance(d, list):
        mount_devices(s, dst, t, d)
    else:
        mount(s, dst, t, d)


def umount(dst):
    if LIBC.umount2(dst.encode(), 0):
        e = ctypes.get_errno()
        raise SystemExit("umount %s: %s" % (dst, os.strerror(e)))


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def disk_reads():
    """(read requests completed, KiB read, ms spent reading) of the guest's disk
    so far: every contender's data comes from it (through ext4, a loop device or
    dm). The milliseconds are the sum over requests of issue to completion
    (Documentation/block/stat.rst: read ticks), the device's wait per request."""
    try:
        with open("/sys/block/vda/stat") as f:
            v = f.read().split()
        return int(v[0]), int(v[2]) // 2, int(v[3])
    except (OSError, IndexError, ValueError):
        return 0, 0, 0


def io_since(r0):
    r1 = disk_reads()
    n = r1[0] - r0[0]
    return "vda: %d reads, %d KiB, %.0f us each in the device" % (n, r1[1] - r0[1], (r1[2] - r0[2]) * 1e3 / max(n, 1))


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no %s in /proc/meminfo" % key)


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def losetup(path, ro=True):
    return run("losetup", *(["-r"] if ro else []), "-f", "--show", path)


def enable_fsverity(path):
    """FS_IOC_ENABLE_VERITY (SHA-256, 4 KiB blocks): the kernel hashes the file."""
    import fcntl
    import struct
    arg = struct.pack("<IIIIQII", 1, 1, 4096, 0, 0, 0, 0) + bytes(8 + 88)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, 0x40806685, arg)
    finally:
        os.close(fd)


def read_all(path):
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return n
            n += len(b)


def sources():
    """Mount arguments of each contender: the main image and the 1,000-blob one."""
    blobs, blobs1k = DISK + "/blobs", DISK + "/blobs1k"
    dig, dig1k = read_text(DISK + "/meta.digest"), read_text(DISK + "/meta1k.digest")
    dige, dig1ke = read_text(DISK + "/meta-enc.digest"), read_text(DISK + "/meta1k-enc.digest")
    dev = {}
    for img in ("erofs", "erofs1k"):
        dev[img] = losetup("%s/%s.img" % (DISK, img))
        data = losetup("%s/%s.img" % (DISK, img))
        hashes = losetup("%s/%s.verity" % (DISK, img))
        run("veritysetup", "open", data, "bench-" + img, hashes, read_text("%s/%s.roothash" % (DISK, img)))
        dmcrypt_verity(img)
    # rerofs-enc's image key, as a logon key (from a file: never in argv).
    with open(DISK + "/image.key", "rb") as k:
        subprocess.run(["keyctl", "padd", "logon", "rerofs:bench", "@u"], stdin=k, check=True,
                       stdout=subprocess.DEVNULL)
    return {
        "rerofs-off": [(DISK + "/meta.img", "rerofs", "verity=off,blobdir=" + blobs),
                       (DISK + "/meta1k.img", "rerofs", "verity=off,blobdir=" + blobs1k)],
        "rerofs-on": [(DISK + "/meta.img", "rerofs", "blobdir=%s,digest=%s" % (blobs, dig)),
                      (DISK + "/meta1k.img", "rerofs", "blobdir=%s,digest=%s" % (blobs1k, dig1k))],
        "rerofs-on-buf": [(DISK + "/meta.img", "rerofs", "blobdir=%s,digest=%s,io=buffered" % (blobs, dig)),
                          (DISK + "/meta1k.img", "rerofs", "blobdir=%s,digest=%s,io=buffered" % (blobs1k, dig1k))],
        "rerofs-enc": [(DISK + "/meta-enc.img", "rerofs", "blobdir=%s-enc,digest=%s,key=bench" % (blobs, dige)),
                       (DISK + "/meta1k-enc.img", "rerofs",
                        "blobdir=%s-enc,digest=%s,key=bench" % (blobs1k, dig1ke))],
        "erofs-loop": [(dev["erofs"], "erofs", None), (dev["erofs1k"], "erofs", None)],
        "erofs-file": [(DISK + "/erofs.img", "erofs", None), (DISK + "/erofs1k.img", "erofs", None)],
        "erofs-dmverity": [("/dev/mapper/bench-erofs", "erofs", None),
                           ("/dev/mapper/bench-erofs1k", "erofs", None)],
        "erofs-fsverity": [(DISK + "/erofs-fsv.img", "erofs", None),
                           (DISK + "/erofs1k-fsv.img", "erofs", None)],
        "erofs-dmcrypt-verity": [("/dev/mapper/bench-dmc-erofs", "erofs", None),
                                 ("/dev/mapper/bench-dmc-erofs1k", "erofs", None)],
        "erofs-blobs": [None, (DISK + "/meta1k.img", "erofs",
                               ["%s/%s" % (blobs1k, t) for t in read_text(DISK + "/meta1k.devices").split()])],
    }


def dmcrypt_verity(img):
    """The encrypted peer of IMG: C EROFS on dm-crypt (aes-xts-plain64) on
    dm-verity, the tree over the ciphertext as rerofs's trees are. The
    ciphertext is written through a dm-crypt mapping of a zeroed file."""
    plain = "%s/%s.img" % (DISK, img)
    ct = "%s/%s-ct.img" % (DISK, img)
    key = DISK + "/dmcrypt.key"
    with open(ct, "wb") as f:
        f.truncate(os.path.getsize(plain))
    w = losetup(ct, ro=False)
    run("cryptsetup", "open", *DMCRYPT, "--key-file", key, w, "bench-w-" + img)
    run("dd", "if=" + plain, "of=/dev/mapper/bench-w-" + img, "bs=1M", "oflag=direct", "status=none")
    run("cryptsetup", "close", "bench-w-" + img)
    run("losetup", "-d", w)
    out = subprocess.run(["veritysetup", "format", ct, ct + ".verity"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    root = [l.split()[-1] for l in out.splitlines() if l.startswith("Root hash:")][0]
    run("veritysetup", "open", losetup(ct), "bench-ctv-" + img, losetup(ct + ".verity"), root)
    run("cryptsetup", "open", *DMCRYPT, "--readonly", "--key-file", key,
        "/dev/mapper/bench-ctv-" + img, "bench-dmc-" + img)


def files_under(top):
    out = []
    for d, _, fs in os.walk(top):
        out += [os.path.join(d, f) for f in fs]
    out.sort()
    return out


# Workloads. Each takes the contender's mount point and returns (seconds, amount)
# where amount is bytes for MB/s figures and operations for ops/s figures.

def profile(c, w, plan, src):
    """One cold run of workload W (seq, rand, tree-read, tree-stat or mount:
    mount + umount of the 1,000-blob image) on contender C under `perf record`
    (cpu-clock, all CPUs: there is no PMU in an emulated guest); prints the top
    symbols."""

    def w_mount(mnt, _plan):
        t0 = time.monotonic()
        do_mount(src[c][1], mnt + "-m1k")
        umount(mnt + "-m1k")
        return (time.monotonic() - t0, 1)
    work = {"seq": w_seq, "rand": w_rand, "tree-read": w_tree_read, "tree-stat": w_tree_stat,
            "mount": w_mount}[w]
    mnt = "%s/%s" % (ROOT, c)
    data = ROOT + "/perf-%s-%s.data" % (c, w)
    drop_caches()
    p = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-a", "-o", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    s = work(mnt, plan)
    p.send_signal(signal.SIGINT)
    p.wait()
    log("profile of %s, %s cold %.2f s (perf record -e cpu-clock -a; top symbols):" % (c, w, s[0]))
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    for line in [ln for ln in out.splitlines() if ln.strip()][:40]:
        print("# perf %s %s: %s" % (c, w, line.strip()), flush=True)


def reader_cost(u0, u1, ops):
    """(CPU microseconds, voluntary context switches) per operation between two
    getrusage(RUSAGE_SELF) readings."""
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    return (cpu * 1e6 / max(ops, 1), (u1.ru_nvcsw - u0.ru_nvcsw) / max(ops, 1))


def w_seq(mnt, plan):
    t0 = time.monotonic()
    n = sum(read_all(mnt + "/" + p) for p in plan["big"])
    return time.monotonic() - t0, n


def w_rand(mnt, plan):
    t0 = time.monotonic()
    fds = {}
    try:
        for p in plan["big"]:
            fd = os.open(mnt + "/" + p, os.O_RDONLY)
            fds[p] = fd
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for p, off in plan["rand"]:
            if len(os.pread(fds[p], 4096, off)) != 4096:
                raise SystemExit("short pread of %s at %d" % (p, off))
    finally:
        for fd in fds.values():
            os.close(fd)
    return time.monotonic() - t0, len(plan["rand"])


def w_tree_read(mnt, _plan):
    # `find` + read every file: the walk is part of the measurement.
    t0 = time.monotonic()
    n = 0
    for d, _, fs in os.walk(mnt + "/tree"):
        for f in fs:
            read_all(os.path.join(d, f))
            n += 1
    return time.monotonic() - t0, n


def w_tree_stat(mnt, _plan):
    t0 = time.monotonic()
    n = 0
    for d, ds, fs in os.walk(mnt + "/tree"):
        for f in fs + ds:
            os.lstat(os.path.join(d, f))
            n += 1
    return time.monotonic() - t0, n


def sha256_rates():
    """Raw SHA-256 throughput in this boot: the kernel's (building an fs-verity
    tree over a cached file, FS_IOC_ENABLE_VERITY: every 4 KiB block hashed by
    the kernel's sha256 driver, plus the tree levels, 1/128 more) and OpenSSL's
    through hashlib (per 4 KiB block and in 1 MiB updates)."""
    path = DISK + "/sha.bin"
    size = os.stat(path).st_size
    read_all(path)
    t0 = time.monotonic()
    enable_fsverity(path)
    kernel = size / (time.monotonic() - t0) / 1e6
    block = os.urandom(4096)
    n = max(1, (SHA_MIB << 20) // 4096 // 4)
    t0 = time.monotonic()
    for _ in range(n):
        hashlib.sha256(block).digest()
    per_block = n * 4096 / (time.monotonic() - t0) / 1e6
    chunk = os.urandom(1 << 20)
    h = hashlib.sha256()
    t0 = time.monotonic()
    for _ in range(max(1, SHA_MIB // 4)):
        h.update(chunk)
    bulk = max(1, SHA_MIB // 4) * (1 << 20) / (time.monotonic() - t0) / 1e6
    return {"kernel_fsverity_enable_MBps": round(kernel, 2), "kernel_bytes": size,
            "hashlib_4k_MBps": round(per_block, 2), "hashlib_1m_MBps": round(bulk, 2),
            "hashlib_impl": getattr(hashlib.sha256, "__name__", "?")}


def sha256_driver():
    best = None
    entry = {}
    with open("/proc/crypto") as f:
        for line in f.read().split("\n") + [""]:
            if not line.strip():
                if entry.get("name") == "sha256" and entry.get("type") == "shash":
                    if best is None or int(entry["priority"]) > int(best["priority"]):
                        best = entry
                entry = {}
                continue
            k, _, v = line.partition(":")
            entry[k.strip()] = v.strip()
    return best["driver"] if best else "?"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def tree_sums(mnt):
    out = {}
    for p in files_under(mnt):
        with open(p, "rb") as f:
            out[os.path.relpath(p, mnt)] = hashlib.sha256(f.read()).hexdigest()
    return out


def main():
    profiles = profile_specs(os.environ.get("RERO_BENCH_PROFILE", ""))
    info = {"kernel": os.uname().release, "cpus": os.cpu_count(), "cpu_model": cpu_model(),
            "sha256_driver": sha256_driver(), "reps": REPS, "mem_total": meminfo("MemTotal"),
            "kernel_variant": os.environ.get("RERO_BENCH_VARIANT", "test")}
    log("guest: %s, %d CPUs, %s; sha256 driver %s" % (info["kernel"], info["cpus"], info["cpu_model"],
                                                      info["sha256_driver"]))
    for img in ("erofs-fsv.img", "erofs1k-fsv.img"):
        enable_fsverity(DISK + "/" + img)
    log("fs-verity enabled on the erofs-fsverity images")
    info["sha256"] = sha256_rates()
    log("sha256: %s" % info["sha256"])
    src = sources()
    for c in CONTENDERS:
        s, t, d = src[c][0]
        mount(s, "%s/%s" % (ROOT, c), t, d)
    log("all contenders mounted")
    ref = ROOT + "/erofs-file"
    big = [os.path.relpath(p, ref) for p in files_under(ref + "/big")]
    sizes = {p: os.stat(ref + "/" + p).st_size for p in big}
    rng = random.Random(1)
    weights = [sizes[p] // 4096 for p in big]
    rand = []
    for p in rng.choices(big, weights=weights, k=RAND_OPS):
        rand.append((p, rng.randrange(sizes[p] // 4096) * 4096))
    plan = {"big": big, "rand": rand}
    info["big_bytes"] = sum(sizes.values())
    info["tree_files"] = sum(len(fs) for _, _, fs in os.walk(ref + "/tree"))
    info["rand_ops"] = RAND_OPS
    info["mount_blobs"] = len(os.listdir(DISK + "/blobs1k"))
    log("%d big files, %d bytes; %d tree files; %d random preads; %d blobs in the mount image"
        % (len(big), info["big_bytes"], info["tree_files"], RAND_OPS, info["mount_blobs"]))

    # workload -> contender -> [(seconds, amount)]; every workload's contenders in
    # CONTENDERS order (the table's rows: report.py keeps this order), whatever
    # order they run in.
    samples = {w: {c: [] for c in CONTENDERS}
               for w in ("seq-cold", "seq-warm", "pagecache", "rand-4k", "tree-read", "tree-stat")}
    samples["mount-1k"] = {c: [] for c in CONTENDERS + MOUNT_ONLY}

    # The reader's own cost per operation of the cold workloads (getrusage of this
    # process: CPU in user space and the kernel, and how often it slept, on I/O or
    # a lock): where two contenders make the same disk requests, this tells CPU
    # from waiting (there is no PMU and no tracepoint in the guest).
    reader = {w: {c: [] for c in CONTENDERS} for w in ("rand-4k", "tree-read", "tree-stat")}

    def add(w, c, s):
        samples[w][c].append(s)

    # Warm-up, not recorded: the first random reads of a boot ran about 50% slower
    # than the same contender's later runs (6.2 s against 3.6-4.1 s for rerofs-off,
    # first in the order, in two full runs), a cost the first contender alone paid.
    for c in CONTENDERS:
        drop_caches()
        w_rand("%s/%s" % (ROOT, c), plan)
    log("warm-up: one unrecorded rand-4k run on each contender")

    for rep in range(REPS):
        order = run_order(rep)
        for c in order:  # cold, then warm sequential read; page cache taken by the cold one
            mnt = "%s/%s" % (ROOT, c)
            drop_caches()
            before = meminfo("Cached")
            r0 = disk_reads()
            s = w_seq(mnt, plan)
            io = io_since(r0)
            cached = meminfo("Cached") - before
            add("seq-cold", c, s)
            add("pagecache", c, (1.0, cached))
            add("seq-warm", c, w_seq(mnt, plan))
            log("rep %d %s seq: cold %.2f s, warm %.2f s, +%d MiB cached (cold %s)"
                % (rep, c, s[0], samples["seq-warm"][c][-1][0], cached >> 20, io))
        for name, fn in (("rand-4k", w_rand), ("tree-read", w_tree_read), ("tree-stat", w_tree_stat)):
            for c in order:
                drop_caches()
                r0 = disk_reads()
                u0 = resource.getrusage(resource.RUSAGE_SELF)
                s = fn("%s/%s" % (ROOT, c), plan)
                cost = reader_cost(u0, resource.getrusage(resource.RUSAGE_SELF), s[1])
                add(name, c, s)
                reader[name][c].append(cost)
                log("rep %d %s %s: %.2f s (%s; reader per op: %.0f us CPU, %.2f sleeps)"
                    % (rep, c, name, s[0], io_since(r0), cost[0], cost[1]))
        for c in order + MOUNT_ONLY:
            mnt = "%s/m1k-%s" % (ROOT, c)
            os.makedirs(mnt, exist_ok=True)
            drop_caches()
            t0 = time.monotonic()
            do_mount(src[c][1], mnt)
            umount(mnt)
            add("mount-1k", c, (time.monotonic() - t0, 1))
            log("rep %d %s mount+umount: %.3f s" % (rep, c, samples["mount-1k"][c][-1][0]))

    for c, w in profiles:
        profile(c, w, plan, src)

    # rerofs shows the same files with the same bytes as the C driver (whose
    # contenders all read the one mkfs.erofs image).
    want = tree_sums(ref)
    for c in ("rerofs-off", "rerofs-on", "rerofs-on-buf", "rerofs-enc", "erofs-dmcrypt-verity"):
        if tree_sums("%s/%s" % (ROOT, c)) != want:
            raise SystemExit("contents of %s differ from erofs-file" % c)
    for c in ("rerofs-on", "erofs-blobs"):
        do_mount(src[c][1], ROOT + "/m1k-check")
        got = len(os.listdir(ROOT + "/m1k-check"))
        # Every file of the image is in its own blob: reading them all reads every blob.
        n = sum(read_all(ROOT + "/m1k-check/" + f) for f in os.listdir(ROOT + "/m1k-check"))
        umount(ROOT + "/m1k-check")
        if got != info["mount_blobs"] or n != 4096 * got:
            raise SystemExit("%s: the 1,000-blob image shows %d files of %d bytes, not %d of %d"
                             % (c, got, n, info["mount_blobs"], 4096 * info["mount_blobs"]))
    log("contents: rerofs-off == rerofs-on == rerofs-on-buf == rerofs-enc == erofs-dmcrypt-verity == erofs-file (%d files)"
        % len(want))
    for c in CONTENDERS:
        umount("%s/%s" % (ROOT, c))
    for img in ("erofs", "erofs1k"):
        run("veritysetup", "close", "bench-" + img)
        run("cryptsetup", "close", "bench-dmc-" + img)
        run("veritysetup", "close", "bench-ctv-" + img)
    run("losetup", "-D")
    info["guest_seconds"] = round(time.monotonic() - T_START, 1)
    print("RESULT " + json.dumps({"info": info, "samples": samples, "reader": reader}), flush=True)


main()
