# Shared environment for rerofs build scripts. Source it; it prints nothing.
# Everything cached lives outside the checkout, under $RERO_CACHE.
: "${RERO_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/rerofs}"
RERO_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KVER_PKG=6.12
KSRC_TAR=/usr/src/linux-source-${KVER_PKG}.tar.xz
BINDGEN_VERSION=0.69.5
BINDGEN=$RERO_CACHE/tools/bin/bindgen
CARGO_FUZZ_VERSION=0.13.2
VENV=$RERO_CACHE/venv
# The kernel is built with Debian's rustc-web (matched with rust-web-src), never rustup's.
KMAKE_ARGS=(LLVM=-14 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc HOSTRUSTC=/usr/bin/rustc "BINDGEN=$BINDGEN")
# Cache key: the source package version and the config fragment(s) + build flags.
# rero_kernel_key [bench]: the test kernel's, or the bench kernel's (the test
# kernel's fragment with kernel/bench.config over it; its directory ends in -bench).
rero_kernel_key() {
	local ver h extra=
	[ "${1:-}" = bench ] && extra=$RERO_TOP/kernel/bench.config
	ver=$(dpkg-query -W -f='${Version}' linux-source-${KVER_PKG} 2>/dev/null || echo unknown)
	h=$( { cat "$RERO_TOP/kernel/rerofs.config" ${extra:+"$extra"} "$RERO_TOP/kernel/certs/rerofs-test-ca.pem"; echo "${KMAKE_ARGS[*]}"; dpkg-query -W -f='${Version}' rustc-web 2>/dev/null; } | sha256sum | cut -c1-16)
	echo "${ver}-${h}${extra:+-bench}"
}
rero_kdir() { echo "$RERO_CACHE/kernel/$(rero_kernel_key "${1:-}")"; }
# The unpacked kernel source (the kernel builds and the module build use it).
rero_ksrc() { echo "$RERO_CACHE/kernel/src-$(dpkg-query -W -f='${Version}' linux-source-${KVER_PKG})"; }
# rero_ksrc_unpacked: true when the source is unpacked (whole: the marker is
# written after tar succeeds).
rero_ksrc_unpacked() { [ -f "$(rero_ksrc)/.rerofs-unpacked" ]; }
# rero_unpack_ksrc: unpacks $KSRC_TAR into $(rero_ksrc) unless it is there (one
# unpack at a time: a second caller waits for the first and finds it done).
rero_unpack_ksrc() {
	local src
	src=$(rero_ksrc)
	mkdir -p "$RERO_CACHE/kernel" || return 1
	(
		flock 9 || exit 1
		rero_ksrc_unpacked && exit 0
		echo "kernel: unpacking $KSRC_TAR" >&2
		rm -rf "$src" && mkdir -p "$src" &&
			tar -xf "$KSRC_TAR" -C "$src" --strip-components=1 &&
			touch "$src/.rerofs-unpacked"
	) 9>"$src.lock"
}
export PATH=$RERO_CACHE/tools/bin:$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
