#!/usr/bin/env bash
# Coverage-guided fuzzing of the format crate (rust/format/fuzz, cargo fuzz +
# libFuzzer on the nightly toolchain).
#
#   scripts/fuzz.sh [--smoke] [--seconds N] [TARGET...]
#
# Makes seed images (mkfs.erofs: plain, -Enoinline_data, extended inodes,
# --chunksize, --blobdev; rerofs mkfs: verity and --no-verity) under
# build/fuzz/images, cuts the seed corpora from them (rust/format/examples/
# fuzz_seeds.rs) into build/fuzz/seeds/TARGET, builds the targets, and runs each
# one for N seconds (FUZZ_SECONDS, default 300; --smoke: 1), one after the other
# in one process. New inputs are kept in build/fuzz/corpus/TARGET for the next run;
# crashing inputs go to build/fuzz/artifacts/TARGET/; those that found a bug are
# kept in rust/format/fuzz/regressions/TARGET/ and replayed by every run.
# Prints one line per target:
#   ok - fuzz TARGET: R runs in S s, 0 crashes (C inputs in its corpus)
#   not ok - fuzz TARGET: crash after R runs: ARTIFACT
# and exits 1 if any target crashed (or the build failed).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
TOP=$PWD
CARGO=$HOME/.cargo/bin/cargo
seconds=${FUZZ_SECONDS:-300}
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) seconds=${FUZZ_SMOKE_SECONDS:-1} ;;
	--seconds) seconds=$2; shift ;;
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
W=$TOP/build/fuzz
FUZZ=$TOP/rust/format/fuzz

fail() {
	echo "not ok - fuzz: $1"
	exit 1
}

[ -x "$CARGO" ] && "$CARGO" +nightly --version >/dev/null 2>&1 ||
	fail "no nightly toolchain ($CARGO +nightly)"
command -v cargo-fuzz >/dev/null || fail "cargo-fuzz is not installed (scripts/setup-host.sh installs it)"
command -v mkfs.erofs >/dev/null || fail "mkfs.erofs is not installed (scripts/setup-host.sh installs it)"

# The seed tree: every inode kind, xattrs (inline and shared), a directory of
# two blocks, an inline tail, a hole; small, so that each run is fast.
make_tree() {
	local t=$1 i
	rm -rf "$t"
	mkdir -p "$t/d/sub" "$t/many"
	printf 'tail' >"$t/t"
	seq 1 2000 | head -c 6000 >"$t/a"
	head -c 5000 /dev/zero >"$t/zeros"
	truncate -s 16384 "$t/sparse"
	printf 'x' | dd of="$t/sparse" bs=1 seek=9000 conv=notrunc status=none
	ln -s a "$t/l"
	ln "$t/t" "$t/hard"
	mknod "$t/c" c 4 5 2>/dev/null || true
	mkfifo "$t/f"
	for i in $(seq -w 1 140); do : >"$t/many/name-$i-xxxxxxxxxx"; done
	for i in 1 2 3 4; do
		printf 'file %s' "$i" >"$t/d/f$i"
		setfattr -n user.common -v shared "$t/d/f$i"
		setfattr -n trusted.t -v "$i" "$t/d/f$i"
	done
	setfattr -n security.selinux -v ctx "$t/a"
	setfattr -n user.long -v "$(printf 'v%.0s' $(seq 1 300))" "$t/t"
	setfattr -n user.dir -v d "$t/d"
	printf deep >"$t/d/sub/deep"
}

# Seed images; each line of $W/images.list is META[,BLOB...] in slot order.
make_images() {
	local img=$W/images tree=$W/images/tree rerofs=$TOP/tools/target/release/rerofs
	rm -rf "$img"
	mkdir -p "$img"
	make_tree "$tree"
	: >"$W/images.list"
	local mk=(mkfs.erofs --quiet -T0 -U01234567-89ab-cdef-0123-456789abcdef)
	"${mk[@]}" "$img/plain.erofs" "$tree" &&
		"${mk[@]}" -Enoinline_data "$img/noinline.erofs" "$tree" &&
		"${mk[@]}" -Eforce-inode-extended "$img/extended.erofs" "$tree" &&
		"${mk[@]}" --chunksize=4096 "$img/chunk4k.erofs" "$tree" &&
		"${mk[@]}" --chunksize=8192 --blobdev="$img/blob.dev" "$img/blobdev.erofs" "$tree" ||
		return 1
	printf '%s\n' "$img/plain.erofs" "$img/noinline.erofs" "$img/extended.erofs" \
		"$img/chunk4k.erofs" "$img/blobdev.erofs,$img/blob.dev" >>"$W/images.list"
	if ! [ -x "$rerofs" ]; then
		(cd tools && "${RERO_CARGO:-cargo}" build -q --release) >&2 || return 1
	fi
	local kind opt
	for kind in verity noverity; do
		opt=--verity
		[ $kind = noverity ] && opt=--no-verity
		mkdir -p "$img/$kind-blobs"
		"$rerofs" mkfs -T0 --uuid 01234567-89ab-cdef-0123-456789abcdef $opt --chunk-size 4096 \
			--blob-dir "$img/$kind-blobs" "$img/$kind.rerofs" "$tree" >/dev/null || return 1
		local line=$img/$kind.rerofs tag
		for tag in $("$rerofs" inspect --devices "$img/$kind.rerofs"); do
			line+=",$img/$kind-blobs/$tag"
		done
		echo "$line" >>"$W/images.list"
	done
	# An encrypted image (the encrypt target's seeds): keys from files.
	mkdir -p "$img/enc-blobs"
	"$rerofs" keygen "$img/domain.key" >/dev/null && "$rerofs" keygen "$img/image.key" >/dev/null &&
		"$rerofs" mkfs -T0 --uuid 01234567-89ab-cdef-0123-456789abcdef --chunk-size 4096 --encrypt \
			--domain-key "$img/domain.key" --image-key "$img/image.key" \
			--blob-dir "$img/enc-blobs" "$img/enc.rerofs" "$tree" >/dev/null || return 1
	line=$img/enc.rerofs
	for tag in $("$rerofs" inspect --devices "$img/enc.rerofs"); do
		line+=",$img/enc-blobs/$tag"
	done
	echo "$line" >>"$W/images.list"
}

t0=$(date +%s)
mkdir -p "$W"
make_images >&2 || fail "cannot make the seed images"
rm -rf "$W/seeds"
mapfile -t images <"$W/images.list"
(cd rust/format && "${RERO_CARGO:-cargo}" run -q --example fuzz_seeds -- "$W/seeds" "${images[@]}") >&2 ||
	fail "cannot cut the seed corpora (cargo run --example fuzz_seeds)"
# Built without a sanitizer: the format crate has no unsafe code, so ASan would
# find nothing the Rust checks do not, at half the speed. Release build with
# debug assertions and overflow checks (cargo fuzz's default), as the kernel
# builds Rust with CONFIG_RUST_OVERFLOW_CHECKS.
# libFuzzer itself: Debian's prebuilt one (libclang-rt-14-dev) when it is there,
# else libfuzzer-sys compiles its bundled C++ copy, which took 90 of the build's
# 115 s in make check. The sancov hooks the targets call are the same in both.
lf=$(clang-14 -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a
if [ -f "$lf" ]; then
	export CUSTOM_LIBFUZZER_PATH=$lf
else
	echo "# fuzz: $lf not found (libclang-rt-14-dev): building libFuzzer from libfuzzer-sys" >&2
fi
(cd "$FUZZ" && "$CARGO" +nightly fuzz build -s none) >&2 || fail "cannot build the fuzz targets"
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd "$FUZZ" && "$CARGO" +nightly fuzz list)
echo "# fuzz: seeds and build: $(( $(date +%s) - t0 )) s; ${#targets[@]} targets, $seconds s each"

bad=0
total=0
for t in "${targets[@]}"; do
	mkdir -p "$W/corpus/$t" "$W/artifacts/$t" "$W/seeds/$t"
	# Inputs that once crashed a target, replayed first (each is also a unit test).
	regress=()
	[ -d "$FUZZ/regressions/$t" ] && regress=("$FUZZ/regressions/$t")
	# Whole images may grow; the other targets keep libFuzzer's default (the
	# largest seed).
	maxlen=()
	[ "$t" = image ] && maxlen=(-max_len=1048576)
	log=$W/$t.log
	ts=$(date +%s)
	# What `cargo fuzz run -s none TARGET DIRS... -- OPTIONS` runs, without its
	# second look at the build.
	"$FUZZ/target/x86_64-unknown-linux-gnu/release/$t" "$W/corpus/$t" "$W/seeds/$t" "${regress[@]}" \
		-max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
		-rss_limit_mb=2048 "${maxlen[@]}" -artifact_prefix="$W/artifacts/$t/" >"$log" 2>&1
	rc=$?
	runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log" | tail -n 1)
	runs=${runs:-0}
	total=$((total + runs))
	ncorpus=$(find "$W/corpus/$t" -type f | wc -l)
	if [ $rc = 0 ]; then
		echo "ok - fuzz $t: $runs runs in $(( $(date +%s) - ts )) s, 0 crashes ($ncorpus inputs in its corpus)"
	else
		bad=$((bad + 1))
		art=$(grep -o "$W/artifacts/$t/[^ ]*" "$log" | tail -n 1)
		grep -E 'panicked|ERROR|SUMMARY' "$log" | head -n 5 >&2
		echo "not ok - fuzz $t: crash after $runs runs: ${art:-see $log}"
	fi
done
echo "# fuzz: $total runs over ${#targets[@]} targets in $(( $(date +%s) - t0 )) s"
[ $bad = 0 ]
