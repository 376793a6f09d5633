# rerofs top-level Makefile. `make` builds rerofs.ko against the cached test kernel.
# Other targets: setup, kernel, module, test-format, check, demo, fuzz, fuzz-smoke, fuzz-guest, faults-long, clean.
SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ENV := . $(TOP)/scripts/env.sh

.PHONY: all module setup kernel test-format tools install bench bench-smoke selftest fuzz-guest faults-long check demo clean fmt fuzz fuzz-smoke

all: module

setup:
	@bash scripts/setup-host.sh

kernel: setup
	@bash scripts/build-kernel.sh >/dev/null

# KDIR may be given; otherwise the cached test kernel is used (built if missing).
module: kernel
	@$(ENV); kdir=$${KDIR:-$$(rero_kdir)}; \
	$(MAKE) -s -C "$$kdir" M=$(TOP) "$${KMAKE_ARGS[@]}" modules 2>&1 | tee $(TOP)/.module-build.log; \
	test $${PIPESTATUS[0]} = 0 || exit 1; \
	if grep -qiE 'warning' $(TOP)/.module-build.log; then echo "module: build has warnings" >&2; exit 1; fi; \
	echo "module: $(TOP)/rerofs.ko"

test-format:
	@cd rust/format && cargo test -q 2>&1 | tail -n 20

# Userspace CLI (rerofs mkfs/fsck/inspect); installed also as mkfs.rerofs and
# fsck.rerofs so that `mkfs -t rerofs` and `fsck -t rerofs` work.
tools:
	@cd tools && cargo build -q --release

install: tools
	install -D -m755 tools/target/release/rerofs $(DESTDIR)/usr/local/bin/rerofs
	ln -sf rerofs $(DESTDIR)/usr/local/bin/mkfs.rerofs
	ln -sf rerofs $(DESTDIR)/usr/local/bin/fsck.rerofs

# Benchmarks (not timed tests): rerofs mkfs vs mkfs.erofs on the kernel source
# tree, and reads in the guest: rerofs verity off/on vs C EROFS on a
# loop device, file-backed, on dm-verity and file-backed on an fs-verity file;
# and lazy pulling's cold start against a full pull (bench/lazy.sh).
bench: tools module
	@bash bench/mkfs.sh
	@bash bench/read.sh
	@bash bench/lazy.sh

bench-smoke: tools module
	@bash bench/mkfs.sh --smoke
	@bash bench/read.sh --smoke

selftest: module
	@bash selftests/run.sh

# The guest mutation campaign, long: N mutated images (default 2000) of the
# seed images of selftests/mkmutate.py, mounted and walked in the KASAN guest.
N ?= 2000
fuzz-guest: module
	@bash selftests/fuzz-guest.sh $(N)

# The selftests' faults group, long (selftests/guest/faults.sh): every fault point
# of each operation, 60 s of load; on freshly made images, in one guest.
faults-long: module
	@bash selftests/run.sh --images-only && selftests/vm-run --idle-timeout 1200 -- \
		env RERO_SELFTEST_IMAGES=faults RERO_FAULTS_LONG=1 selftests/guest/main.sh

check:
	@bash scripts/check.sh

# Coverage-guided fuzzing of the format crate (cargo fuzz, rust/format/fuzz): each
# target runs FUZZ_SECONDS (default 300); fuzz-smoke is the short run of `make check`.
fuzz: setup
	@bash scripts/fuzz.sh

fuzz-smoke: setup
	@bash scripts/fuzz.sh --smoke

demo: module tools
	@bash scripts/demo.sh

fmt:
	@$(ENV); rustfmt --edition 2021 $$(ls rust/*.rs rust/vfs/*.rs | grep -v _generated); cd rust/format && cargo fmt; cd ../../tools && cargo fmt

clean:
	@$(ENV); kdir=$$(rero_kdir); [ -d "$$kdir" ] && $(MAKE) -s -C "$$kdir" M=$(TOP) "$${KMAKE_ARGS[@]}" clean || true
	rm -rf build .module-build.log
