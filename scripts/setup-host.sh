#!/usr/bin/env bash
# Install everything rerofs needs on a Debian 12 machine. Idempotent; quiet when
# everything is already present. Needs root (apt) the first time.
#   --with-kernel-source   also unpack the kernel source (make check: it needs
#                          it for the kernel and module builds), in the
#                          background while the cargo tools below build: the
#                          unpack (xz) keeps one core busy for about a minute.
set -euo pipefail
. "$(dirname "$0")/env.sh"
ksrc=0
for a; do
	case $a in
	--with-kernel-source) ksrc=1 ;;
	*) echo "setup-host.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done

PKGS=(rustc-web rust-web-src rustfmt-web cargo-web linux-source-6.12
	build-essential flex bison bc libelf-dev libssl-dev libzstd-dev cpio kmod
	clang-14 lld-14 llvm-14 libclang-dev qemu-system-x86 erofs-utils fsverity keyutils
	busybox-static attr acl udev python3-venv util-linux openssl xz-utils pkg-config
	cryptsetup-bin dmsetup docker-registry libclang-rt-14-dev)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# rustc-web and rust-web-src must be the same version: the kernel compiles core from that source.
a=$(dpkg-query -W -f='${Version}' rustc-web); b=$(dpkg-query -W -f='${Version}' rust-web-src)
if [ "$a" != "$b" ]; then
	echo "setup: rustc-web $a and rust-web-src $b differ; install matching versions" >&2
	exit 1
fi

unpack_pid=
if [ $ksrc = 1 ] && ! rero_ksrc_unpacked; then
	rero_unpack_ksrc &
	unpack_pid=$!
fi

mkdir -p "$RERO_CACHE/tools"
if ! [ -x "$BINDGEN" ] || ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	echo "setup: building bindgen-cli $BINDGEN_VERSION from crates.io"
	CARGO_HOME=$RERO_CACHE/cargo-home /usr/bin/cargo install -q bindgen-cli \
		--version "$BINDGEN_VERSION" --locked --root "$RERO_CACHE/tools"
fi

if ! [ -x "$VENV/bin/vng" ]; then
	echo "setup: installing virtme-ng from PyPI"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q virtme-ng
fi

# cargo-fuzz, for the format crate's fuzz targets (scripts/fuzz.sh: `make fuzz`,
# and the short run of `make check`); it runs them with rustup's nightly toolchain.
if [ -x "$HOME/.cargo/bin/cargo" ] &&
	! "$RERO_CACHE/tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
	echo "setup: building cargo-fuzz $CARGO_FUZZ_VERSION from crates.io"
	"$HOME/.cargo/bin/cargo" install -q cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked \
		--root "$RERO_CACHE/tools"
fi

if [ -n "$unpack_pid" ] && ! wait "$unpack_pid"; then
	echo "setup: cannot unpack $KSRC_TAR into $(rero_ksrc)" >&2
	exit 1
fi
