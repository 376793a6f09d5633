# rerofs top-level Makefile. `make` builds rerofs.ko against the cached test kernel.
# Other targets: setup, kernel, module, test-format, check, demo, bench, bench-kernel, bench-module, fuzz, fuzz-smoke, fuzz-guest, faults-long, clean.
SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ENV := . $(TOP)/scripts/env.sh

.PHONY: all module setup kernel test-format tools install bench bench-kernel bench-module bench-smoke selftest fuzz-guest faults-long check demo clean fmt fuzz fuzz-smoke

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
tools: setup
	@cd tools && cargo build -q --release

install: tools
	install -D -m755 tools/target/release/rerofs $(DESTDIR)/usr/local/bin/rerofs
	ln -sf rerofs $(DESTDIR)/usr/local/bin/mkfs.rerofs
	ln -sf rerofs $(DESTDIR)/usr/local/bin/fsck.rerofs

# The bench kernel (kernel/bench.config over the test kernel's fragment: no
# KASAN, lockdep, kmemleak, fault injection; cached as the test kernel is) and
# the module built for it, from a copy of the sources in build/bench-module (an
# out-of-tree module builds in its source directory, which holds the test
# kernel's build).
bench-kernel: setup
	@bash scripts/build-kernel.sh --bench >/dev/null

bench-module: bench-kernel
	@$(ENV); kdir=$$(rero_kdir bench); out=$(TOP)/build/bench-module; \
	rm -rf "$$out" && mkdir -p "$$out/rust/format" && cp Kbuild "$$out/" && \
	cp -r rust/vfs rust/*.rs rust/*.c rust/*.h "$$out/rust/" && rm -f "$$out/rust/rerofs_helpers_generated.rs" && \
	cp -r rust/format/src "$$out/rust/format/" && \
	$(MAKE) -s -C "$$kdir" M="$$out" "$${KMAKE_ARGS[@]}" modules 2>&1 | tee "$$out/build.log"; \
	test $${PIPESTATUS[0]} = 0 || exit 1; \
	if grep -qiE 'warning' "$$out/build.log"; then echo "bench-module: build has warnings" >&2; exit 1; fi; \
	echo "bench-module: $$out/rerofs.ko"

# Benchmarks (not timed tests): rerofs mkfs vs mkfs.erofs on the kernel source
# tree, and reads in the guest: rerofs verity off/on vs C EROFS on a
# loop device, file-backed, on dm-verity and file-backed on an fs-verity file;
# and lazy pulling's cold start against a full pull (bench/lazy.sh). The guests
# boot the bench kernel (RERO_BENCH_KERNEL=bench; the smoke runs, which only
# check that every part works, boot the test kernel).
bench: tools bench-module
	@bash bench/mkfs.sh
	@RERO_BENCH_KERNEL=bench bash bench/read.sh
	@RERO_BENCH_KERNEL=bench bash bench/lazy.sh

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
