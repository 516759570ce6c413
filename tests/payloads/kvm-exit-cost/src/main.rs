// SPDX-License-Identifier: MIT OR Apache-2.0

//! `make bench`'s pKVM side of the world switch (docs/performance.md, "Side by side with pKVM"):
//! a KVM guest whose every exit the host kernel handles, timed at EL2, in two forms.
//!
//! - `vcpu-exit`: the guest makes `count` SMCCC_VERSION HVCs, which KVM answers in the host kernel
//!   and resumes the guest (under pKVM each is a world switch out to the host and back in through
//!   the hypervisor);
//! - `pmu-read`: the guest, whose vCPU has KVM's PMU, reads PMEVCNTR0_EL0 `count` times: each
//!   read traps and the host kernel emulates it.
//!
//! Then it writes to an address no memory slot covers, which ends the `KVM_RUN` with an MMIO exit
//! to this program. Two runs, of 100 and 200 calls, differ by 100
//! exits and nothing else, so their difference over 100 is one exit's cost without the set-up:
//!
//! - `el2`: instructions at EL2, from a perf counter of this thread's instructions that excludes
//!   EL0 and EL1 (`exclude_user`, `exclude_kernel`; `exclude_hv` clear, so arm_pmu sets the
//!   filter's NSH). Only a CPU without MDCR_EL2.HPMD lets the host count EL2: `cortex-a57`.
//! - `total`: every instruction, the guest's, the host kernel's and EL2's, from the monotonic
//!   clock, which under QEMU's `-icount shift=0` advances one nanosecond per instruction.
//!
//! It prints a `HYPCOST: path=NAME ...` line for each, or `HYPCOST: error ...` and exits non-zero.
//! No KVM (this firmware keeps EL2 for itself, so the kernel has none) is the one line
//! `HYPCOST: path=vcpu-exit none: ...`.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::Instant;

/// The guests, at `GUEST_IPA`: x19 = the number of exits, x20 = an address outside its memory.
/// An HVC the host kernel answers:
const HVC_GUEST: &[u32] = &[
    0x52b0_0000, // mov  w0, #0x80000000     SMCCC_VERSION
    0xd400_0002, // hvc  #0
    0xf100_0673, // subs x19, x19, #1
    0x54ff_ffa1, // b.ne (the mov)
    0xf900_0280, // str  x0, [x20]           an MMIO exit to userspace
    0x1400_0000, // b    .
];
/// A PMU counter read, which traps (MDCR_EL2.TPM) and the host kernel emulates (the vCPU has
/// KVM's PMU):
const PMU_READ_GUEST: &[u32] = &[
    0xd53b_e800, // mrs  x0, pmevcntr0_el0
    0xf100_0673, // subs x19, x19, #1
    0x54ff_ffc1, // b.ne (the mrs)
    0xf900_0280, // str  x0, [x20]           an MMIO exit to userspace
    0x1400_0000, // b    .
];
const GUEST_IPA: u64 = 0x8000_0000;
const GUEST_SIZE: usize = 0x1_0000;
/// Inside the IPA space, outside the one memory slot.
const MMIO_IPA: u64 = 0x9000_0000;

// The KVM ioctls used (include/uapi/linux/kvm.h), as their numbers: `_IO(0xae, nr)`, and
// `_IOW`/`_IOR` with the argument's size.
const fn io(nr: u32) -> u32 {
    (0xae << 8) | nr
}
const fn iow(nr: u32, size: u32) -> u32 {
    (1 << 30) | (size << 16) | io(nr)
}
const fn ior(nr: u32, size: u32) -> u32 {
    (2 << 30) | (size << 16) | io(nr)
}
const KVM_CREATE_VM: u32 = io(0x01);
const KVM_GET_VCPU_MMAP_SIZE: u32 = io(0x04);
const KVM_CREATE_VCPU: u32 = io(0x41);
const KVM_SET_USER_MEMORY_REGION: u32 = iow(0x46, 32);
const KVM_RUN: u32 = io(0x80);
const KVM_SET_ONE_REG: u32 = iow(0xac, 16);
const KVM_ARM_VCPU_INIT: u32 = iow(0xae, 32);
const KVM_ARM_PREFERRED_TARGET: u32 = ior(0xaf, 32);
const KVM_SET_DEVICE_ATTR: u32 = iow(0xe1, 24);
/// `kvm_vcpu_init.features[0]` bit: the vCPU has KVM's PMU.
const KVM_ARM_VCPU_PMU_V3: u32 = 1 << 3;
/// The vCPU attribute group and attribute that set its PMU up.
const KVM_ARM_VCPU_PMU_V3_CTRL: u32 = 0;
const KVM_ARM_VCPU_PMU_V3_INIT: u64 = 1;
const KVM_EXIT_MMIO: u32 = 6;

#[repr(C)]
struct UserspaceMemoryRegion {
    slot: u32,
    flags: u32,
    guest_phys_addr: u64,
    memory_size: u64,
    userspace_addr: u64,
}

#[repr(C)]
#[derive(Default)]
struct VcpuInit {
    target: u32,
    features: [u32; 7],
}

#[repr(C)]
struct DeviceAttr {
    flags: u32,
    group: u32,
    attr: u64,
    addr: u64,
}

#[repr(C)]
struct OneReg {
    id: u64,
    addr: u64,
}

/// A core register's id for KVM_SET_ONE_REG: KVM_REG_ARM64 | KVM_REG_SIZE_U64 |
/// KVM_REG_ARM_CORE | its offset in `struct kvm_regs` in 32-bit words (x0..x30, sp, pc, pstate).
const fn core_reg(index: u64) -> u64 {
    0x6000_0000_0000_0000 | 0x0030_0000_0000_0000 | 0x0010_0000 | (index * 2)
}
const REG_X19: u64 = core_reg(19);
const REG_X20: u64 = core_reg(20);
const REG_PC: u64 = core_reg(32);

fn check(r: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::other(format!("{what}: {}", io::Error::last_os_error()))) } else { Ok(r) }
}

fn ioctl<T>(fd: &impl AsRawFd, request: u32, arg: *mut T, what: &str) -> io::Result<libc::c_int> {
    // SAFETY: each caller passes the argument its request takes (a structure of the size the
    // request encodes, or an integer).
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) }, what)
}

fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: a new descriptor the kernel just returned, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A perf counter of this thread's instructions at EL2 only (fields of `struct perf_event_attr`
/// up to PERF_ATTR_SIZE_VER0).
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

fn el2_instructions() -> io::Result<OwnedFd> {
    const PERF_TYPE_HARDWARE: u32 = 0;
    const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
    const DISABLED: u64 = 1 << 0;
    const EXCLUDE_USER: u64 = 1 << 4;
    const EXCLUDE_KERNEL: u64 = 1 << 5;
    let mut attr = PerfEventAttr {
        kind: PERF_TYPE_HARDWARE,
        size: size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_HW_INSTRUCTIONS,
        sample_period: 0,
        sample_type: 0,
        read_format: 0,
        flags: DISABLED | EXCLUDE_USER | EXCLUDE_KERNEL,
        wakeup_events: 0,
        bp_type: 0,
        config1: 0,
    };
    // SAFETY: perf_event_open(attr, this thread, any CPU, no group, no flags) with `attr` valid
    // for its stated size.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &raw mut attr, 0, -1, -1, 0) };
    check(fd as libc::c_int, "perf_event_open (instructions at EL2)").map(owned)
}

fn read_counter(fd: &OwnedFd) -> io::Result<u64> {
    let mut value = 0u64;
    // SAFETY: reading the 8-byte count into `value`.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut value).cast(), 8) };
    if n == 8 { Ok(value) } else { Err(io::Error::other(format!("read of the perf counter: {}", io::Error::last_os_error()))) }
}

struct Guest {
    vcpu: OwnedFd,
    run: *const libc::c_void,
    _vm: OwnedFd,
    _memory: *mut libc::c_void,
}

impl Guest {
    /// A VM with one vCPU running `code`, with KVM's PMU if `pmu`.
    fn new(kvm: &File, code: &[u32], pmu: bool) -> io::Result<Self> {
        let vm = owned(ioctl(kvm, KVM_CREATE_VM, core::ptr::null_mut::<u8>(), "KVM_CREATE_VM")?);
        // SAFETY: a fresh anonymous private mapping, kept for the VM's lifetime (never unmapped:
        // the program exits).
        let memory = unsafe {
            libc::mmap(core::ptr::null_mut(), GUEST_SIZE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if memory == libc::MAP_FAILED {
            return Err(io::Error::other(format!("mmap of guest memory: {}", io::Error::last_os_error())));
        }
        // SAFETY: `code` (a few instructions) fits in the mapping, which nothing else uses yet.
        unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), memory.cast(), code.len()) };
        let mut region = UserspaceMemoryRegion {
            slot: 0,
            flags: 0,
            guest_phys_addr: GUEST_IPA,
            memory_size: GUEST_SIZE as u64,
            userspace_addr: memory as u64,
        };
        ioctl(&vm, KVM_SET_USER_MEMORY_REGION, &raw mut region, "KVM_SET_USER_MEMORY_REGION")?;
        let vcpu = owned(ioctl(&vm, KVM_CREATE_VCPU, core::ptr::null_mut::<u8>(), "KVM_CREATE_VCPU")?);
        let mut init = VcpuInit::default();
        ioctl(&vm, KVM_ARM_PREFERRED_TARGET, &raw mut init, "KVM_ARM_PREFERRED_TARGET")?;
        if pmu {
            init.features[0] |= KVM_ARM_VCPU_PMU_V3;
        }
        ioctl(&vcpu, KVM_ARM_VCPU_INIT, &raw mut init, "KVM_ARM_VCPU_INIT")?;
        if pmu {
            let mut attr = DeviceAttr { flags: 0, group: KVM_ARM_VCPU_PMU_V3_CTRL, attr: KVM_ARM_VCPU_PMU_V3_INIT, addr: 0 };
            ioctl(&vcpu, KVM_SET_DEVICE_ATTR, &raw mut attr, "KVM_SET_DEVICE_ATTR (PMU init)")?;
        }
        let size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, core::ptr::null_mut::<u8>(), "KVM_GET_VCPU_MMAP_SIZE")?;
        // SAFETY: the vCPU's shared `struct kvm_run`, read-only here, for the vCPU's lifetime.
        let run = unsafe { libc::mmap(core::ptr::null_mut(), size as usize, libc::PROT_READ, libc::MAP_SHARED, vcpu.as_raw_fd(), 0) };
        if run == libc::MAP_FAILED {
            return Err(io::Error::other(format!("mmap of kvm_run: {}", io::Error::last_os_error())));
        }
        Ok(Self { vcpu, run, _vm: vm, _memory: memory })
    }

    fn set(&self, id: u64, value: u64) -> io::Result<()> {
        let mut value = value;
        let mut reg = OneReg { id, addr: (&raw mut value) as u64 };
        ioctl(&self.vcpu, KVM_SET_ONE_REG, &raw mut reg, "KVM_SET_ONE_REG").map(drop)
    }

    /// One KVM_RUN of `calls` calls from the guest's first instruction: (EL2 instructions,
    /// nanoseconds).
    fn measure(&self, counter: &OwnedFd, calls: u64) -> io::Result<(u64, u64)> {
        const PERF_EVENT_IOC_ENABLE: u32 = 0x2400;
        const PERF_EVENT_IOC_DISABLE: u32 = 0x2401;
        const PERF_EVENT_IOC_RESET: u32 = 0x2403;
        self.set(REG_PC, GUEST_IPA)?;
        self.set(REG_X19, calls)?;
        self.set(REG_X20, MMIO_IPA)?;
        ioctl(counter, PERF_EVENT_IOC_RESET, core::ptr::null_mut::<u8>(), "PERF_EVENT_IOC_RESET")?;
        let start = Instant::now();
        ioctl(counter, PERF_EVENT_IOC_ENABLE, core::ptr::null_mut::<u8>(), "PERF_EVENT_IOC_ENABLE")?;
        ioctl(&self.vcpu, KVM_RUN, core::ptr::null_mut::<u8>(), "KVM_RUN")?;
        ioctl(counter, PERF_EVENT_IOC_DISABLE, core::ptr::null_mut::<u8>(), "PERF_EVENT_IOC_DISABLE")?;
        let ns = start.elapsed().as_nanos() as u64;
        // SAFETY: `exit_reason`, the u32 at offset 8 of the vCPU's `struct kvm_run`.
        let reason = unsafe { self.run.cast::<u8>().add(8).cast::<u32>().read_volatile() };
        if reason != KVM_EXIT_MMIO {
            return Err(io::Error::other(format!("KVM_RUN ended with exit reason {reason}, not MMIO")));
        }
        Ok((read_counter(counter)?, ns))
    }
}

fn main() -> ExitCode {
    let kvm = match File::options().read(true).write(true).open("/dev/kvm") {
        Ok(kvm) => kvm,
        Err(e) => {
            println!("HYPCOST: path=vcpu-exit none: /dev/kvm: {e}");
            return ExitCode::SUCCESS;
        }
    };
    let mut status = ExitCode::SUCCESS;
    for (path, code, pmu) in [("vcpu-exit conduit=hvc", HVC_GUEST, false), ("pmu-read conduit=trap", PMU_READ_GUEST, true)] {
        match measure(&kvm, code, pmu) {
            Ok(figures) => println!("HYPCOST: path={path} {figures}"),
            Err(e) => {
                println!("HYPCOST: error path={path} {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

/// Pairs of runs measured, of `SHORT` and `LONG` exits. Under `-icount` an exit's instructions are
/// the same every time; what differs is the host's timer tick, handled through EL2 as well, which
/// lands in some runs (adding to the difference when it lands in the long one, taking from it in
/// the short one). Short runs (a fraction of a tick period each) leave most pairs without one: the
/// figure printed is the difference most pairs agree on, with how many did.
const SAMPLES: usize = 31;
const SHORT: u64 = 100;
const LONG: u64 = 200;

fn measure(kvm: &File, code: &[u32], pmu: bool) -> io::Result<String> {
    let guest = Guest::new(kvm, code, pmu)?;
    let counter = el2_instructions()?;
    // A first run warms up what the first exit of a vCPU does once.
    guest.measure(&counter, SHORT)?;
    let mut el2 = Vec::with_capacity(SAMPLES);
    let mut total = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let (el2_short, ns_short) = guest.measure(&counter, SHORT)?;
        let (el2_long, ns_long) = guest.measure(&counter, LONG)?;
        el2.push(el2_long.wrapping_sub(el2_short));
        total.push(ns_long.wrapping_sub(ns_short));
    }
    let (el2_diff, agree) = mode(&mut el2);
    // The clock moves in steps of 16 ns (62.5 MHz): its differences spread over a few steps, and
    // the median stands for them.
    total.sort_unstable();
    let exits = (LONG - SHORT) as f64;
    Ok(format!(
        "exits={} samples={SAMPLES} agree={agree} el2={:.1} total={:.1}",
        LONG - SHORT,
        el2_diff as f64 / exits,
        total[SAMPLES / 2] as f64 / exits
    ))
}

/// The most common value of `v`, and how many times it occurs.
fn mode(v: &mut [u64]) -> (u64, usize) {
    v.sort_unstable();
    let mut best = (v[0], 0);
    for run in v.chunk_by(|a, b| a == b) {
        if run.len() > best.1 {
            best = (run[0], run.len());
        }
    }
    best
}
