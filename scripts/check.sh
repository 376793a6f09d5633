#!/usr/bin/env bash
# `make check`: everything from a fresh machine: host set-up, the cached test
# kernel, the module (warning-free), the format crate's unit tests, and the
# selftests in a guest. Ends with one line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
passed=0
failed=0
declare -a timings=()

timed() { # timed NAME CMD...: runs CMD, records its wall time
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	"$@"
	rc=$?
	timings+=("$name: $(( $(date +%s) - t0 )) s (exit $rc)")
	return $rc
}

fail_all() {
	echo "check: $1" >&2
	printf '%s\n' "${timings[@]}" >&2
	echo "$passed passed, $(( failed + 1 )) failed"
	exit 1
}

timed setup bash scripts/setup-host.sh || fail_all "host set-up failed"
timed kernel bash scripts/build-kernel.sh >/dev/null || fail_all "test kernel build failed"
if timed module make -s module; then
	passed=$((passed + 1)); echo "ok - module builds without warnings"
else
	failed=$((failed + 1)); echo "not ok - module builds without warnings"
fi

# Unit and integration tests of the format crate and the tools (cargo's own
# summary lines are summed).
cargo_tests() { # DIR
	local log p f t0
	log=$(mktemp)
	t0=$(date +%s)
	(cd "$1" && PATH=/usr/bin:/bin:/usr/sbin:/sbin cargo test 2>&1) | tee "$log" | grep -E '^test |test result|panicked|error' >&2
	read -r p f < <(awk '/^test result:/ {for (i = 1; i <= NF; i++) {if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1)}} END {print p + 0, f + 0}' "$log")
	if ! grep -q '^test result:' "$log" || grep -q '^error' "$log"; then f=$((f + 1)); echo "check: cargo test in $1 did not run cleanly" >&2; fi
	echo "# $1: $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
	timings+=("cargo test $1: $(( $(date +%s) - t0 )) s")
	rm -f "$log"
}
cargo_tests rust/format
cargo_tests tools
# Lints: clippy on the userspace crates (rustup's cargo has clippy).
if [ -x "$HOME/.cargo/bin/cargo" ] && "$HOME/.cargo/bin/cargo" clippy --version >/dev/null 2>&1; then
	if (cd tools && "$HOME/.cargo/bin/cargo" clippy -q --all-targets -- -D warnings) >&2 &&
		(cd rust/format && "$HOME/.cargo/bin/cargo" clippy -q --all-targets -- -D warnings) >&2; then
		passed=$((passed + 1)); echo "ok - cargo clippy clean (tools, format)"
	else
		failed=$((failed + 1)); echo "not ok - cargo clippy clean (tools, format)"
	fi
fi

# Formatting: rustfmt on the module, cargo fmt on the crates.
if rustfmt --edition 2021 --check rust/*.rs >&2 && (cd rust/format && cargo fmt --check) >&2 &&
	(cd tools && cargo fmt --check) >&2; then
	passed=$((passed + 1)); echo "ok - rustfmt clean (module, format, tools)"
else
	failed=$((failed + 1)); echo "not ok - rustfmt clean (module, format, tools)"
fi

# Smoke run of the mkfs benchmark (the full one is `make bench`).
t0=$(date +%s)
if bash bench/mkfs.sh --smoke >&2; then
	passed=$((passed + 1)); echo "ok - mkfs benchmark smoke run (bench/mkfs.sh --smoke)"
else
	failed=$((failed + 1)); echo "not ok - mkfs benchmark smoke run (bench/mkfs.sh --smoke)"
fi
timings+=("bench smoke: $(( $(date +%s) - t0 )) s")
# The release tools, built once before the guest parts use them.
(cd tools && PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH cargo build -q --release) >&2 ||
	echo "check: cannot build the rerofs tools" >&2

# The guest parts run at the same time, each guest on one vCPU, so that both
# host cores stay busy: the read benchmark smoke run (one short guest boot, every
# peer mounted and read) in the background, and the selftests (selftests/run.sh
# splits them over two guests).
bench_log=$(mktemp)
t_bench=$(date +%s)
if [ -f rerofs.ko ]; then
	(bash bench/read.sh --smoke >"$bench_log" 2>&1; echo $? >"$bench_log.rc"; echo $(( $(date +%s) - t_bench )) >"$bench_log.s") &
	bench_pid=$!
else
	bench_pid=
fi

# Selftests in the guests; their last line is `N passed, N failed`.
if [ -f rerofs.ko ]; then
	log=$(mktemp)
	t0=$(date +%s)
	bash selftests/run.sh 2>&1 | tee "$log"
	timings+=("selftests (two guests at once): $(( $(date +%s) - t0 )) s")
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$last" ]; then
		passed=$((passed + $(echo "$last" | cut -d' ' -f1)))
		failed=$((failed + $(echo "$last" | cut -d' ' -f3)))
	else
		failed=$((failed + 1)); echo "check: selftests printed no summary" >&2
	fi
	rm -f "$log"
else
	failed=$((failed + 1)); echo "not ok - selftests (no module)"
fi

if [ -n "$bench_pid" ]; then
	wait "$bench_pid"
	cat "$bench_log" >&2
fi
if [ "$(cat "$bench_log.rc" 2>/dev/null)" = 0 ]; then
	passed=$((passed + 1)); echo "ok - read benchmark smoke run (bench/read.sh --smoke)"
else
	failed=$((failed + 1)); echo "not ok - read benchmark smoke run (bench/read.sh --smoke)"
fi
timings+=("read bench smoke (one guest, beside the selftests): $(cat "$bench_log.s" 2>/dev/null || echo '?') s")
rm -f "$bench_log" "$bench_log.rc" "$bench_log.s"

echo "# timings:"; printf '#   %s\n' "${timings[@]}"
echo "# kernel build dir: $(. scripts/env.sh; rero_kdir)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
