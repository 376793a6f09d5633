#!/usr/bin/env bash
# Build (or reuse) the test kernel: Debian's linux-source-6.12 configured with
# kernel/rerofs.config over allnoconfig, built with LLVM=-14 and Debian's
# rustc-web. The build lives in $RERO_CACHE/kernel/<pkgversion>-<confighash>/
# and is reused while the source package, fragment and toolchain are unchanged.
# Prints the build directory on its last line.
#   --bench   the bench kernel instead: kernel/bench.config merged over the
#             test kernel's fragment (no KASAN, lockdep, kmemleak, fault
#             injection), in <pkgversion>-<confighash>-bench/ (make bench)
set -euo pipefail

# One function, parsed before it runs: editing this file during a build (which
# takes many minutes) cannot change what the running build does.
main() {
. "$(dirname "$0")/env.sh"

variant= frags=("$RERO_TOP/kernel/rerofs.config")
if [ "${1:-}" = --bench ]; then
	variant=bench frags+=("$RERO_TOP/kernel/bench.config")
elif [ $# -gt 0 ]; then
	echo "build-kernel.sh: unknown argument $1 (--bench or nothing)" >&2
	exit 2
fi
KDIR=$(rero_kdir $variant)
if [ -f "$KDIR/.rerofs-built" ]; then
	echo "kernel: cached build $KDIR" >&2
	echo "$KDIR"
	exit 0
fi
SRC=$(rero_ksrc)
rero_unpack_ksrc || { echo "kernel: cannot unpack $KSRC_TAR into $SRC" >&2; exit 1; }
rm -rf "$KDIR" && mkdir -p "$KDIR"
log=$KDIR/build.log
echo "kernel: building ${variant:+the $variant kernel }in $KDIR (log: $log); 12 to 15 min on an idle 2-core machine, 20 or more on a busy one" >&2
start=$(date +%s)
# The test CA goes into the builtin trusted keyring, so that its certificate, and
# certificates it signs, may be added to rerofs's restricted .rerofs keyring. Its path is only known here, so it is not in the fragment.
{
	make -C "$SRC" O="$KDIR" "${KMAKE_ARGS[@]}" rustavailable
	make -C "$SRC" O="$KDIR" "${KMAKE_ARGS[@]}" allnoconfig
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" "${frags[@]}"
	cp "$RERO_TOP/kernel/certs/rerofs-test-ca.pem" "$KDIR/rerofs-test-ca.pem"
	"$SRC/scripts/config" --file "$KDIR/.config" --set-str SYSTEM_TRUSTED_KEYS "$KDIR/rerofs-test-ca.pem"
	make -C "$SRC" O="$KDIR" "${KMAKE_ARGS[@]}" olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
# Every symbol the fragments set (the last fragment's word on a symbol wins)
# must have survived olddefconfig, set or unset.
bad=0
declare -A want=()
while read -r line; do
	sym=${line%%=*} sym=${sym#\# } sym=${sym% is not set}
	want[$sym]=$line
done < <(cat "${frags[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=|^# CONFIG_[A-Z0-9_]+ is not set$')
for sym in "${!want[@]}"; do
	line=${want[$sym]}
	have=$(grep -E "^$sym=|^# $sym is not set" "$KDIR/.config" || true)
	case $line in "# "*) [ -z "$have" ] && have=$line ;; esac # unset and absent: the same
	if [ "$have" != "$line" ]; then echo "kernel: config $line became '${have:-absent}'" >&2; bad=1; fi
done
[ $bad = 0 ] || exit 1
if ! make -C "$SRC" O="$KDIR" "${KMAKE_ARGS[@]}" -j"$(nproc)" all >>"$log" 2>&1; then
	tail -40 "$log" >&2
	exit 1
fi
touch "$KDIR/.rerofs-built"
echo "kernel: built in $(( $(date +%s) - start )) s" >&2
echo "$KDIR"
}

main "$@"
exit
