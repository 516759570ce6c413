# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Front door of the build, as firmware people expect it:
#   make                 EL2 firmware for QEMU virt (= make PLAT=qemu), plus its TF-A flash image
#   make PLAT=fvp        EL2 firmware as BL33 for Arm's FVP_Base_RevC-2xAEMvA (see docs/fvp.md)
#   make DEBUG=1         debug build (debug logging on by default)
#   make run             build everything, boot the patched Linux 6.12 as the host through TF-A on QEMU
#   make linux-6.12      the patched Linux 6.12 (host-driver/linux/patches) and its host bundle
#   make linux-series-check   checkpatch and build-after-each-patch for that series
#   make test            the whole suite: make lint, host unit tests, then QEMU integration tests
#   make lint            clippy with -D warnings on the host build and on each aarch64 build
#   make bench           EL2 path lengths in exact instruction counts (QEMU -icount shift=0), and
#                        four host calls side by side with pKVM's
#   make fuzz            the property tests (fuzz_*) at length: FUZZ_CASES cases each, on the host
#   make clean           remove build outputs (keeps the download/TF-A/Linux cache in target/cache)
# Cargo does the Rust work underneath; scripts/ fetch and build TF-A, Linux and the initramfs.

PLAT    ?= qemu
DEBUG   ?= 0
# Log level the firmware uses for the demo host (error|warn|info|debug|trace; empty = build default).
LOG     ?= info
QEMU_CPU ?= max
SMP     ?= 4
TIMEOUT ?= 300

TARGET  := aarch64-unknown-none-softfloat
ifeq ($(DEBUG),1)
PROFILE := debug
CARGO_PROFILE :=
else
PROFILE := release
CARGO_PROFILE := --release
endif

OUT     := target/out/$(PLAT)$(if $(filter 1,$(DEBUG)),-debug)
CACHE   := target/cache
EL2_ELF := target/$(TARGET)/$(PROFILE)/el2
OBJCOPY := aarch64-linux-gnu-objcopy

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all
.PHONY: all prereqs el2 flash fvp-images payloads bench linux-pkvm host-image linux-6.12 linux-series-check run test lint unit-test integration-test fuzz qemu-only clean FORCE

ifeq ($(filter $(PLAT),qemu fvp),)
$(error PLAT must be qemu or fvp)
endif

# Missing tools are installed (apt packages, the Rust toolchain with each of its targets and
# components, QEMU 10). The check runs on every make: it costs a few rustup queries, and a tool
# or target removed since the last run is put back instead of failing the build halfway.
PREREQ_STAMP := target/.prereqs-ok
# rustup installs into ~/.cargo/bin, which a fresh root shell may not have on PATH yet.
export PATH := $(HOME)/.cargo/bin:$(PATH)
TOOLS := cargo rustup qemu-system-aarch64 aarch64-linux-gnu-gcc $(OBJCOPY) fiptool dtc cpio ccache flex bison git
prereqs: $(PREREQ_STAMP)
$(PREREQ_STAMP): FORCE
	@for t in $(TOOLS); do command -v $$t >/dev/null || { bash scripts/prereqs.sh; break; }; done
	@bash scripts/rust-toolchain.sh --check >/dev/null || bash scripts/prereqs.sh
	@mkdir -p target && touch $@

# ---------------------------------------------------------------------------------------------
# The firmware

all: el2 $(if $(filter qemu,$(PLAT)),flash payloads,fvp-images)

el2: $(OUT)/el2.bin
$(OUT)/el2.bin: FORCE | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	cargo build $(CARGO_PROFILE) --target $(TARGET) -p el2 --no-default-features --features $(PLAT)
	cp $(EL2_ELF) $(OUT)/el2.elf
	$(OBJCOPY) -O binary $(OUT)/el2.elf $@.tmp && mv $@.tmp $@
	@echo "EL2 firmware for $(PLAT): $@ ($$(stat -c %s $@) bytes)"

# QEMU: TF-A's BL1 + a FIP holding BL2, BL31 and this firmware as BL33.
flash: $(OUT)/flash.bin
$(OUT)/flash.bin: $(OUT)/el2.bin
	bash scripts/flash.sh $< $@

# FVP: TF-A's BL1 and a FIP (BL2, BL31, HW_CONFIG device tree, this firmware as BL33), and the
# device tree on its own. See docs/fvp.md for the model's command line.
fvp-images: $(OUT)/fip.bin
$(OUT)/fip.bin: $(OUT)/el2.bin scripts/tfa-fvp.sh
	bash scripts/tfa-fvp.sh $< $(OUT)

# Bare-metal EL1 payloads the integration tests boot as the host.
PAYLOADS := abi-probe pmu-probe bench vm-probe power-probe stress-probe workload-probe
.SECONDARY: $(PAYLOADS:%=$(OUT)/%.bin) $(OUT)/guest.bin $(OUT)/workload.bin
# workload.bin, the guest that measures a loop on its own counters, is also what a Linux host's
# runner loads (tests/payloads/workload).
payloads: $(PAYLOADS:%=$(OUT)/%.bundle) $(OUT)/workload.bin
$(OUT)/%.bin: FORCE | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	cargo build --release --target $(TARGET) -p $*
	@# Replaced only when it changed, so that what is built from it is not remade for nothing.
	$(OBJCOPY) -O binary target/$(TARGET)/release/$* $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
$(OUT)/%.bundle: $(OUT)/%.bin
	cargo run -q -p mkbundle -- --kernel $< --kernel-mem-size 1048576 --el2-log info -o $@
# The VM probe, the stress probe and the bench carry the guest they run as their bundle's initrd.
$(OUT)/vm-probe.bundle $(OUT)/stress-probe.bundle $(OUT)/bench.bundle: $(OUT)/%.bundle: $(OUT)/%.bin $(OUT)/guest.bin
	cargo run -q -p mkbundle -- --kernel $< --kernel-mem-size 1048576 --initrd $(OUT)/guest.bin \
		--el2-log info -o $@
# The workload probe carries the workload guest.
$(OUT)/workload-probe.bundle: $(OUT)/workload-probe.bin $(OUT)/workload.bin
	cargo run -q -p mkbundle -- --kernel $< --kernel-mem-size 1048576 --initrd $(OUT)/workload.bin \
		--el2-log info -o $@

# ---------------------------------------------------------------------------------------------
# The Linux host: Debian's arm64 kernel, a busybox initramfs that reports what it sees.

LINUX_IMAGE := $(CACHE)/linux/Image
$(LINUX_IMAGE): | $(PREREQ_STAMP)
	bash scripts/linux.sh
$(CACHE)/busybox/busybox: | $(PREREQ_STAMP)
	bash scripts/linux.sh
# The host-side probe module (host-driver/linux, GPL-2.0), built against the headers of exactly
# that kernel; /init loads it first, and it reports what each CPU sees of the hypervisor.
$(OUT)/pmup_probe.ko: $(LINUX_IMAGE) host-driver/linux/pmup_probe.c host-driver/linux/Kbuild
	@mkdir -p $(OUT)
	$(MAKE) -C host-driver/linux
	cp host-driver/linux/pmup_probe.ko $@
# A static perf_event_open checker for the host's userspace (busybox has no perf).
$(OUT)/perf-check: tests/linux/perf-check.c | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o $@ $<
# The host's partition userspace (host-driver/pmup-run): pmup-run runs a guest on /dev/pmu-partition,
# pmup-hostile tries what the driver must refuse. Static aarch64 musl ELFs (.cargo/config.toml).
LINUX_USER_TARGET := aarch64-unknown-linux-musl
$(OUT)/pmup-run $(OUT)/pmup-hostile &: FORCE | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	cargo build --release --target $(LINUX_USER_TARGET) -p pmup-run
	@for b in pmup-run pmup-hostile; do \
		cmp -s target/$(LINUX_USER_TARGET)/release/$$b $(OUT)/$$b || cp target/$(LINUX_USER_TARGET)/release/$$b $(OUT)/; \
	done
$(OUT)/initramfs.cpio.gz: $(CACHE)/busybox/busybox scripts/initramfs.sh $(OUT)/pmup_probe.ko $(OUT)/perf-check
	bash scripts/initramfs.sh $@ $(OUT)/pmup_probe.ko $(OUT)/perf-check

HOST_CMDLINE := console=ttyAMA0 panic=-1
host-image: $(OUT)/host.bundle
$(OUT)/host.bundle: $(LINUX_IMAGE) $(OUT)/initramfs.cpio.gz FORCE
	cargo run -q -p mkbundle -- --kernel $(LINUX_IMAGE) --initrd $(OUT)/initramfs.cpio.gz \
		--cmdline "$(HOST_CMDLINE)" $(if $(LOG),--el2-log $(LOG)) -o $@

# ---------------------------------------------------------------------------------------------
# The patched Linux 6.12 host (issue 9): Debian's linux-source-6.12 with the series in
# host-driver/linux/patches, tinyconfig + host-driver/linux/qemu-virt.config (docs/linux.md).
# The script runs every time and decides by its key (version, series, fragment, compiler, script):
# an unchanged key touches nothing, so what depends on the Image is not remade. The heavy cache
# (source, ccache, O dirs) is in $PMUP_CACHE, default ~/.cache/pmu-partition.

LINUX612 := $(CACHE)/linux-6.12/Image
# The partition scenarios of tests/linux/vm, one bundle each (below).
VM_SCENARIOS := e2e hostile cycles hotplug cost
LINUX612_BUILD := $(CACHE)/linux-6.12/build
linux-6.12: $(OUT)/host-6.12.bundle $(OUT)/host-6.12-cost.bundle $(VM_SCENARIOS:%=$(OUT)/host-6.12-vm-%.bundle)
$(LINUX612): FORCE | $(PREREQ_STAMP)
	bash scripts/linux-6.12.sh
# The same probe module, built against the 6.12 O dir in a directory of its own, and with it the
# cost measurement (host-driver/linux/pmup_cost.c, which needs the series): /init loads that one
# only when the command line says `pmup.cost` (host-6.12-cost.bundle, make bench).
$(OUT)/pmup_probe-6.12.ko $(OUT)/pmup_cost-6.12.ko &: $(LINUX612) host-driver/linux/pmup_probe.c host-driver/linux/pmup_cost.c \
		host-driver/linux/Kbuild host-driver/linux/Makefile
	@mkdir -p $(OUT)
	$(MAKE) -C host-driver/linux KDIR=$(abspath $(LINUX612_BUILD)) OBJDIR=$(abspath $(OUT)/pmup_probe-6.12)
	cp $(OUT)/pmup_probe-6.12/pmup_probe.ko $(OUT)/pmup_probe-6.12.ko
	cp $(OUT)/pmup_probe-6.12/pmup_cost.ko $(OUT)/pmup_cost-6.12.ko
# Debian's own perf (linux-perf 6.12 from bookworm-backports) and the libraries it loads: the
# script runs every time and rewrites the file (the tree's path, keyed by the .debs) only when the
# tree changed. /init runs it after the knob section, as users would ("PERFTOOL: " lines).
$(OUT)/linux-perf.tree: FORCE | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	bash scripts/linux-perf.sh $@ >/dev/null
# With the partition userspace (pmup-run, pmup-hostile, the workload guest, tests/linux/vm): /init
# ends its knob section with the end-to-end run, and `pmup.vm=NAME` runs one scenario alone.
VM_FILES := $(OUT)/pmup-run $(OUT)/pmup-hostile $(OUT)/workload.bin
$(OUT)/initramfs-6.12.cpio.gz: $(CACHE)/busybox/busybox scripts/initramfs.sh $(OUT)/pmup_probe-6.12.ko $(OUT)/perf-check \
		$(OUT)/pmup_cost-6.12.ko $(OUT)/linux-perf.tree $(VM_FILES) $(wildcard tests/linux/vm/*.sh)
	PERF_TREE=$$(cat $(OUT)/linux-perf.tree) VM_FILES="$(VM_FILES)" bash scripts/initramfs.sh $@ \
		$(OUT)/pmup_probe-6.12.ko $(OUT)/perf-check $(OUT)/pmup_cost-6.12.ko
# print-fatal-signals=1 puts the PC and registers of a userspace death in the log (it showed
# Linux 6.12's userspace dying of SIGILL on its first FEAT_MOPS memcpy, before EL2 set
# HCRX_EL2.MSCEn for the host).
HOST612_CMDLINE := $(HOST_CMDLINE) print-fatal-signals=1
$(OUT)/host-6.12.bundle: $(LINUX612) $(OUT)/initramfs-6.12.cpio.gz FORCE
	cargo run -q -p mkbundle -- --kernel $(LINUX612) --initrd $(OUT)/initramfs-6.12.cpio.gz \
		--cmdline "$(HOST612_CMDLINE)" $(if $(LOG),--el2-log $(LOG)) -o $@
# The same kernel and initramfs with `pmup.cost`: /init runs the cost measurement and powers off.
$(OUT)/host-6.12-cost.bundle: $(LINUX612) $(OUT)/initramfs-6.12.cpio.gz FORCE
	cargo run -q -p mkbundle -- --kernel $(LINUX612) --initrd $(OUT)/initramfs-6.12.cpio.gz \
		--cmdline "$(HOST612_CMDLINE) pmup.cost" $(if $(LOG),--el2-log $(LOG)) -o $@
# One partition scenario per bundle (tests/linux/vm/NAME.sh, the linux_vm_* tests): the same
# kernel and initramfs with `pmup.vm=NAME`.
$(VM_SCENARIOS:%=$(OUT)/host-6.12-vm-%.bundle): $(OUT)/host-6.12-vm-%.bundle: $(LINUX612) $(OUT)/initramfs-6.12.cpio.gz FORCE
	cargo run -q -p mkbundle -- --kernel $(LINUX612) --initrd $(OUT)/initramfs-6.12.cpio.gz \
		--cmdline "$(HOST612_CMDLINE) pmup.vm=$*" $(if $(LOG),--el2-log $(LOG)) -o $@
# The integration test linux_pmu_series_check runs it too; its result is cached by key.
linux-series-check: | $(PREREQ_STAMP)
	bash scripts/linux-series-check.sh

# ---------------------------------------------------------------------------------------------
# pKVM side by side (issue 12, make bench). One kernel: Debian's linux-source-6.12 without the
# series and with KVM (scripts/linux-pkvm.sh: tinyconfig + qemu-virt.config + pkvm.config). Its
# O dir, which target/cache/linux-pkvm links to, and the pristine tree it builds from are in
# $PMUP_CACHE, keyed like the 6.12 host's; the script runs every time and touches nothing while
# the key holds. One initramfs, whose /init loads host-driver/linux/hyp_cost.c. The two booted
# under this firmware (the usual flash.bin, the host at EL1) and under pKVM: flash-pkvm.bin holds
# the same TF-A with tests/payloads/linux-loader as BL33, which enters the kernel at EL2 from the
# same bundle address, and `kvm-arm.mode=protected` makes KVM pKVM.

LINUX_PKVM := $(CACHE)/linux-pkvm/arch/arm64/boot/Image
linux-pkvm: $(OUT)/hypcost-pmup.bundle $(OUT)/hypcost-pkvm.bundle $(OUT)/flash-pkvm.bin
$(LINUX_PKVM): FORCE | $(PREREQ_STAMP)
	bash scripts/linux-pkvm.sh
$(OUT)/hyp_cost.ko: $(LINUX_PKVM) host-driver/linux/hyp_cost.c host-driver/linux/pmup_time.h \
		host-driver/linux/Kbuild host-driver/linux/Makefile
	@mkdir -p $(OUT)
	$(MAKE) -C host-driver/linux KDIR=$(abspath $(CACHE)/linux-pkvm) OBJDIR=$(abspath $(OUT)/hyp_cost-pkvm)
	cp $(OUT)/hyp_cost-pkvm/hyp_cost.ko $@
# The guest exit's cost under pKVM (tests/payloads/kvm-exit-cost), a static aarch64 musl ELF.
$(OUT)/kvm-exit-cost: FORCE | $(PREREQ_STAMP)
	@mkdir -p $(OUT)
	cargo build --release --target $(LINUX_USER_TARGET) -p kvm-exit-cost
	@cmp -s target/$(LINUX_USER_TARGET)/release/kvm-exit-cost $@ || cp target/$(LINUX_USER_TARGET)/release/kvm-exit-cost $@
$(OUT)/initramfs-pkvm.cpio.gz: $(CACHE)/busybox/busybox scripts/initramfs.sh $(OUT)/hyp_cost.ko $(OUT)/kvm-exit-cost
	HYP_COST=$(OUT)/hyp_cost.ko KVM_EXIT_COST=$(OUT)/kvm-exit-cost bash scripts/initramfs.sh $@
# The two bundles differ only in `hypcost=`, which names the hypervisor for the module: both ask
# for pKVM (under this firmware the kernel starts at EL1, and KVM says it has no EL2).
$(OUT)/hypcost-pmup.bundle $(OUT)/hypcost-pkvm.bundle: $(OUT)/hypcost-%.bundle: $(LINUX_PKVM) $(OUT)/initramfs-pkvm.cpio.gz FORCE
	cargo run -q -p mkbundle -- --kernel $(LINUX_PKVM) --initrd $(OUT)/initramfs-pkvm.cpio.gz \
		--cmdline "$(HOST_CMDLINE) kvm-arm.mode=protected hypcost=$*" $(if $(LOG),--el2-log $(LOG)) -o $@
.SECONDARY: $(OUT)/linux-loader.bin
$(OUT)/flash-pkvm.bin: $(OUT)/linux-loader.bin
	bash scripts/flash.sh $< $@

# ---------------------------------------------------------------------------------------------
# Run the demo: TF-A -> EL2 firmware -> Linux at EL1, 4 CPUs, powers off by itself.

QEMU_MACHINE := virt,secure=on,virtualization=on,gic-version=3
# SME stays off: TF-A 2.8 does not enable it for the normal world. pauth-impdef only makes
# QEMU's pointer authentication fast; the architecture the host sees is the same.
# cntfrq: TF-A programs CNTFRQ_EL0 = 62.5 MHz (PLAT_SYSCNT_FREQ), while QEMU 10's virt machine
# runs the counter at 1 GHz by default; without this the host's clock runs 16 times too fast.
comma := ,
QEMU_CPU_OPTS := $(QEMU_CPU)$(if $(filter max,$(QEMU_CPU)),$(comma)sme=off$(comma)pauth-impdef=on)$(comma)cntfrq=62500000

run: qemu-only
# scripts/qemu-run.sh turns the run into an exit code: QEMU exits 0 on any power-off, so a refused
# boot (the firmware's `EL2 FATAL:` reason, printed last), an EL2 panic, a hang, or a host that
# powers off before /init finished are each a non-zero exit of `make run`.
# RUN_QEMU_ARGS adds QEMU options, e.g. RUN_QEMU_ARGS="-dtb my.dtb".
RUN_QEMU_ARGS ?=
# The host is the patched Linux 6.12 (host-driver/linux/patches): its /init shows the counter
# handshake live from userspace (reserved_counters, perf multiplexing on the smaller set, the full
# set back; "HOST: knob" and "PERF:" lines). RUN_HOST=host.bundle runs Debian's stock kernel.
RUN_HOST ?= host-6.12.bundle
RUN_EXPECT := $(if $(filter host-6.12.bundle,$(RUN_HOST)),--expect "HOST: knob done" --expect "VM: e2e done")
run: $(OUT)/flash.bin $(OUT)/$(RUN_HOST)
	bash scripts/qemu-run.sh --expect "PMUP: probe cpus=$(SMP) ok=$(SMP)" --expect "HOST: done" $(RUN_EXPECT) \
		$(TIMEOUT) -- -machine $(QEMU_MACHINE) \
		-cpu $(QEMU_CPU_OPTS) -smp $(SMP) -m 1024 -nographic -nic none -no-reboot \
		-bios $(OUT)/flash.bin \
		-device loader,file=$(OUT)/$(RUN_HOST),addr=0x48000000,force-raw=on $(RUN_QEMU_ARGS)

# ---------------------------------------------------------------------------------------------
# Path lengths, in instructions: QEMU with -icount shift=0 makes the cycle counter an exact
# instruction counter. On cortex-a57 (PMUv3, no HPMD) the counter sees EL1 and EL2, so the numbers
# are the whole host -> EL2 -> host path; on max, EL2 is hidden from the host's counters (HPMD, HCCD),
# and the numbers are what the host itself pays. EL3 is never counted.
# Then the patched Linux 6.12 on one CPU with `pmup.cost` (host-driver/linux/pmup_cost.c): what
# armpmu_reserve_counters(2) + armpmu_release_counters() cost with 0, 3 and 7 perf events on the
# CPU, and the bare HVCs, in instructions (EL1 + EL2) from the generic timer under -icount.
# Last, this firmware and pKVM side by side (above): the kernel of scripts/linux-pkvm.sh under each,
# hyp_cost.ko timing four host calls the same way (instructions from the generic timer, EL1 + EL2
# + EL3), on cortex-a57, and under pKVM tests/payloads/kvm-exit-cost timing a KVM guest's exit at
# EL2 (against the bare-metal bench's VCPU_RUN round trip); scripts/hyp-cost-table.sh checks the
# runs and prints the tables (target/bench-pmup.txt, target/bench-pkvm.txt and
# target/bench-bare.txt keep each run's lines).
BENCH_CPUS := cortex-a57 max,sme=off,pauth-impdef=on
# $(call bench_run,CPU,FLASH,BUNDLE,SECONDS,LINES): BUNDLE booted by FLASH on one CPU under
# -icount, the lines matching LINES.
bench_run = timeout $(4) qemu-system-aarch64 -machine $(QEMU_MACHINE) -cpu $(1),cntfrq=62500000 \
		-icount shift=0 -smp 1 -m 1024 -nographic -nic none -no-reboot \
		-bios $(OUT)/$(2) -device loader,file=$(OUT)/$(3),addr=0x48000000,force-raw=on \
		| grep --line-buffered -E '$(5)'
# $(call bench_runs,TITLE,BUNDLE,SECONDS,LINES): BUNDLE under this firmware on each CPU model.
bench_runs = for cpu in $(BENCH_CPUS); do \
		echo "== $(1)-cpu $$cpu"; \
		$(call bench_run,$$cpu,flash.bin,$(2),$(3),$(4)); \
	done
HYP_COST_LINES := ^(HYPCOST|LOADER):
bench: qemu-only $(OUT)/flash.bin $(OUT)/bench.bundle $(OUT)/host-6.12-cost.bundle $(OUT)/host-6.12-vm-cost.bundle \
		$(OUT)/flash-pkvm.bin $(OUT)/hypcost-pmup.bundle $(OUT)/hypcost-pkvm.bundle
	@{ { $(call bench_runs,,bench.bundle,120,^BENCH:); } | tee target/bench-bare.txt; \
	$(call bench_runs,Linux 6.12 pmup_cost$(comma) ,host-6.12-cost.bundle,300,^COST:); \
	$(call bench_runs,Linux 6.12 /dev/pmu-partition round trip (tests/linux/vm/cost.sh)$(comma) ,host-6.12-vm-cost.bundle,300,^(VM: cost|PMUP-RUN: (bench|error))); \
	{ $(call bench_run,cortex-a57,flash.bin,hypcost-pmup.bundle,300,$(HYP_COST_LINES)) \
		|| echo "HYPCOST: error the run ended with status $$?"; } >target/bench-pmup.txt; \
	{ $(call bench_run,cortex-a57,flash-pkvm.bin,hypcost-pkvm.bundle,300,$(HYP_COST_LINES)) \
		|| echo "HYPCOST: error the run ended with status $$?"; } >target/bench-pkvm.txt; \
	bash scripts/hyp-cost-table.sh target/bench-pmup.txt target/bench-pkvm.txt target/bench-bare.txt; \
	} | tee target/bench.txt

# ---------------------------------------------------------------------------------------------
# Tests

# The whole suite, with one closing line that counts every test of every cargo run. Lint first,
# on its own: a warning fails the suite before any test runs, even under -j.
test: | $(PREREQ_STAMP)
	@mkdir -p target
	{ $(MAKE) --no-print-directory lint && $(MAKE) --no-print-directory unit-test integration-test; } 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "%d passed, %d failed\n", p, f; exit f != 0 }' target/test.log

# Clippy, every warning an error, on what ships and what tests it, each as it is built: the host
# build of the workspace (unit and integration tests included), the firmware for each PLAT
# (el2/src/arch exists only for the aarch64 target), the bare-metal payloads, the Linux userspace.
CLIPPY_DENY := -- -D warnings
lint: | $(PREREQ_STAMP)
	cargo clippy --workspace --all-targets $(CLIPPY_DENY)
	cargo clippy $(CARGO_PROFILE) --target $(TARGET) -p el2 -p el2-devicetree -p el2-page-tables --no-default-features --features qemu $(CLIPPY_DENY)
	cargo clippy $(CARGO_PROFILE) --target $(TARGET) -p el2 --no-default-features --features fvp $(CLIPPY_DENY)
	cargo clippy --release --target $(TARGET) $(addprefix -p ,$(PAYLOADS) guest workload linux-loader) $(CLIPPY_DENY)
	cargo clippy --release --target $(LINUX_USER_TARGET) -p pmup-run -p kvm-exit-cost --all-targets $(CLIPPY_DENY)

unit-test: | $(PREREQ_STAMP)
	cargo test --workspace --exclude abi-probe --exclude integration

integration-test: qemu-only
integration-test: all $(OUT)/host.bundle $(OUT)/host-6.12.bundle $(OUT)/host-6.12-cost.bundle \
		$(VM_SCENARIOS:%=$(OUT)/host-6.12-vm-%.bundle)
	$(MAKE) --no-print-directory PLAT=fvp DEBUG=$(DEBUG) all
	PMUP_OUT=$(abspath $(OUT)) PMUP_FVP_OUT=$(abspath target/out/fvp$(if $(filter 1,$(DEBUG)),-debug)) \
		cargo test -p integration -- --test-threads=2

# The fuzz properties (every test named fuzz_*) run a few thousand cases inside `cargo test`; here
# each runs FUZZ_CASES (PROPTEST_CASES for proptest) and prints what it executed (calls or steps
# applied), and the last line adds them up. A failing property prints its smallest failing input
# and keeps the seed in a *.proptest-regressions file beside the test, replayed first next time.
FUZZ_CASES ?= 100000
fuzz: | $(PREREQ_STAMP)
	@mkdir -p target
	@start=$$(date +%s); \
	PROPTEST_CASES=$(FUZZ_CASES) cargo test -p el2 -p smc-interface --tests -- fuzz_ --nocapture 2>&1 | tee target/fuzz.log; \
	awk -v s=$$(( $$(date +%s) - start )) '/^FUZZ / { n += $$5; p++ } \
		END { printf "fuzz: %d properties, %d executions in %d s\n", p, n, s }' target/fuzz.log

qemu-only:
	@[ "$(PLAT)" = qemu ] || { echo "make $(MAKECMDGOALS) runs on QEMU: use PLAT=qemu (see docs/fvp.md for the FVP)"; exit 1; }

# Build outputs only: downloads and the TF-A/Linux builds in target/cache stay.
clean:
	rm -rf target/out target/$(TARGET) target/$(LINUX_USER_TARGET) target/debug target/release target/.prereqs-ok

FORCE:
