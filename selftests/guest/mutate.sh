#!/bin/bash
# rerofs guest mutation campaign; sourced by selftests/guest/main.sh, whose
# ktest/step/helpers it uses. The seed images (selftests/mkmutate.py, run by
# selftests/run.sh) are in $DATA/mutate; selftests/guest/mutate.py mutates
# them (seeded, biased to metadata, superblock checksum recomputed, verity
# metadata re-sealed for the "resealed" mounts), mounts, walks and unmounts
# each image in one process (mount(2) by ctypes: no exec per image).
#
# Environment: RERO_MUTATE_N (images, default 60: the short run of make
# check), RERO_MUTATE_START (first case number, default 0), RERO_MUTATE_SEED
# (campaign number, default 1). The regression cases
# (selftests/guest/mutate-regressions.txt) are replayed first. Findings
# (kernel report after a case, failed umount) are kept in
# $RERO_SCRATCH/mutate-found (a host directory: build/vm-scratch), and the case
# being mounted is in $RERO_SCRATCH/mutate-current (names the case after a
# guest crash). selftests/fuzz-guest.sh (make fuzz-guest N=...) runs long
# campaigns through this group.

mu_campaign() { # N START SEED
	local keep=$WORK/mutate-found prog= rc
	[ -n "${RERO_SCRATCH:-}" ] && [ -d "$RERO_SCRATCH" ] && [ -w "$RERO_SCRATCH" ] &&
		keep=$RERO_SCRATCH/mutate-found prog=$RERO_SCRATCH/mutate-current
	[ -f "$DATA/mutate/seeds.json" ] || { echo "no $DATA/mutate/seeds.json (selftests/mkmutate.py)"; return 1; }
	require_rerofs || return 1
	dmesg_mark
	# (about 1.2 s an image in the emulated KASAN guest, 3 s on a loaded host; the limit is far above)
	timeout -k 5 $((300 + $1 * 10)) "${PY[@]}" "$HERE/mutate.py" run "$DATA/mutate" "$WORK/img/mutate" \
		"$WORK/mutate/mnt" -n "$1" --start "$2" --seed "$3" --cases "$HERE/mutate-regressions.txt" \
		--keep "$keep" ${prog:+--progress "$prog"}
	rc=$?
	[ $rc = 0 ] || echo "mutate.py exited with status $rc"
	return $rc
}

mu_clean() { # the kernel log since the campaign started has no report
	local l n=0 k
	local -A c=()
	local -a order=()
	if dmesg_match "$DMESG_BAD"; then return 1; fi
	# (dmesg_match left every line since the mark in K_TEXT.) What rerofs said,
	# digits masked, counted: in bash, no exec.
	for l in "${K_TEXT[@]}"; do
		[[ $l == *rerofs* ]] || continue
		n=$((n + 1))
		k=${l#*] }
		k=${k//[0-9]/#}
		[ -n "${c[$k]:-}" ] || order+=("$k")
		c[$k]=$(( ${c[$k]:-0} + 1 ))
	done
	echo "rerofs said $n lines during the campaign (${#order[@]} kinds, digits as #; the first 15):"
	for k in "${order[@]:0:15}"; do printf '%6d %s\n' "${c[$k]}" "$k"; done
	return 0
}

mutate_tests() {
	local n=${RERO_MUTATE_N:-60} start=${RERO_MUTATE_START:-0} seed=${RERO_MUTATE_SEED:-1}
	ktest "mutation campaign: $n mutated images of 8 seed images (11 mount kinds) mount or fail cleanly (campaign $seed, cases $start..$((start + n - 1)), plus the regression cases)" \
		mu_campaign "$n" "$start" "$seed"
	ktest "mutation campaign: no oops/KASAN/UBSAN/lockdep/hung-task report in the kernel log" mu_clean
}
