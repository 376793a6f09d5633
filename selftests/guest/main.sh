#!/bin/bash
# rerofs selftests, guest side: run as root inside the test kernel after
# selftests/run.sh has made the trees, images and manifests on the host:
#
#   selftests/vm-run -- selftests/guest/main.sh          (prints KTAP)
#
# Environment: RERO_MODULE (default $RERO_TOP/rerofs.ko), RERO_TOP,
# RERO_SELFTEST_DATA (default $RERO_TOP/build/selftests: images/, manifests/,
# images.list), RERO_SELFTEST_IMAGES="default bad-crc ..." (only these images).
#
# Every test reports ok or not ok, never skip: if insmod fails, the rerofs tests
# that follow all report "not ok". Good images are copied into a guest tmpfs
# first: rerofs reading its image through 9p (the host file system as the guest
# sees it) is slow, so only one light check uses the image on the host path.
set -u
export LC_ALL=C

# The whole script is one function, parsed before it runs: editing this file
# during a run cannot change what the run does.
main() {
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${RERO_TOP:-$(cd "$HERE/../.." && pwd)}
MODULE=${RERO_MODULE:-$TOP/rerofs.ko}
DATA=${RERO_SELFTEST_DATA:-$TOP/build/selftests}
IMAGES=$DATA/images
CMP_TIMEOUT=900
TREECMP=$HERE/treecmp.py

if [ "$(id -u)" != 0 ]; then
	echo "main.sh: must run as root in the test guest (selftests/vm-run -- $0)" >&2
	exit 2
fi
[ -f "$DATA/images.list" ] || { echo "main.sh: no $DATA/images.list; run selftests/run.sh --images-only on the host first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/rerofs-selftest.XXXXXX) || exit 2
# Other users must reach the mounts (the ACL test reads as uid 1234 and gid 77).
chmod 755 "$WORK"
OUT=$WORK/test.out
trap cleanup EXIT
# A tmpfs for the image copies (the guest's /tmp is an overlay on the host /tmp).
mkdir -p "$WORK/img" && mount -t tmpfs -o size=1G selftest-images "$WORK/img" ||
	{ echo "main.sh: cannot mount a tmpfs on $WORK/img" >&2; exit 2; }

# kmemleak's own thread scans all memory every 10 minutes, which takes a core
# for a long while in the emulated guest: turn it off; dmesg_clean asks for one
# scan at the end, which finds the same leaks.
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
grep -qw kmemleak=off /proc/cmdline || echo scan=off >/sys/kernel/debug/kmemleak ||
	echo "main.sh: cannot turn off kmemleak's scan thread" >&2
kmsg_start
py_start
DRY=1 N=0
all_tests
PLAN=$N
DRY=0 N=0
echo "TAP version 13"
echo "1..$PLAN"
echo "# rerofs selftests: kernel $(uname -r), module $MODULE"
echo "# data: $DATA"
all_tests
echo "# Totals: pass:$PASS fail:$FAIL xfail:0 xpass:0 skip:0 error:0"
[ "$FAIL" = 0 ] && [ "$N" = "$PLAN" ]
exit
}

# ---------------------------------------------------------------- KTAP plumbing
DRY=1 # the first pass only counts the tests (the plan), the second runs them
N=0 PASS=0 FAIL=0

# ktest NAME CMD [ARGS...]: one KTAP result from CMD's exit status; CMD's output
# becomes "# " diagnostic lines (the first 60).
# (Only shell builtins here: every fork+exec costs ~0.1 s in the emulated guest.)
ktest() {
	local name=$1 t0 rc lines
	shift
	N=$((N + 1))
	[ $DRY = 1 ] && return 0
	# A line before the test: progress for the host's idle watchdog, and the
	# name of the test that was running if it stops the guest.
	echo "# running $N - $name"
	t0=$EPOCHREALTIME
	"$@" >"$OUT" 2>&1 </dev/null
	rc=$?
	mapfile -t lines <"$OUT"
	if [ ${#lines[@]} -gt 0 ]; then
		printf '# %s\n' "${lines[@]:0:60}"
		[ ${#lines[@]} -le 60 ] || echo "# ... (${#lines[@]} lines)"
	fi
	if [ $rc = 0 ]; then
		PASS=$((PASS + 1))
		echo "ok $N - $name # $(ms "$t0") ms"
	else
		FAIL=$((FAIL + 1))
		echo "not ok $N - $name # exit $rc, $(ms "$t0") ms"
	fi
}
# ms T0: milliseconds since T0 (an $EPOCHREALTIME value)
ms() {
	local a=${1/[.,]/} b=${EPOCHREALTIME/[.,]/}
	echo $(( (10#$b - 10#$a) / 1000 ))
}
catf() { # a file's lines, without running cat
	local l
	mapfile -t l <"$1" || return
	[ ${#l[@]} = 0 ] || printf '%s\n' "${l[@]}"
}

# group_time NAME: "# group NAME: N ms", the wall time since the previous
# call (a group's tests with their set-up steps): selftests/run.sh lists them
# and its shard weights come from them.
GROUP_T0=
group_time() {
	[ $DRY = 1 ] && return 0
	echo "# group $1: $(ms "${GROUP_T0:-$EPOCHREALTIME}") ms"
	GROUP_T0=$EPOCHREALTIME
}

# step CMD [ARGS...]: setup that is not a test; only in the real pass.
step() { [ $DRY = 1 ] || "$@"; }

# ---------------------------------------------------------------- helpers
LOOPS=()
LOOPDEV=
INSMOD_OK=0
DMESG_MARK=0
# Kernel messages without a dmesg exec per check (a fork+exec costs about a
# second in the emulated guest, and most tests look at the log two or three
# times): one `cat /dev/kmsg` for the whole run appends every record to $KMSG.
# kmsg_read writes a marker through /dev/kmsg and waits until the file has it:
# every message logged before the marker is in the file then. KL holds the
# records ("PRI,SEQ,USEC,FLAGS;text", /dev/kmsg's format); lines starting with
# a blank are dictionary lines and are skipped. If the reader is gone or the
# marker does not come within 5 s, one `dd` of /dev/kmsg reads the log instead.
KMSG= KMSG_PID= KSYNC=0 SLEEP_FD= KL=() K_TEXT=()
kmsg_start() {
	KMSG=$WORK/kmsg
	# Userspace writes to /dev/kmsg are rate-limited by default (10 per 5 s).
	echo on >/proc/sys/kernel/printk_devkmsg 2>/dev/null
	cat /dev/kmsg >"$KMSG" 2>/dev/null &
	KMSG_PID=$!
	# A FIFO nobody writes to: `read -t` on it is a sleep without an exec.
	mkfifo "$WORK/sleep.fifo" && exec {SLEEP_FD}<>"$WORK/sleep.fifo"
}
kmsg_read() {
	local want tries i _
	KSYNC=$((KSYNC + 1))
	want="ktap-sync $$ $KSYNC"
	if [ -n "$KMSG_PID" ] && [ -n "$SLEEP_FD" ] && kill -0 "$KMSG_PID" 2>/dev/null &&
		echo "$want" >/dev/kmsg 2>/dev/null; then
		for ((tries = 0; tries < 250; tries++)); do
			mapfile -t KL <"$KMSG"
			for ((i = ${#KL[@]} - 1; i >= 0 && i >= ${#KL[@]} - 50; i--)); do
				[[ ${KL[i]} == *";$want" ]] && return 0
			done
			read -r -t 0.02 -u "$SLEEP_FD" _
		done
	fi
	mapfile -t KL < <(dd if=/dev/kmsg iflag=nonblock bs=64k status=none 2>/dev/null)
}
# A warm Python (selftests/guest/pyserve.py): "${PY[@]}" SCRIPT ARGS runs as
# `python3 -I -S SCRIPT ARGS` would, through the pyrun client (built by run.sh on
# the host), at a few tenths of a second instead of 3.5 s a start. Without the
# client or if the server does not come up, PY is python3 itself.
PY=(python3 -I -S) PYSERVE_PID=
py_start() {
	local c=$DATA/pyrun i _
	[ -x "$c" ] || { echo "# no $c: python3 is started for each script" >&2; return 0; }
	export RERO_PYSERVE=$WORK/pyserve.sock
	python3 -I -S "$HERE/pyserve.py" "$RERO_PYSERVE" >"$WORK/pyserve.log" 2>&1 </dev/null &
	PYSERVE_PID=$!
	for ((i = 0; i < 1200; i++)); do
		[ -S "$RERO_PYSERVE" ] && { PY=("$c"); return 0; }
		kill -0 "$PYSERVE_PID" 2>/dev/null || break
		read -r -t 0.05 -u "$SLEEP_FD" _
	done
	echo "# pyserve did not start: python3 is started for each script" >&2
	catf "$WORK/pyserve.log" >&2
	unset RERO_PYSERVE
}
# kmsg_lines [-w]: the records since dmesg_mark as "[seconds] text" in K_TEXT
# (with -w only warnings: level 4), without the markers.
kmsg_lines() {
	local w=0 l meta us
	[ "${1:-}" = -w ] && w=1
	K_TEXT=()
	for l in "${KL[@]:DMESG_MARK}"; do
		[[ $l == " "* || $l == *";ktap-sync "* || $l != *";"* ]] && continue
		meta=${l%%;*}
		[ $w = 1 ] && [ $(( ${meta%%,*} & 7 )) != 4 ] && continue
		us=${meta#*,}; us=${us#*,}; us=${us%%,*}
		printf -v l '[%5d.%06d] %s' $((us / 1000000)) $((us % 1000000)) "${l#*;}"
		K_TEXT+=("$l")
	done
}
dmesg_mark() {
	kmsg_read
	DMESG_MARK=${#KL[@]}
}
dmesg_new() {
	kmsg_read
	kmsg_lines
	[ ${#K_TEXT[@]} = 0 ] || printf '%s\n' "${K_TEXT[@]}"
	return 0
}
# dmesg_match [-q] [-i] [-w] ERE: the kernel lines since dmesg_mark that match
# ERE (printed, or with -q only tested; -w: warnings only); false when none does.
dmesg_match() {
	local q=0 i=0 w= l hit=1
	while :; do
		case $1 in
		-q) q=1; shift ;;
		-i) i=1; shift ;;
		-w) w=-w; shift ;;
		*) break ;;
		esac
	done
	kmsg_read
	kmsg_lines $w
	[ $i = 1 ] && shopt -s nocasematch
	for l in "${K_TEXT[@]}"; do
		[[ $l =~ $1 ]] || continue
		hit=0
		[ $q = 1 ] && break
		printf '%s\n' "$l"
	done
	[ $i = 1 ] && shopt -u nocasematch
	return $hit
}
module_loaded() {
	local a b
	while read -r a b; do
		[ "${b:-$a}" = rerofs ] && return 0
	done </proc/filesystems
	return 1
}
require_rerofs() {
	module_loaded && return 0
	echo "rerofs is not registered (insmod failed?)"
	return 1
}
# Mount table lookups in bash (/proc/self/mountinfo), no exec.
# mnt_info DIR: sets MNT_SRC MNT_TYPE MNT_OPTS (VFS and file system options, as
# findmnt's OPTIONS shows them) of the last mount on DIR; false if none.
mnt_info() {
	local id parent dev root mp opts rest found=1 a b
	MNT_SRC= MNT_TYPE= MNT_OPTS=
	while read -r id parent dev root mp opts rest; do
		[ "$mp" = "$1" ] || continue
		a=" $rest"
		a=${a#* - }
		read -r MNT_TYPE MNT_SRC b <<<"$a"
		MNT_OPTS=$opts${b:+,$b}
		found=0
	done </proc/self/mountinfo
	return $found
}
is_mounted() { local d=${1%/}; mnt_info "${d:-/}"; }
mnt_show() { is_mounted "$1" && echo "$MNT_SRC $MNT_TYPE $MNT_OPTS"; }

insmod_test() {
	[ -f "$MODULE" ] || { echo "$MODULE does not exist (make module)"; return 1; }
	dmesg_mark
	insmod "$MODULE"
	local rc=$?
	dmesg_new
	[ $rc = 0 ] && INSMOD_OK=1
	return $rc
}

rmmod_test() {
	module_loaded || { echo "rerofs is not loaded"; return 1; }
	dmesg_mark
	rmmod rerofs
	local rc=$?
	dmesg_new
	return $rc
}

not_registered() {
	[ $INSMOD_OK = 1 ] || { echo "rerofs was never loaded"; return 1; }
	! module_loaded
}

no_mounts_left() {
	[ $INSMOD_OK = 1 ] || { echo "rerofs was never loaded"; return 1; }
	local dev mnt type rest left=0
	while read -r dev mnt type rest; do
		[ "$type" = rerofs ] && { echo "still mounted: $dev on $mnt"; left=1; }
	done </proc/mounts
	return $left
}

copy_image() { # NAME: copy images/NAME.img into the tmpfs
	cp "$IMAGES/$1.img" "$WORK/img/$1.img"
}

mount_rerofs() { # SRC DIR [OPTIONS]
	local src=$1 dir=$2 rc
	require_rerofs || return 1
	[ -d "$dir" ] || mkdir -p "$dir"
	dmesg_mark
	# (No timeout(1) around mount and umount of valid images: one exec less each;
	# a hang is caught by the host's idle watchdog, which names the test.)
	mount -t rerofs -o "ro${3:+,$3}" "$src" "$dir"
	rc=$?
	dmesg_match -i rerofs
	[ $rc = 0 ] || return $rc
	mnt_show "$dir" || { echo "mount returned 0 but $dir is not a mount point"; return 1; }
	# mount(8) must pass a regular file through (rerofs is not a block-device
	# file system for libmount), not set up a loop device behind our back.
	if [ -f "$src" ]; then
		[ "$MNT_SRC" -ef "$src" ] || { echo "mounted from $MNT_SRC, not from the file $src"; return 1; }
	fi
}

mount_erofs() { # IMG DIR [BLOB]: the C driver, through read-only loop devices
	local opts=loop,ro
	[ -d "$2" ] || mkdir -p "$2"
	if [ -n "${3:-}" ]; then
		loop_setup "$3" || return 1
		opts=$opts,device=$LOOPDEV
	fi
	mount -t erofs -o "$opts" "$1" "$2" || return 1
	mnt_show "$2"
}

copy_blob() { # NAME: the image's blob device (--blobdev), if it has one
	[ -f "$IMAGES/$1.blob" ] || return 0
	cp "$IMAGES/$1.blob" "$WORK/img/$1.blob"
}

acl_enforced() { # R: the POSIX ACL of acl-file denies uid 1234 and lets gid 77 read
	is_mounted "$1" || { echo "$1 is not mounted"; return 1; }
	getfacl -n "$1/acl-file" 2>&1
	if setpriv --reuid=1234 --regid=1234 --clear-groups cat "$1/acl-file" >/dev/null 2>&1; then
		echo "uid 1234 could read acl-file: the ACL (u:1234:---) is not enforced"; return 1
	fi
	setpriv --reuid=4321 --regid=77 --clear-groups cat "$1/acl-file" >/dev/null ||
		{ echo "gid 77 could not read acl-file (g:77:r--)"; return 1; }
	echo "u:1234 denied, g:77 allowed, as the ACL says"
	# Without the ACL, mode 0644 would let uid 1234 read: the denial is the ACL's.
	stat -c '%A %u:%g %n' "$1/acl-file"
}

do_umount() { # DIR
	is_mounted "$1" || { echo "$1 is not mounted"; return 1; }
	umount "$1"
}

loop_setup() { # IMG: sets LOOPDEV to a new read-only loop device on IMG
	LOOPDEV=$(losetup -r -f --show "$1") || { LOOPDEV=; return 1; }
	LOOPS+=("$LOOPDEV")
}

# run_suite OUTDIR A B [treecmp suite options]: run several checks in one
# treecmp process; the "result" tests that follow report them one by one.
run_suite() {
	local dir=$1 a=$2 b=$3 t0 rc
	shift 3
	rm -rf "$dir" && mkdir -p "$dir"
	if ! is_mounted "$a" || ! is_mounted "$b"; then
		{ is_mounted "$a" || echo "not run: $a is not mounted"; is_mounted "$b" || echo "not run: $b is not mounted"; } >"$dir/why"
		return 0
	fi
	t0=$EPOCHREALTIME
	timeout -k 5 "$CMP_TIMEOUT" "${PY[@]}" "$TREECMP" suite "$dir" "$a" "$b" "$@" >"$dir/suite.out" 2>&1
	rc=$?
	[ $rc -le 1 ] || echo "treecmp suite exited with status $rc" >"$dir/why"
	echo "(all checks of this mount took $(ms "$t0") ms)" >"$dir/suite.ms"
}
result() { # OUTDIR CHECK
	local dir=$1 c=$2 rc f
	if [ ! -f "$dir/$c.rc" ]; then
		echo "no result for $c"
		for f in "$dir/why" "$dir/suite.out"; do
			[ -f "$f" ] && catf "$f"
		done
		return 1
	fi
	catf "$dir/$c.log"
	if [ -f "$dir/suite.ms" ]; then
		catf "$dir/suite.ms"
		mv "$dir/suite.ms" "$dir/suite.ms.shown"
	fi
	read -r rc <"$dir/$c.rc"
	return "$rc"
}

# A light check of rerofs reading the image through the host path (9p):
# sizes/ (all the block-boundary files) compared with the erofs mount.
hostfile_check() { # R E
	need_both "$1" "$2" || return 1
	timeout -k 5 "$CMP_TIMEOUT" "${PY[@]}" "$TREECMP" compare --fields type,mode,size,uid,gid,nlink,content,dirent "$1/sizes" "$2/sizes"
}
need_both() {
	is_mounted "$1" || { echo "$1 is not mounted"; return 1; }
	is_mounted "$2" || { echo "$2 is not mounted"; return 1; }
}

mount_refused() { # IMG DIR: pass when rerofs refuses the image, without an oops
	local img=$1 dir=$2 rc
	require_rerofs || return 1
	mkdir -p "$dir"
	dmesg_mark
	timeout -k 5 120 mount -t rerofs -o ro "$img" "$dir"
	rc=$?
	dmesg_new
	if [ $rc = 0 ] || is_mounted "$dir"; then
		echo "mount of a bad image succeeded"
		umount "$dir" 2>/dev/null
		return 1
	fi
	if dmesg_match -q "$DMESG_BAD"; then
		echo "the kernel complained while refusing the image"
		return 1
	fi
}

feature_named() { # PATTERN IMG DIR: refused, and the message matches PATTERN
	require_rerofs || return 1
	mount_refused "$2" "$3" >/dev/null 2>&1
	dmesg_match -i rerofs
	dmesg_match -q -i "rerofs.*($1)"
}

incompat_named() { # IMG DIR: the refusal of incompat bit 0x8000 names the bit
	require_rerofs || return 1
	mount_refused "$1" "$2" >/dev/null 2>&1
	dmesg_match -i rerofs
	dmesg_match -q -i 'rerofs.*(8000|bit ?15)'
}

# What must not appear in dmesg. "out of range `errno`" is the Rust kernel
# crate's complaint about Error::from_errno() given a bad value (a module bug).
DMESG_BAD='BUG:|WARNING:|KASAN|Oops|general protection|Call Trace|UBSAN|suspected memory leak|lockdep is turned off|detected stall|blocked for more than|out of range `errno`'

# kmemleak runs in this guest unless it was booted with kmemleak=off
# (selftests/run.sh does that for one of its two guests, see there); where it
# runs, the scan must work, and its test says which it is.
KMEMLEAK=1
grep -qw 'kmemleak=off' /proc/cmdline && KMEMLEAK=0

dmesg_clean() {
	[ -e /sys/kernel/debug/kmemleak ] || mountpoint -q /sys/kernel/debug ||
		mount -t debugfs none /sys/kernel/debug 2>/dev/null
	if [ $KMEMLEAK = 1 ]; then
		# kmemleak only reports objects older than 5 s (and has no auto scan).
		sleep 5
		if ! echo scan 2>/dev/null >/sys/kernel/debug/kmemleak; then
			echo "kmemleak: cannot scan (/sys/kernel/debug/kmemleak missing or kmemleak disabled)"
			return 1
		fi
		local leaks
		leaks=$(cat /sys/kernel/debug/kmemleak)
		if [ -n "$leaks" ]; then
			echo "kmemleak: $(echo "$leaks" | grep -c '^unreferenced object') unreferenced objects:"
			echo "$leaks" | head -40
			return 1
		fi
	fi
	local bad
	bad=$(dmesg | grep -E "$DMESG_BAD")
	[ -z "$bad" ] && return 0
	echo "$bad" | head -40
	return 1
}

cleanup() {
	local d
	[ -n "${WORK:-}" ] || return 0
	for d in $(findmnt -rn -o TARGET | grep "^$WORK/" | sort -r); do
		umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
	done
	for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
	[ -n "$KMSG_PID" ] && kill "$KMSG_PID" 2>/dev/null
	[ -n "$PYSERVE_PID" ] && kill "$PYSERVE_PID" 2>/dev/null
	rm -rf "$WORK"
}

# ---------------------------------------------------------------- the tests
# images.list (written by run.sh), one image a line:
#   good NAME TREE FIELDS-VS-SOURCE EXTRAS   a valid image made from trees/TREE
#   bad  NAME HOW                            must be refused
# EXTRAS (comma list, or -): hostfile lookups reads readonly loop
read_list() {
	local kind name rest
	grep -vE '^\s*(#|$)' "$DATA/images.list" | while read -r kind name rest; do
		case " ${RERO_SELFTEST_IMAGES:-$name} " in *" $name "*) echo "$kind $name $rest" ;; esac
	done
}

# EXTRAS that are treecmp suite checks, and what their test says.
declare -A SUITE_EXTRAS=(
	[lookups]="lookups: missing names give ENOENT, other errors as erofs"
	[reads]="pread/mmap at block boundaries rerofs == erofs"
	[readonly]="writes fail on the rerofs mount"
	[statfs]="statfs rerofs == erofs (f_type f_bsize f_blocks f_files f_ffree f_namemax)"
	[dirpos]="getdents with 64-byte buffers and telldir/seekdir resume correctly (rerofs == erofs)"
)

all_tests() {
	local kind name tree fields extras img r e l res checks c
	ktest "insmod rerofs.ko" insmod_test
	ktest "/proc/filesystems lists rerofs" grep -w rerofs /proc/filesystems
	GROUP_T0=$EPOCHREALTIME

	while read -r kind name tree fields extras; do
		r=$WORK/$name/rerofs e=$WORK/$name/erofs
		case $kind in
		good)
			img=$WORK/img/$name.img
			res=$WORK/$name/results
			checks=compare,source,order
			for c in "${!SUITE_EXTRAS[@]}"; do
				case ,$extras, in *,$c,*) checks+=,$c ;; esac
			done
			step copy_image "$name"
			step copy_blob "$name"
			blob= bopt=
			[ -f "$IMAGES/$name.blob" ] && blob=$WORK/img/$name.blob bopt=device=$blob
			ktest "$name: mount -t rerofs (image file${blob:+, blob device as a file})" mount_rerofs "$img" "$r" "$bopt"
			ktest "$name: mount -t erofs (C driver, loop)" mount_erofs "$img" "$e" "$blob"
			# The C driver's mount is recorded once (etree) and compared with each rerofs mount.
			etree=$WORK/$name/erofs-tree.json
			step run_suite "$res" "$r" "$e" --manifest "$DATA/manifests/${tree//\//_}.json" "$fields" --checks "$checks" --b-tree "$etree"
			ktest "$name: rerofs == erofs (names, type mode size uid gid nlink mtime target rdev content, hard links, d_type/d_ino)" result "$res" compare
			ktest "$name: rerofs == source tree ($fields)" result "$res" source
			ktest "$name: readdir order rerofs == erofs" result "$res" order
			for c in lookups reads readonly statfs dirpos; do
				case ,$extras, in *,$c,*) ktest "$name: ${SUITE_EXTRAS[$c]}" result "$res" "$c" ;; esac
			done
			case ,$extras, in *,acl,*)
				ktest "$name: POSIX ACL enforced on the rerofs mount" acl_enforced "$r" ;;
			esac
			case ,$extras, in *,blobloop,*)
				l=$WORK/$name/rerofs-blobloop
				LOOPDEV=
				step loop_setup "$blob"
				ktest "$name: mount -t rerofs with the blob device as a loop device (${LOOPDEV:-?})" mount_rerofs "$img" "$l" "device=${LOOPDEV:-/dev/no-loop-device}"
				step run_suite "$res-blobloop" "$l" "$e" --checks compare,reads --b-tree "$etree"
				ktest "$name: rerofs (blob on a loop device) == erofs" result "$res-blobloop" compare
				ktest "$name: pread/mmap rerofs (blob on a loop device) == erofs" result "$res-blobloop" reads
				ktest "$name: umount rerofs (blob on a loop device)" do_umount "$l"
				;;
			esac
			case ,$extras, in *,loop,*)
				l=$WORK/$name/rerofs-loop
				LOOPDEV=
				step loop_setup "$img"
				ktest "$name: mount -t rerofs (read-only loop block device ${LOOPDEV:-?})" mount_rerofs "${LOOPDEV:-/dev/no-loop-device}" "$l"
				step run_suite "$res-loop" "$l" "$e" --checks compare,reads --b-tree "$etree"
				ktest "$name: rerofs on the loop device == erofs" result "$res-loop" compare
				ktest "$name: pread/mmap rerofs on the loop device == erofs" result "$res-loop" reads
				ktest "$name: umount rerofs (loop device)" do_umount "$l"
				;;
			esac
			case ,$extras, in *,hostfile,*)
				l=$WORK/$name/rerofs-hostfile
				ktest "$name: mount -t rerofs of the image on the host path (9p)" mount_rerofs "$IMAGES/$name.img" "$l"
				ktest "$name: sizes/ of the 9p-backed rerofs mount == erofs" hostfile_check "$l" "$e"
				ktest "$name: umount rerofs (9p-backed)" do_umount "$l"
				;;
			esac
			ktest "$name: umount rerofs" do_umount "$r"
			step do_umount "$e" >/dev/null
			step rm -f "$img" "$WORK/img/$name.blob"
			;;
		bad)
			ktest "$name: refused ($tree)" mount_refused "$IMAGES/$name.img" "$r"
			case $name in *incompat*)
				ktest "$name: the refusal names the unknown incompat bit (0x8000)" incompat_named "$IMAGES/$name.img" "$r" ;;
			esac
			case $name in compressed*)
				ktest "$name: the refusal names the compression feature" feature_named 'lz4|compr' "$IMAGES/$name.img" "$r" ;;
			esac
			;;
		*)
			ktest "images.list: unknown kind '$kind'" false
			;;
		esac
		group_time "$name"
	done < <(read_list)

	case " ${RERO_SELFTEST_IMAGES:-verity} " in *" verity "*) verity_tests; group_time verity ;; esac
	case " ${RERO_SELFTEST_IMAGES:-verity-campaigns} " in *" verity-campaigns "*) verity_campaign_tests; group_time verity-campaigns ;; esac
	case " ${RERO_SELFTEST_IMAGES:-security} " in *" security "*) security_tests; group_time security ;; esac
	case " ${RERO_SELFTEST_IMAGES:-mutate} " in *" mutate "*) mutate_tests; group_time mutate ;; esac
	case " ${RERO_SELFTEST_IMAGES:-lazy} " in *" lazy "*) lazy_tests; group_time lazy ;; esac
	case " ${RERO_SELFTEST_IMAGES:-encrypt} " in *" encrypt "*) encrypt_tests; group_time encrypt ;; esac
	case " ${RERO_SELFTEST_IMAGES:-faults} " in *" faults "*) faults_tests; group_time faults ;; esac

	ktest "no rerofs mounts left" no_mounts_left
	ktest "rmmod rerofs" rmmod_test
	ktest "/proc/filesystems no longer lists rerofs" not_registered
	if [ $KMEMLEAK = 1 ]; then
		ktest "dmesg clean (no BUG/WARNING/KASAN/Oops/kmemleak)" dmesg_clean
	else
		ktest "dmesg clean (no BUG/WARNING/KASAN/Oops; kmemleak off in this guest)" dmesg_clean
	fi
}

. "$(dirname "${BASH_SOURCE[0]}")/verity.sh"
. "$(dirname "${BASH_SOURCE[0]}")/security.sh"
. "$(dirname "${BASH_SOURCE[0]}")/mutate.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lazy.sh"
. "$(dirname "${BASH_SOURCE[0]}")/encrypt.sh"
. "$(dirname "${BASH_SOURCE[0]}")/faults.sh"

main "$@"
