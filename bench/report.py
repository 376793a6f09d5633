# SPDX-License-Identifier: GPL-2.0
"""Host side of bench/read.sh: turns the guest's RESULT line into the table of
medians (with ratios to each C-driver contender) and the JSON file.

Usage: report.py GUEST_OUTPUT OUT_DIR KIND
"""

import datetime
import json
import os
import statistics
import sys

# erofs-blobs: mount-1k only (C EROFS, the rerofs 1,000-blob image, a device= per blob).
C_DRIVER = ["erofs-loop", "erofs-file", "erofs-dmverity", "erofs-fsverity", "erofs-dmcrypt-verity", "erofs-blobs"]
# workload -> (unit, scale of amount/seconds, what the figure is)
UNITS = {
    "seq-cold": ("MB/s", 1e-6),
    "seq-warm": ("MB/s", 1e-6),
    "rand-4k": ("ops/s", 1.0),
    "tree-read": ("files/s", 1.0),
    "tree-stat": ("ops/s", 1.0),
    "mount-1k": ("ops/s", 1.0),
    "pagecache": ("MiB", 1.0 / (1 << 20)),
}


def width(c):
    """The width of the ratio column of C-driver contender c."""
    return max(9, len(c.split("-", 1)[1]) + 1)


# Issue 11's targets: (workload, rerofs contender, C-driver peer); each ratio >= 1.0.
TARGETS = [(w, "rerofs-off", "erofs-file") for w in ("seq-cold", "seq-warm", "rand-4k", "tree-read", "tree-stat")]
TARGETS += [("mount-1k", "rerofs-off", "erofs-blobs")]
TARGETS += [(w, "rerofs-on", ref) for w in ("seq-cold", "rand-4k") for ref in ("erofs-dmverity", "erofs-fsverity")]


def paired(samples, w, c, ref):
    """Ratio of c's figure to ref's in each repetition (both ran in it, one
    after the other: the host's speed, which drifts by a third over minutes
    here, is nearly the same for both), sorted; None if either is missing."""
    a, b = samples.get(w, {}).get(c), samples.get(w, {}).get(ref)
    if not a or not b or len(a) != len(b):
        return None
    return sorted((x[1] / x[0]) / (y[1] / y[0]) for x, y in zip(a, b))


def verdict(ratios):
    """met: every repetition's ratio >= 1; missed: none; else within the spread."""
    if ratios[0] >= 1.0:
        return "met"
    return "missed" if ratios[-1] < 1.0 else "within spread"


def report_targets(samples, info):
    """Prints issue 11's targets, each ratio paired by repetition (median, the
    lowest and the highest), with a verdict; returns them for the JSON."""
    out = []
    print("# targets, paired by repetition (each rerofs run / its peer's run in the same repetition): "
          "median [lowest, highest]; met = every repetition >= 1.00, missed = none")
    for w, c, ref in TARGETS:
        r = paired(samples, w, c, ref)
        if r is None:
            continue
        v = verdict(r)
        print("#   %-9s %-10s / %-14s %5.2f [%.3f, %.3f]  %s" % (w, c, ref, statistics.median(r), r[0], r[-1], v))
        out.append({"workload": w, "contender": c, "peer": ref, "median": statistics.median(r),
                    "lowest": r[0], "highest": r[-1], "verdict": v})
    # Page cache after the cold sequential read: the data cached once (at most
    # 1.1x the bytes read), for every rerofs contender but the buffered one.
    big = info["big_bytes"]
    for c in ("rerofs-off", "rerofs-on", "rerofs-enc"):
        runs = samples.get("pagecache", {}).get(c)
        if not runs:
            continue
        worst = max(a for _, a in runs) / big
        v = "met" if worst <= 1.1 else "missed"
        print("#   pagecache %-10s <= 1.1x the bytes read: %.2fx at most  %s" % (c, worst, v))
        out.append({"workload": "pagecache", "contender": c, "highest": worst, "verdict": v})
    return out


def main():
    guest, out_dir, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    result = None
    with open(guest) as f:
        for line in f:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
    if result is None:
        raise SystemExit("report.py: no RESULT line in %s" % guest)
    info, samples = result["info"], result["samples"]
    medians = {}
    for w, per in samples.items():
        unit, scale = UNITS[w]
        medians[w] = {}
        for c, runs in per.items():
            # The figure of each run, then the median of the figures.
            medians[w][c] = statistics.median(a / s * scale for s, a in runs)
    s = info["sha256"]
    variant = {"bench": "bench kernel: no KASAN, lockdep, kmemleak",
               "test": "test kernel: KASAN, lockdep"}.get(info.get("kernel_variant", "test"), "?")
    print("# guest: %s (%s), %d CPUs, %s, %d MiB; %d repetition(s), %s"
          % (info["kernel"], variant, info["cpus"], info["cpu_model"], info["mem_total"] >> 20, info["reps"], kind))
    print("# sha256 driver %s: kernel %.1f MB/s (fs-verity enable of %d MiB, cached), "
          "OpenSSL (hashlib) %.1f MB/s per 4 KiB, %.1f MB/s in 1 MiB updates"
          % (info["sha256_driver"], s["kernel_fsverity_enable_MBps"], s["kernel_bytes"] >> 20,
             s["hashlib_4k_MBps"], s["hashlib_1m_MBps"]))
    print("# %d MiB of large files, %d tree files, %d random preads, %d blobs in the mount image; "
          "ratios: the row's median / the column's (pagecache: lower is better)"
          % (info["big_bytes"] >> 20, info["tree_files"], info["rand_ops"], info["mount_blobs"]))
    head = "%-10s %-20s %12s %-7s" % ("workload", "contender", "median", "unit")
    head += "".join(" %*s" % (width(c), "/" + c.split("-", 1)[1]) for c in C_DRIVER)
    print(head)
    order = ["seq-cold", "seq-warm", "rand-4k", "tree-read", "tree-stat", "mount-1k", "pagecache"]
    for w in order:
        unit = UNITS[w][0]
        for c, v in medians[w].items():  # the guest's CONTENDERS order
            row = "%-10s %-20s %12.1f %-7s" % (w, c, v, unit)
            for ref in C_DRIVER:
                r = medians[w].get(ref)
                row += " %*s" % (width(ref), "%.2f" % (v / r) if r else "-")
            print(row)
    on, off = medians["seq-cold"]["rerofs-on"], medians["seq-cold"]["rerofs-off"]
    # Time per byte of verity=on beyond verity=off, against the time hashing takes.
    extra = 1 / on - 1 / off
    hashing = 1 / s["kernel_fsverity_enable_MBps"]
    print("# seq-cold: verity=on costs %.3f s/MB over verity=off; hashing alone (kernel) takes %.3f s/MB"
          % (extra, hashing))
    enc, dmc = medians["seq-cold"].get("rerofs-enc"), medians["seq-cold"].get("erofs-dmcrypt-verity")
    if enc and dmc:
        print("# seq-cold: rerofs encrypted+verified / EROFS on dm-crypt on dm-verity: %.2fx" % (enc / dmc))
    # The reader's CPU and sleeps per operation (medians), beside the table: with
    # the same disk requests, a slower contender either spends more CPU per
    # operation or waits longer per sleep.
    for w, per in result.get("reader", {}).items():
        cells = ["%s %.0f us %.2f" % (c, statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs))
                 for c, runs in per.items() if runs]
        print("# %s, the reader per op (CPU, sleeps): %s" % (w, ", ".join(cells)))
    targets = report_targets(samples, info)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(out_dir, exist_ok=True)
    doc = {"kind": kind, "time": stamp, "info": info, "units": {w: UNITS[w][0] for w in UNITS},
           "medians": medians, "targets": targets, "samples": samples,
           "reader": result.get("reader", {})}
    path = os.path.join(out_dir, "read-%s-%s.json" % (kind, stamp))
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    latest = os.path.join(out_dir, "read-%s.json" % kind)
    with open(latest, "w") as f:
        json.dump(doc, f, indent=1)
    print("# written: %s (and %s)" % (path, latest))


main()
