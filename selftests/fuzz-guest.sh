#!/bin/bash
# selftests/fuzz-guest.sh [N]: a long guest mutation campaign (make fuzz-guest N=...).
#
# Makes the seed images (selftests/mkmutate.py) in build/fuzz-guest/, then boots
# the test kernel (selftests/vm-run) as many times as it takes to run N mutated
# images (default 2000), RERO_FUZZ_PER_BOOT a boot (default 1000), each boot
# running the "mutate" group of selftests/guest/main.sh: insmod, the campaign
# (selftests/guest/mutate.py), its kernel-log check, rmmod, and the final dmesg
# and kmemleak check. Prints each boot's counts and KTAP results, the totals,
# and as its last line "fuzz-guest: PASS" or "fuzz-guest: FAIL" (exit 0 or 1).
# Environment: RERO_FUZZ_SEED (campaign number, default 1), RERO_FUZZ_START
# (first case number, default 0: cases START..START+N-1), RERO_FUZZ_PER_BOOT,
# RERO_VM_LOCK (passed to vm-run), RERO_BIN (a built rerofs binary).
# Findings are kept in build/vm-scratch/mutate-found/ (image + mutation list);
# after a guest crash, build/vm-scratch/mutate-current names the case that was
# being mounted. `mutate.py make` rewrites any case's image from its number.
set -u
export LC_ALL=C

main() {
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/fuzz-guest
n=${1:-2000}
seed=${RERO_FUZZ_SEED:-1}
start=${RERO_FUZZ_START:-0}
per=${RERO_FUZZ_PER_BOOT:-1000}
for v in "$n" "$seed" "$start" "$per"; do
	case $v in ''|*[!0-9]*) echo "fuzz-guest: not a number: '$v'" >&2; exit 2 ;; esac
done
[ "$per" -gt 0 ] || per=1000
rerofs=${RERO_BIN:-$top/tools/target/release/rerofs}
if [ -z "${RERO_BIN:-}" ]; then
	(cd "$top/tools" && "${RERO_CARGO:-cargo}" build -q --release) ||
		{ echo "fuzz-guest: cannot build the rerofs tools" >&2; exit 2; }
fi
[ -f "$top/rerofs.ko" ] || { echo "fuzz-guest: no $top/rerofs.ko (make module)" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out" || exit 2
python3 "$here/mkmutate.py" "$out/mutate" "$rerofs" || { echo "fuzz-guest: mkmutate.py failed" >&2; exit 2; }
# main.sh wants an images.list: no images, only the mutate group.
echo "# fuzz-guest: the mutation campaign only" >"$out/images.list"
scratch=$top/build/vm-scratch
mkdir -p "$scratch"
rm -f "$scratch/mutate-current"

fail=0 boots=0 tried=0 mounted=0 refused=0 readerr=0 found=0
t0=$(date +%s)
cd "$top" || exit 2
for ((s = start; s < start + n; s += per)); do
	k=$((start + n - s))
	[ $k -gt $per ] && k=$per
	boots=$((boots + 1))
	log=$out/boot-$boots.log
	echo "fuzz-guest: boot $boots: campaign $seed, cases $s..$((s + k - 1))" >&2
	RERO_VM_LOCK=${RERO_VM_LOCK:-/tmp/rerofs-vm-shard0.lock} "$here/vm-run" --timeout $((600 + k * 10)) -- \
		env RERO_SELFTEST_DATA="$out" RERO_SELFTEST_IMAGES=mutate RERO_MUTATE_N=$k \
		RERO_MUTATE_START=$s RERO_MUTATE_SEED=$seed "$here/guest/main.sh" >"$log" 2>"$out/boot-$boots.err"
	rc=$?
	tr -d '\r' <"$log" >"$log.clean" && mv "$log.clean" "$log"
	grep -E '^(not )?ok |^# (seed|erofs|rerofs|total|read errors|mutate:|FOUND|  kernel)' "$log"
	if ! grep -q '^# Totals:' "$log"; then
		echo "fuzz-guest: boot $boots did not finish (exit status $rc; see $out/boot-$boots.err)"
		[ -f "$scratch/mutate-current" ] &&
			echo "fuzz-guest: the case being mounted (campaign case seed, counts so far): $(cat "$scratch/mutate-current")"
		fail=1
	elif [ $rc != 0 ] || grep -q '^not ok ' "$log"; then
		fail=1
	fi
	read -r t m r e < <(awk '$2 == "total" && NF == 6 { print $3, $4, $5, $6 }' "$log" | tail -n 1)
	tried=$((tried + ${t:-0})) mounted=$((mounted + ${m:-0})) refused=$((refused + ${r:-0})) readerr=$((readerr + ${e:-0}))
	found=$((found + $(grep -c '^# FOUND' "$log")))
done
echo "fuzz-guest: $boots boots, $(( $(date +%s) - t0 )) s: $tried images tried, $mounted mounted, $refused refused, $readerr paths failed to read, $found findings (kept in $scratch/mutate-found)"
[ $tried -ge $n ] || { echo "fuzz-guest: only $tried of $n images tried"; fail=1; }
if [ $fail = 0 ] && [ $found = 0 ]; then
	echo "fuzz-guest: PASS"
	exit 0
fi
echo "fuzz-guest: FAIL"
exit 1
}

main "$@"
