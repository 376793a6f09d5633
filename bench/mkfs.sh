#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkfs benchmark: builds an image of a large real tree (by default the
# extracted kernel source tree in $RERO_CACHE/kernel/src-VERSION, ~1.5 GB, 90k
# files) with `rerofs mkfs` (release build) and with erofs-utils'
# `mkfs.erofs` (uncompressed, chunk-based with the same chunk size, file data
# in a separate blob with --blobdev), in the same run, and prints wall time,
# CPU time (user+sys), peak RSS and output size for both, with the ratios
# rerofs / mkfs.erofs. Not a timed test: the figures depend on the machine.
#
# Usage: bench/mkfs.sh [--smoke] [--src DIR] [--chunk-size N] [--runs N]
#                      [--out DIR] [--keep] [--verify]
#   --smoke       a small tree (the source tree's fs/ directory), one run, verified
#   --src DIR     the tree to pack (read only; default: the kernel source tree)
#   --chunk-size  chunk size in bytes for both tools (default 65536)
#   --runs N      runs of each tool, alternating their order; the table shows
#                 the median wall and CPU times and the largest RSS (default 3)
#   --out DIR     where the images go (default: a new directory in $TMPDIR,
#                 removed at the end unless --keep)
#   --verify      check both images afterwards with `rerofs fsck` (and the
#                 rerofs image with fsck.erofs when installed)
# Environment: RERO_BIN (a rerofs binary to use instead of building one),
# CARGO (default: cargo).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
smoke=0 src="" chunk=65536 runs="" out="" keep=0 verify=0
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1 ;;
	--src) src=$2; shift ;;
	--chunk-size) chunk=$2; shift ;;
	--runs) runs=$2; shift ;;
	--out) out=$2; shift ;;
	--keep) keep=1 ;;
	--verify) verify=1 ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "mkfs.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

die() { echo "mkfs.sh: $*" >&2; exit 1; }

if [ -z "$src" ]; then
	# (env.sh in a subshell: it would set PATH for the rest of this script too)
	src=$(. "$(dirname "$0")/../scripts/env.sh" && rero_ksrc_unpacked && rero_ksrc) ||
		die "no unpacked kernel source tree in \$RERO_CACHE/kernel (make kernel), or give --src DIR"
	[ $smoke = 1 ] && src=$src/fs
fi
[ -d "$src" ] || die "$src: not a directory"
if [ $smoke = 1 ]; then
	runs=${runs:-1}
	verify=1
fi
runs=${runs:-3}
command -v mkfs.erofs >/dev/null || die "mkfs.erofs not found (apt-get install erofs-utils)"

# The rerofs binary: a release build.
if [ -n "${RERO_BIN:-}" ]; then
	rerofs=$RERO_BIN
else
	(cd "$TOP/tools" && "${RERO_CARGO:-${CARGO:-cargo}}" build -q --release) || die "cargo build --release failed"
	rerofs=$TOP/tools/target/release/rerofs
fi
[ -x "$rerofs" ] || die "$rerofs: not executable"

if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/rerofs-bench.XXXXXX")
	[ $keep = 1 ] || trap 'rm -rf "$out"' EXIT
else
	mkdir -p "$out"
fi

# measure NAME RUN CMD...: runs CMD, appends "NAME wall cpu rss_kb" to $out/times.
if [ -x /usr/bin/time ]; then
	measure() {
		local name=$1 t=$out/time.$1.$2
		shift 2
		/usr/bin/time -f '%e %U %S %M' -o "$t" "$@" || die "$name failed: $*"
		awk -v n="$name" '{ printf "%s %s %.2f %s\n", n, $1, $2 + $3, $4 }' "$t" >>"$out/times"
	}
else
	# No GNU time: bash's clock for wall time, getrusage(RUSAGE_CHILDREN) for
	# CPU time and peak RSS (KiB on Linux).
	command -v python3 >/dev/null || die "neither /usr/bin/time nor python3 found (apt-get install time)"
	measure() {
		local name=$1
		shift 2
		python3 - "$name" "$@" >>"$out/times" <<-'EOF' || die "$1 failed"
		import resource, subprocess, sys, time
		t = time.monotonic()
		rc = subprocess.call(sys.argv[2:])
		wall = time.monotonic() - t
		r = resource.getrusage(resource.RUSAGE_CHILDREN)
		print(f"{sys.argv[1]} {wall:.2f} {r.ru_utime + r.ru_stime:.2f} {r.ru_maxrss}")
		sys.exit(rc)
		EOF
	}
fi

run_rerofs() {
	rm -rf "$out/rerofs"; mkdir -p "$out/rerofs"
	measure rerofs "$1" "$rerofs" mkfs -q --chunk-size "$chunk" "$out/rerofs/meta.img" "$src"
}
run_erofs() {
	rm -rf "$out/erofs"; mkdir -p "$out/erofs"
	measure mkfs.erofs "$1" mkfs.erofs --quiet --chunksize="$chunk" \
		--blobdev="$out/erofs/blob" "$out/erofs/meta.img" "$src"
}

files=$(find "$src" -type f | wc -l)
entries=$(find "$src" | wc -l)
bytes=$(du -sb --apparent-size "$src" | cut -f1)
echo "tree:      $src ($entries entries, $files files, $bytes bytes)"
echo "tools:     $("$rerofs" --version); mkfs.erofs $(dpkg-query -W -f '${Version}' erofs-utils 2>/dev/null || echo '(version unknown)')"
echo "machine:   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "settings:  chunk size $chunk, uncompressed, $runs run(s) of each, output in $out"

# Warm the page cache so that neither tool pays for the first read.
tar -cf - -C "$src" . | cat >/dev/null

: >"$out/times"
for i in $(seq 1 "$runs"); do
	if [ $((i % 2)) = 1 ]; then
		run_rerofs "$i"; run_erofs "$i"
	else
		run_erofs "$i"; run_rerofs "$i"
	fi
done
echo "machine:   load average $(cut -d' ' -f1-3 /proc/loadavg) at end"

size_of() { find "$1" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
r_meta=$(stat -c %s "$out/rerofs/meta.img")
r_total=$(size_of "$out/rerofs")
e_meta=$(stat -c %s "$out/erofs/meta.img")
e_total=$(size_of "$out/erofs")

echo
awk -v rm="$r_meta" -v rt="$r_total" -v em="$e_meta" -v et="$e_total" -v runs="$runs" '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 == "rerofs" ? "r" : "e"; n[k]++; w[k, n[k]] = $2; c[k, n[k]] = $3; if ($4 > m[k]) m[k] = $4 }
END {
	for (k in n) {
		for (i = 1; i <= n[k]; i++) { ww[i] = w[k, i]; cc[i] = c[k, i] }
		W[k] = median(ww, n[k]); C[k] = median(cc, n[k])
		all = ""; for (i = 1; i <= n[k]; i++) all = all sprintf("%s%.2f", i > 1 ? " " : "", w[k, i]); A[k] = all
	}
	fmt = "%-26s %14s %14s %9s\n"
	printf fmt, "", "rerofs mkfs", "mkfs.erofs", "ratio"
	printf fmt, "wall time, s (median)", sprintf("%.2f", W["r"]), sprintf("%.2f", W["e"]), sprintf("%.2f", W["r"] / W["e"])
	printf fmt, "CPU user+sys, s (median)", sprintf("%.2f", C["r"]), sprintf("%.2f", C["e"]), sprintf("%.2f", C["r"] / C["e"])
	printf fmt, "peak RSS, MiB (max)", sprintf("%.1f", m["r"] / 1024), sprintf("%.1f", m["e"] / 1024), sprintf("%.2f", m["r"] / m["e"])
	printf fmt, "metadata blob, MiB", sprintf("%.1f", rm / 1048576), sprintf("%.1f", em / 1048576), sprintf("%.2f", rm / em)
	printf fmt, "data blob(s), MiB", sprintf("%.1f", (rt - rm) / 1048576), sprintf("%.1f", (et - em) / 1048576), sprintf("%.2f", (rt - rm) / (et - em))
	printf fmt, "output total, MiB", sprintf("%.1f", rt / 1048576), sprintf("%.1f", et / 1048576), sprintf("%.2f", rt / et)
	printf "wall times of each run, s: rerofs %s; mkfs.erofs %s\n", A["r"], A["e"]
}' "$out/times"

if [ $verify = 1 ]; then
	echo
	echo "verifying: rerofs fsck of both images"
	"$rerofs" fsck "$out/rerofs/meta.img" || die "rerofs fsck of the rerofs image failed"
	"$rerofs" fsck --device "$out/erofs/blob" "$out/erofs/meta.img" || die "rerofs fsck of the mkfs.erofs image failed"
	if command -v fsck.erofs >/dev/null; then
		echo "verifying: fsck.erofs of the rerofs image"
		devs=()
		for tag in $("$rerofs" inspect --devices "$out/rerofs/meta.img"); do
			devs+=("--device=$out/rerofs/$tag")
		done
		fsck.erofs "${devs[@]}" "$out/rerofs/meta.img" >/dev/null || die "fsck.erofs of the rerofs image failed"
	fi
	echo "verified"
fi
