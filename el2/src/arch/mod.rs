// SPDX-License-Identifier: MIT OR Apache-2.0

//! The aarch64 side: entry points, vectors, and the glue between them and the portable logic.

mod boot;
mod cache;
mod console;
mod cpu_setup;
mod enforcement;
mod heap;
mod pmu_regs;
mod redist_mmio;
mod reserved;
mod sysregs;
mod world;

use crate::esr::Esr;
use crate::host_calls::{self, Conduit, PmuCall, Services};
use crate::host_trap;
use crate::monitor::{El3, SmcRegs};
use crate::percpu::{CpuTable, PerCpu};
use crate::pmu::PmuConfig;
use crate::psci_relay::{PsciRelay, WarmEntries};
use crate::trap_frame::TrapFrame;
use crate::vm::{VmCalls, VmStore};
use arm_sysregs::el2::accessors::{read_esr_el2, read_far_el2, read_hpfar_el2, read_tpidr_el2};
use smc_interface::{HostCall, SmcccError};

core::arch::global_asm!(
    include_str!("asm_macros.S"),
    include_str!("entry.S"),
    include_str!("vectors.S"),
    include_str!("guest.S"),
    include_str!("probe.S"),
    include_str!("pmu_event_regs.S"),
);

unsafe extern "C" {
    /// Warm entry points EL3 is given for CPU_ON and for power-down suspends (entry.S).
    fn cpu_on_entry();
    fn cpu_resume_entry();
    /// `enter_host(entry, arg0, stack_top, spsr)` (vectors.S): never returns.
    fn enter_host(entry: u64, arg0: u64, stack_top: u64, spsr: u64) -> !;
    fn el2_enable_mmu(mair: u64, tcr: u64, ttbr0: u64, sctlr: u64);
}

/// Every CPU's EL2 state.
pub static CPUS: CpuTable = CpuTable::new();

/// The VMs, and the memory they own.
static VMS: VmStore = VmStore::new();

/// The CPU running this code. Valid once the CPU has been through `enter_host_on_this_cpu`'s
/// set-up (TPIDR_EL2 holds its `PerCpu`).
fn this_cpu() -> &'static PerCpu {
    // SAFETY: TPIDR_EL2 is set to a `PerCpu` in `CPUS` before the host first runs on this CPU,
    // and host traps (the only callers) come after that.
    unsafe { &*(read_tpidr_el2().bits() as *const PerCpu) }
}

fn warm_entries() -> WarmEntries {
    WarmEntries { cpu_on: cpu_on_entry as *const () as u64, resume: cpu_resume_entry as *const () as u64 }
}

/// SPSR for entering the host: EL1h with D, A, I, F masked, as the arm64 boot protocol asks.
const SPSR_EL1H_MASKED: u64 = 0x3c5;

/// Called by the trap vectors for an SMCCC call from the host (HVC #0 or SMC #0; a trapped SMC
/// already stepped over), with only the registers a call uses saved: `regs` is the start of the
/// call's frame on the EL2 stack (`arch/vectors.S`), x0..x17. `smc` is 0 for an HVC and non-zero for an SMC (the vectors
/// pass what their syndrome test left). The one place a call is routed: [`handle_host_trap`] comes
/// here too, rather than have the routing built twice or reached through one more branch.
#[unsafe(no_mangle)]
extern "C" fn handle_host_call(regs: &mut SmcRegs, smc: u64) {
    host_calls::route_to(regs, if smc != 0 { Conduit::Smc } else { Conduit::Hvc }, &mut HostCalls(El3));
}

/// Called by the trap vectors for every other synchronous exception from the host.
#[unsafe(no_mangle)]
extern "C" fn handle_host_trap(frame: &mut TrapFrame) {
    let esr = Esr(read_esr_el2().bits());
    let far = read_far_el2().bits();
    let calls = |regs: &mut SmcRegs, conduit| handle_host_call(regs, (conduit == Conduit::Smc).into());
    host_trap::handle(frame, esr, far, calls, |frame| {
        // HPFAR_EL2 has the faulting IPA's page for a stage-2 fault; FAR_EL2 only the VA.
        let ipa = (read_hpfar_el2().fipa() << 12) | (far & 0xfff);
        crate::redist::handle(boot::redistributors(), esr, ipa, frame, &mut redist_mmio::RedistMmio)
    });
}

/// Where the host's calls go on this CPU. The PSCI relay and forwarded SMCs run with no lock
/// held (CPU_OFF never returns); the PMU partition and the VMs are taken only for the calls that
/// use them, and each kind of call is built out of line, so the hot path (a call answered from
/// constants) pays for none of it.
struct HostCalls(El3);

impl host_calls::Callee for HostCalls {
    type Monitor = El3;

    fn monitor(&mut self) -> &mut El3 {
        &mut self.0
    }

    #[inline(never)]
    fn psci(&mut self, regs: &mut SmcRegs) {
        let this_cpu = CPUS.index_of(this_cpu());
        PsciRelay { monitor: &mut self.0, cpus: &CPUS, entries: warm_entries(), this_cpu, host_owns: &host_owns }
            .handle(regs);
    }

    fn own(&mut self, call: HostCall, regs: &mut SmcRegs) {
        let services = || Services { pmu: boot::pmu_config().is_some(), vms: true };
        if host_calls::stateless_call(&call, &mut self.0, services, regs) {
        } else if let Some(pmu) = PmuCall::of(&call) {
            match boot::pmu_config() {
                Some(cfg) => pmu_call(pmu, cfg, regs),
                None => host_calls::set_error(regs, SmcccError::NotSupported),
            }
        } else {
            vm_call(regs);
        }
    }
}

/// A PMU call, with this CPU's partition state, answered in `regs`.
#[inline(never)]
fn pmu_call(call: PmuCall, cfg: &PmuConfig, regs: &mut SmcRegs) {
    // SAFETY: on this CPU, for this call only.
    let partition = unsafe { this_cpu().partition() };
    let answer = host_calls::pmu_answer(call, cfg, partition, &mut pmu_regs::CpuPmu);
    regs[..answer.len()].copy_from_slice(&answer);
}

/// A VM call, with this CPU's partition state (a run uses its reserved counters) and the VMs,
/// answered in `regs`.
#[inline(never)]
fn vm_call(regs: &mut SmcRegs) {
    let call = match decode_again(regs) {
        Ok(call) => call,
        Err(e) => return host_calls::set_error(regs, e),
    };
    let cfg = boot::pmu_config();
    // SAFETY: on this CPU, read before the call and not kept past it.
    let partition = unsafe { this_cpu().partition() };
    let hw = world::ArchVmHw {
        reserved: cfg.map_or(0, |c| partition.reserved_mask(c)),
        host_counters: partition.host_counters(),
        capacity: cfg.map_or(0, |c| partition.reserved_count(c)),
        access: cfg.map_or(crate::pmu::Access::Trapped, |c| c.access()),
    };
    let max_counters = cfg.map_or(0, |c| c.counters - c.host_minimum);
    let mut vms = VmCalls { vms: VMS.vms(), hw, max_counters };
    host_calls::vm_call(call, &mut vms).apply(regs);
}

/// A VM call decoded again, out of line, rather than passed in: the decoded call is five
/// registers' worth, and passing it made the dispatcher store it for every call, the hot ones
/// included.
#[inline(never)]
fn decode_again(regs: &SmcRegs) -> Result<HostCall, SmcccError> {
    HostCall::decode(regs)
}

/// Whether the host owns the memory at `pa`: its RAM (EL2's own memory is not part of it), and
/// not donated to a VM.
fn host_owns(pa: u64) -> bool {
    let byte = platform::Region::new(pa, 1);
    boot::host_ram().iter().any(|r| r.contains(pa))
        && !<platform::Current as platform::Platform>::firmware_region().contains(pa)
        && !VMS.donations().overlaps(byte)
}

/// Called by the vectors that must never be taken: an exception inside EL2, or a physical
/// interrupt routed to EL2 (this configuration routes none).
#[unsafe(no_mangle)]
extern "C" fn handle_unexpected_exception(frame: &TrapFrame, kind: u64) -> ! {
    let esr = read_esr_el2().bits();
    let far = read_far_el2().bits();
    panic!(
        "unexpected exception kind {kind} (vector {:#x}): esr={esr:#x} elr={:#x} far={far:#x} spsr={:#x}",
        kind * 0x80,
        frame.elr,
        frame.spsr
    );
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::LOGGER.write_raw(format_args!("\nEL2 PANIC: {info}\n"), &mut console::Emergency);
    // Nothing EL2 can do is safe any more: reset the system.
    let _ = smccc::psci::system_reset::<smccc::Smc>();
    loop {
        core::hint::spin_loop();
    }
}
