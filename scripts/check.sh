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

timed setup bash scripts/setup-host.sh --with-kernel-source || fail_all "host set-up failed"
# The host's speed now and at the end: machines of this kind differ, and one
# machine's speed varies from hour to hour (the same make check took 725 s and
# 1,055 s an hour apart): compare the figures of two runs with these.
host_speed() {
	openssl speed -seconds 2 -bytes 4096 sha256 2>/dev/null |
		awk '/^sha256/ {v = $2; sub(/k$/, "", v); printf "%.0f MB/s", v / 1000}'
}
speed0=$(host_speed)
# The userspace crates build with rustup's toolchain where there is one (the
# machine's own; it also runs clippy, which then reuses the build scripts and
# proc-macros of the build), else with Debian's cargo. Measured: the release
# build of the tools takes 151 CPU-s with rustup's rustc and 238 with Debian's
# rustc-web, and clippy after it 33 CPU-s instead of 96.
RERO_CARGO=$HOME/.cargo/bin/cargo
{ [ -x "$RERO_CARGO" ] && "$RERO_CARGO" --version >/dev/null 2>&1; } || RERO_CARGO=/usr/bin/cargo
export RERO_CARGO
timed kernel bash scripts/build-kernel.sh >/dev/null || fail_all "test kernel build failed"
if timed module make -s module; then
	passed=$((passed + 1)); echo "ok - module builds without warnings"
else
	failed=$((failed + 1)); echo "not ok - module builds without warnings"
fi

# The release tools first: the selftests make their images with them.
if ! timed "tools (release build)" bash -c 'cd tools && "$RERO_CARGO" build -q --release' >&2; then
	echo "check: cannot build the rerofs tools" >&2
fi

# The selftests start now, in the background: two guests (selftests/run.sh
# splits the groups over them), while the host parts below run beside them. Their
# progress goes to stderr as it comes; their KTAP results are printed at the end.
st_log=$(mktemp)
t_st=$(date +%s)
if [ -f rerofs.ko ]; then
	(RERO_BIN=$TOP/tools/target/release/rerofs bash selftests/run.sh >"$st_log" 2>&2; echo $? >"$st_log.rc"; echo $(( $(date +%s) - t_st )) >"$st_log.s") &
	st_pid=$!
else
	st_pid=
fi

# Unit and integration tests of the format crate and the tools (cargo's own
# summary lines are summed). Release profile: the tools' dependencies are then
# built once, for the tests and for the binaries the guests use.
cargo_tests() { # DIR
	local log p f t0
	log=$(mktemp)
	t0=$(date +%s)
	(cd "$1" && PATH=/usr/bin:/bin:/usr/sbin:/sbin "$RERO_CARGO" test --release 2>&1) | tee "$log" | grep -E '^test |test result|panicked|^  left:|^ right:|error' >&2
	read -r p f < <(awk '/^test result:/ {for (i = 1; i <= NF; i++) {if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1)}} END {print p + 0, f + 0}' "$log")
	if ! grep -q '^test result:' "$log" || grep -q '^error' "$log"; then f=$((f + 1)); echo "check: cargo test in $1 did not run cleanly" >&2; fi
	echo "# $1: $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
	timings+=("cargo test $1: $(( $(date +%s) - t0 )) s")
	rm -f "$log"
}
cargo_tests rust/format
cargo_tests tools
# Lints: clippy on the userspace crates (rustup's cargo has clippy); --release, so
# that the build scripts' outputs of the release build above are reused.
t0=$(date +%s)
if [ -x "$HOME/.cargo/bin/cargo" ] && "$HOME/.cargo/bin/cargo" clippy --version >/dev/null 2>&1; then
	if (cd tools && "$HOME/.cargo/bin/cargo" clippy -q --release --all-targets -- -D warnings) >&2 &&
		(cd rust/format && "$HOME/.cargo/bin/cargo" clippy -q --release --all-targets -- -D warnings) >&2; then
		passed=$((passed + 1)); echo "ok - cargo clippy clean (tools, format)"
	else
		failed=$((failed + 1)); echo "not ok - cargo clippy clean (tools, format)"
	fi
fi
timings+=("clippy: $(( $(date +%s) - t0 )) s")

# Formatting: rustfmt on the module (not bindgen's output), cargo fmt on the crates.
if rustfmt --edition 2021 --check $(ls rust/*.rs rust/vfs/*.rs | grep -v _generated) >&2 && (cd rust/format && cargo fmt --check) >&2 &&
	(cd tools && cargo fmt --check) >&2; then
	passed=$((passed + 1)); echo "ok - rustfmt clean (module, format, tools)"
else
	failed=$((failed + 1)); echo "not ok - rustfmt clean (module, format, tools)"
fi

# The mutation campaign's pure-Python AES-GCM (it re-makes the key check of
# mutated encrypted images) against FIPS-197 and, where installed, cryptography.
if python3 selftests/test_aesgcm.py >&2; then
	passed=$((passed + 1)); echo "ok - selftests/aesgcm.py (AES-256, GCM tags)"
else
	failed=$((failed + 1)); echo "not ok - selftests/aesgcm.py (AES-256, GCM tags)"
fi

# Layering: `unsafe` only in rust/vfs/ and the binding files, each block with its
# own SAFETY comment; rust/vfs/ names no other module of the crate.
if python3 scripts/check-layering.py >&2; then
	passed=$((passed + 1)); echo "ok - module layering (scripts/check-layering.py)"
else
	failed=$((failed + 1)); echo "not ok - module layering (scripts/check-layering.py)"
fi

# Smoke run of the mkfs benchmark (the full one is `make bench`).
t0=$(date +%s)
if RERO_BIN=$TOP/tools/target/release/rerofs bash bench/mkfs.sh --smoke >&2; then
	passed=$((passed + 1)); echo "ok - mkfs benchmark smoke run (bench/mkfs.sh --smoke)"
else
	failed=$((failed + 1)); echo "not ok - mkfs benchmark smoke run (bench/mkfs.sh --smoke)"
fi
timings+=("mkfs bench smoke: $(( $(date +%s) - t0 )) s")

# Coverage-guided fuzzing of the format crate, a short fixed budget per target
# (the long campaign is `make fuzz`); one ok/not ok line per target.
t0=$(date +%s)
fz_log=$(mktemp)
bash scripts/fuzz.sh --smoke >"$fz_log"
fz_rc=$?
cat "$fz_log"
fz_ok=$(grep -c '^ok ' "$fz_log")
fz_bad=$(grep -c '^not ok ' "$fz_log")
[ "$fz_rc" != 0 ] && [ "$fz_bad" = 0 ] && fz_bad=1
passed=$((passed + fz_ok)); failed=$((failed + fz_bad))
rm -f "$fz_log"
timings+=("fuzz smoke: $(( $(date +%s) - t0 )) s")

# The read benchmark smoke run (one short guest boot, every peer mounted and
# read): a third guest, started once the host parts are done so that it takes
# their share of the two cores.
t0=$(date +%s)
if [ -f rerofs.ko ] && RERO_BIN=$TOP/tools/target/release/rerofs bash bench/read.sh --smoke >&2; then
	passed=$((passed + 1)); echo "ok - read benchmark smoke run (bench/read.sh --smoke)"
else
	failed=$((failed + 1)); echo "not ok - read benchmark smoke run (bench/read.sh --smoke)"
fi
timings+=("read bench smoke (a guest beside the selftests): $(( $(date +%s) - t0 )) s")

# Selftests in the guests; their last line is `N passed, N failed`.
if [ -n "$st_pid" ]; then
	wait "$st_pid"
	cat "$st_log"
	timings+=("selftests (two guests at once, from the start of the host tests): $(cat "$st_log.s" 2>/dev/null || echo '?') s")
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$st_log" | tail -n 1)
	if [ -n "$last" ]; then
		passed=$((passed + $(echo "$last" | cut -d' ' -f1)))
		failed=$((failed + $(echo "$last" | cut -d' ' -f3)))
	else
		failed=$((failed + 1)); echo "check: selftests printed no summary" >&2
	fi
else
	failed=$((failed + 1)); echo "not ok - selftests (no module)"
fi
rm -f "$st_log" "$st_log.rc" "$st_log.s"

echo "# timings:"; printf '#   %s\n' "${timings[@]}"
echo "# host speed (SHA-256 on one core, openssl, 4 KiB): ${speed0:-?} at the start, $(host_speed) at the end"
tf=$(mktemp) && times >"$tf" && echo "# CPU time of the run's processes (user, system): $(tail -n 1 "$tf")"
rm -f "$tf"
echo "# kernel build dir: $(. scripts/env.sh; rero_kdir)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
