// SPDX-License-Identifier: MIT OR Apache-2.0

//! SMCCC calls from the host, by HVC or by a trapped SMC: routing and the answers EL2 gives itself.
//!
//! Routing, by the function ID's owner and the conduit:
//! - this hypervisor's own service (owner 6, Vendor Specific Hypervisor): answered by EL2, on
//!   either conduit;
//! - Arm architecture calls (owner 0): by HVC, EL2 is the callee and answers SMCCC_VERSION and
//!   SMCCC_ARCH_FEATURES itself, passing only the CPU workaround calls (and feature queries about
//!   them) to EL3, which implements the mitigations; by SMC, EL3 is the callee and gets the call;
//! - PSCI by SMC: the PSCI relay;
//! - anything else by SMC goes to EL3 unchanged;
//! - anything else by HVC: NOT_SUPPORTED. (The host's PSCI conduit is SMC.)

use crate::monitor::{Monitor, SmcRegs};
use crate::pmu::{CpuPartition, PmuConfig, PmuHw};
use crate::psci_relay::{self, PsciRelay};
use crate::vm::VmService;
use smc_interface::{
    HostCall, SmcccError,
    function_id::{FunctionId, Owner},
    ids,
    CounterMask,
    result::{CallUid, Features, RESULT_REGS, Revision, Version, encode_error},
};

/// How the call reached EL2.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Conduit {
    Hvc,
    Smc,
}

/// What a call answers, for the host's registers.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Reply {
    /// x0..x3; x4..x17 keep the host's values (SMCCC 1.1+ preserves them).
    Short([u64; RESULT_REGS]),
    /// x0..x4: VCPU_RUN's exit.
    Run([u64; 5]),
}

impl Reply {
    /// Writes the reply into the caller's x0..x17: its results from x0 up, the others untouched.
    pub fn apply(self, regs: &mut SmcRegs) {
        match self {
            Reply::Short(r) => regs[..r.len()].copy_from_slice(&r),
            Reply::Run(r) => regs[..r.len()].copy_from_slice(&r),
        }
    }
}

fn error(e: SmcccError) -> Reply {
    Reply::Short(encode_error(e))
}

/// The calling CPU's PMU partition state, for the PMU calls.
pub struct PmuCalls<'a, H: PmuHw> {
    /// `None` when the CPU has no usable PMU: the PMU calls are then NOT_SUPPORTED.
    pub cfg: Option<&'a PmuConfig>,
    pub cpu: &'a mut CpuPartition,
    pub hw: &'a mut H,
}

/// Routes and answers one host call in `regs`, with no VMs.
pub fn handle<M: Monitor, H: PmuHw>(
    regs: &mut SmcRegs,
    conduit: Conduit,
    psci: &mut PsciRelay<'_, M>,
    pmu: &mut PmuCalls<'_, H>,
) {
    route(regs, conduit, psci, |call, monitor| own_call(call, monitor, pmu, None));
}

/// Where routed calls go: the machine's answer to each kind.
pub trait Callee {
    type Monitor: Monitor;
    /// EL3, for the calls EL2 passes on unchanged.
    fn monitor(&mut self) -> &mut Self::Monitor;
    /// A PSCI call by SMC (the relay), answered in `regs`.
    fn psci(&mut self, regs: &mut SmcRegs);
    /// One of EL2's own calls, decoded, answered in `regs`.
    fn own(&mut self, call: HostCall, regs: &mut SmcRegs);
}

/// Routes one host call and writes its answer into `regs` (the host's x0..x17, in its trap
/// frame: nothing is copied out and back). EL2's own calls, decoded, go to `own`, PSCI to the
/// relay, other SMCs to EL3.
///
/// `own` is where the per-CPU state (PMU partition, VMs) is taken, so that PSCI and forwarded
/// calls run with no EL2 lock held: CPU_OFF and power-down suspends never return to the caller,
/// and a lock held across them would be held forever, so the CPU could never come back.
pub fn route<M: Monitor>(
    regs: &mut SmcRegs,
    conduit: Conduit,
    psci: &mut PsciRelay<'_, M>,
    own: impl FnOnce(HostCall, &mut M) -> Reply,
) {
    struct Relay<'r, 'p, M: Monitor, F> {
        psci: &'r mut PsciRelay<'p, M>,
        own: Option<F>,
    }
    impl<M: Monitor, F: FnOnce(HostCall, &mut M) -> Reply> Callee for Relay<'_, '_, M, F> {
        type Monitor = M;
        fn monitor(&mut self) -> &mut M {
            self.psci.monitor
        }
        fn psci(&mut self, regs: &mut SmcRegs) {
            self.psci.handle(regs);
        }
        fn own(&mut self, call: HostCall, regs: &mut SmcRegs) {
            let own = self.own.take().expect("one call, routed once");
            own(call, self.psci.monitor).apply(regs);
        }
    }
    route_to(regs, conduit, &mut Relay { psci, own: Some(own) });
}

/// [`route`], to any [`Callee`]: what the firmware's trap path uses, so that nothing is built
/// for a call that does not need it.
#[inline]
pub fn route_to(regs: &mut SmcRegs, conduit: Conduit, callee: &mut impl Callee) {
    let Some(id) = FunctionId::from_register(regs[0]) else {
        return set_error(regs, SmcccError::NotSupported);
    };
    match (id.owner(), conduit) {
        (Owner::VendorHyp, _) | (Owner::Arch, Conduit::Hvc) => match HostCall::decode(regs) {
            // The CPU workaround calls are EL3's, by either conduit: x0..x3 from it, the rest
            // the host's (SMCCC 1.1).
            Ok(HostCall::ArchWorkaround(_)) => workaround(regs, callee.monitor()),
            Ok(call) => callee.own(call, regs),
            Err(e) => set_error(regs, e),
        },
        (_, Conduit::Smc) if psci_relay::intercepts(id.raw()) => callee.psci(regs),
        (_, Conduit::Smc) => callee.monitor().smc(regs),
        (_, Conduit::Hvc) => set_error(regs, SmcccError::NotSupported),
    }
}

/// A CPU workaround call, passed to EL3: x0..x3 from it, the rest the host's. Out of line, so that
/// its copy of the registers does not give every call a stack frame.
#[inline(never)]
fn workaround(regs: &mut SmcRegs, monitor: &mut impl Monitor) {
    let mut out = *regs;
    monitor.smc(&mut out);
    regs[..RESULT_REGS].copy_from_slice(&out[..RESULT_REGS]);
}

/// x0..x3 of an error answer.
#[inline]
pub fn set_error(regs: &mut SmcRegs, e: SmcccError) {
    regs[..RESULT_REGS].copy_from_slice(&encode_error(e));
}

/// Which of EL2's services this CPU has: what HYP_FEATURES answers for them.
#[derive(Clone, Copy, Debug)]
pub struct Services {
    pub pmu: bool,
    pub vms: bool,
}

/// The calls that need no per-CPU state (version, features, identity): answered in x0..x3 of
/// `regs` without taking any lock. False (and `regs` untouched) for the PMU and VM calls.
/// `services` is asked only by the calls whose answer depends on it.
#[inline]
pub fn stateless_call<M: Monitor>(
    call: &HostCall,
    monitor: &mut M,
    services: impl Fn() -> Services,
    regs: &mut [u64],
) -> bool {
    // Each arm writes its own answer: one shared write after the match made the compiler stage
    // every answer in memory, a stack frame for every call.
    let mut answer = |a: [u64; RESULT_REGS]| regs[..RESULT_REGS].copy_from_slice(&a);
    match *call {
        HostCall::SmcccVersion => answer(Version::CURRENT.encode()),
        HostCall::ArchFeatures { function_id } => answer(arch_features(function_id, monitor)),
        HostCall::HypFeatures { function_id } => {
            let services = services();
            answer(
                if !services.pmu && smc_interface::pmu::PMU_CALLS.contains(&function_id)
                    || !services.vms && smc_interface::vm::VM_CALLS.contains(&function_id)
                {
                    Features::NOT_SUPPORTED.encode()
                } else {
                    Features::for_hyp_call(function_id).encode()
                },
            )
        }
        HostCall::HypCallUid => answer(CallUid::HYP.encode()),
        HostCall::HypRevision => answer(Revision::CURRENT.encode()),
        _ => return false,
    }
    true
}

/// The calls EL2 is the callee for.
pub fn own_call<M: Monitor, H: PmuHw>(
    call: HostCall,
    monitor: &mut M,
    pmu: &mut PmuCalls<'_, H>,
    vms: Option<&mut dyn VmService>,
) -> Reply {
    let mut answer = [0; RESULT_REGS];
    let services = Services { pmu: pmu.cfg.is_some(), vms: vms.is_some() };
    if stateless_call(&call, monitor, || services, &mut answer) {
        return Reply::Short(answer);
    }
    if let Some(answer) = pmu_call(&call, pmu) {
        return Reply::Short(answer);
    }
    match vms {
        Some(vms) => vm_call(call, vms),
        None => error(SmcccError::NotSupported),
    }
}

/// One of the PMU calls: two registers' worth, where a [`HostCall`] is passed in memory.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PmuCall {
    Info,
    Status,
    Reserve { count: u64 },
    Unreserve,
}

impl PmuCall {
    /// `call`, if it is a PMU call.
    #[inline]
    pub fn of(call: &HostCall) -> Option<Self> {
        Some(match *call {
            HostCall::PmuInfo => Self::Info,
            HostCall::PmuStatus => Self::Status,
            HostCall::PmuReserve { count } => Self::Reserve { count },
            HostCall::PmuUnreserve => Self::Unreserve,
            _ => return None,
        })
    }
}

/// x0..x3 of the answer to a PMU call, on the calling CPU's partition state `cpu`.
#[inline]
pub fn pmu_answer(call: PmuCall, cfg: &PmuConfig, cpu: &mut CpuPartition, hw: &mut impl PmuHw) -> [u64; RESULT_REGS] {
    let encode = |r: Result<CounterMask, SmcccError>| r.map_or_else(encode_error, |m| m.encode());
    match call {
        PmuCall::Info => cfg.info().encode(),
        PmuCall::Status => cpu.status(cfg).encode(),
        PmuCall::Reserve { count } => encode(cpu.reserve(cfg, hw, count)),
        PmuCall::Unreserve => encode(cpu.unreserve(hw)),
    }
}

/// The PMU calls: x0..x3 of the answer, `None` for any other call.
#[inline]
pub fn pmu_call<H: PmuHw>(call: &HostCall, pmu: &mut PmuCalls<'_, H>) -> Option<[u64; RESULT_REGS]> {
    let call = PmuCall::of(call)?;
    Some(match pmu.cfg {
        Some(cfg) => pmu_answer(call, cfg, pmu.cpu, pmu.hw),
        None => encode_error(SmcccError::NotSupported),
    })
}

/// The VM calls (any other call: NOT_SUPPORTED).
pub fn vm_call(call: HostCall, vms: &mut dyn VmService) -> Reply {
    let value = |r: Result<u64, SmcccError>| Reply::Short(r.map_or_else(encode_error, |v| [0, v, 0, 0]));
    match call {
        HostCall::VmCreate { pa, size } => value(vms.create(pa, size)),
        HostCall::VmLoad { handle, src, size, offset } => value(vms.load(handle, src, size, offset).map(|()| 0)),
        HostCall::VcpuCreate { handle, entry, pmu_counters, arg } => value(vms.vcpu_create(handle, entry, pmu_counters, arg)),
        HostCall::VcpuRun { handle, vcpu, events } => match vms.vcpu_run(handle, vcpu, events) {
            Ok(exit) => Reply::Run(exit.encode()),
            Err(e) => error(e),
        },
        HostCall::VmDestroy { handle } => value(vms.destroy(handle).map(|()| 0)),
        _ => error(SmcccError::NotSupported),
    }
}

/// Answers one call in process, as EL2 would on a CPU with this PMU state, with no VMs and an EL3
/// that implements nothing (NOT_SUPPORTED): the registers the caller gets back. For host-side
/// tests that need EL2's own answers (host-driver's model of EL2).
#[cfg(any(test, feature = "fakes"))]
pub fn answer_in_process<H: PmuHw>(regs: SmcRegs, conduit: Conduit, pmu: &mut PmuCalls<'_, H>) -> SmcRegs {
    struct NoEl3;
    impl Monitor for NoEl3 {
        fn smc(&mut self, regs: &mut SmcRegs) {
            *regs = [0; 18];
            regs[0] = SmcccError::NotSupported.to_register();
        }
    }
    let cpus = crate::percpu::CpuTable::new();
    let mut el3 = NoEl3;
    let mut relay = PsciRelay {
        monitor: &mut el3,
        cpus: &cpus,
        entries: psci_relay::WarmEntries { cpu_on: 0, resume: 0 },
        this_cpu: 0,
        host_owns: &|_| true,
    };
    let mut out = regs;
    handle(&mut out, conduit, &mut relay, pmu);
    out
}

// Out of line: its call to EL3 would otherwise keep the answer of every call answered in
// `route_to` in callee-saved registers, a stack frame for all of them.
#[inline(never)]
fn arch_features<M: Monitor>(function_id: u32, monitor: &mut M) -> [u64; RESULT_REGS] {
    // SMCCC 1.3 tells callees to ignore the SVE hint bit in IDs they are asked about as well.
    let function_id = FunctionId::new(function_id).raw();
    match function_id {
        ids::SMCCC_VERSION | ids::SMCCC_ARCH_FEATURES => Features::SUPPORTED.encode(),
        id if ids::SMCCC_ARCH_WORKAROUNDS.contains(&id) => {
            // The mitigation lives in EL3; EL3 says whether this CPU needs it.
            let x0 = monitor.call(ids::SMCCC_ARCH_FEATURES, &[id.into()]);
            [x0, 0, 0, 0]
        }
        _ => Features::NOT_SUPPORTED.encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::fake::FakeMonitor;
    use crate::percpu::CpuTable;
    use crate::psci_relay::WarmEntries;

    const NOT_SUPPORTED: u64 = -1i64 as u64;
    const INVALID_PARAMETER: u64 = -3i64 as u64;

    /// x0..x17 after the call.
    fn call(mon: &mut FakeMonitor, conduit: Conduit, args: &[u64]) -> SmcRegs {
        let cpus = CpuTable::new();
        let mut regs = [0; 18];
        regs[..args.len()].copy_from_slice(args);
        let mut relay = PsciRelay {
            monitor: mon,
            cpus: &cpus,
            entries: WarmEntries { cpu_on: 0x1000, resume: 0x2000 },
            this_cpu: 0,
            host_owns: &|_| true,
        };
        let cfg = PmuConfig::new(6, 6, true, true, false, smc_interface::Enforcement::Trapped, 1, 0).unwrap();
        let mut cpu = CpuPartition::new(&cfg);
        let mut hw = crate::pmu::FakePmu::new(6);
        handle(&mut regs, conduit, &mut relay, &mut PmuCalls { cfg: Some(&cfg), cpu: &mut cpu, hw: &mut hw });
        regs
    }

    fn short(r: [u64; RESULT_REGS]) -> SmcRegs {
        let mut regs = [0; 18];
        regs[..4].copy_from_slice(&r);
        regs
    }

    #[test]
    fn pmu_calls_are_routed() {
        let mut mon = FakeMonitor::default();
        let pmu = |id: u32| u64::from(id);
        use smc_interface::pmu::*;
        let info = call(&mut mon, Conduit::Hvc, &[pmu(PMU_INFO)]);
        assert_eq!(info[0], 0);
        let r = call(&mut mon, Conduit::Smc, &[pmu(PMU_RESERVE), 2]);
        assert_eq!(r, short([0, 0b110000, 0, 0]));
        let r = call(&mut mon, Conduit::Hvc, &[pmu(PMU_RESERVE), 2, 1]);
        assert_eq!(r[0], INVALID_PARAMETER, "unknown flag bits are refused");
        let r = call(&mut mon, Conduit::Hvc, &[pmu(PMU_UNRESERVE)]);
        assert_eq!(r[0], SmcccError::NotReserved.to_register());
        let f = call(&mut mon, Conduit::Hvc, &[ids::HYP_FEATURES.into(), pmu(PMU_RESERVE)]);
        assert_eq!(f[0], 0);
        assert!(mon.calls.is_empty());
    }

    #[test]
    fn own_service_on_both_conduits() {
        for conduit in [Conduit::Hvc, Conduit::Smc] {
            let mut mon = FakeMonitor::default();
            let uid = call(&mut mon, conduit, &[ids::HYP_CALL_UID.into()]);
            assert_eq!(uid, short(CallUid::HYP.encode()));
            let rev = call(&mut mon, conduit, &[ids::HYP_REVISION.into()]);
            assert_eq!(rev, short(Revision::CURRENT.encode()));
            let f = call(&mut mon, conduit, &[ids::HYP_FEATURES.into(), ids::HYP_CALL_UID.into()]);
            assert_eq!(f[0], 0);
            let f = call(&mut mon, conduit, &[ids::HYP_FEATURES.into(), 0x8600_0042]);
            assert_eq!(f[0], NOT_SUPPORTED);
            assert!(mon.calls.is_empty(), "EL2 answers its own calls without EL3");
        }
    }

    #[test]
    fn unknown_ids_are_not_supported() {
        let mut mon = FakeMonitor::default();
        for fid in [0x8600_0042u64, 0xc600_0000, 0xc600_0005, 0x8600_ff00, 0x8600_ff02, 0x1_8600_ff01] {
            let r = call(&mut mon, Conduit::Hvc, &[fid]);
            assert_eq!(r, short([NOT_SUPPORTED, 0, 0, 0]), "{fid:#x}");
        }
        // By HVC, nobody else's calls are EL2's business.
        for fid in [0x8400_0000u64, 0xc200_0001, 0x8300_0000] {
            assert_eq!(call(&mut mon, Conduit::Hvc, &[fid])[0], NOT_SUPPORTED);
        }
        assert!(mon.calls.is_empty());
    }

    #[test]
    fn bad_arguments_are_invalid() {
        let mut mon = FakeMonitor::default();
        let r = call(&mut mon, Conduit::Hvc, &[ids::HYP_FEATURES.into(), 1 << 32]);
        assert_eq!(r[0], INVALID_PARAMETER);
    }

    #[test]
    fn sve_hint_is_ignored() {
        let mut mon = FakeMonitor::default();
        let r = call(&mut mon, Conduit::Hvc, &[u64::from(ids::HYP_CALL_UID) | 1 << 16]);
        assert_eq!(r, short(CallUid::HYP.encode()));
    }

    #[test]
    fn arch_calls_by_hvc() {
        let mut mon = FakeMonitor::answering(&[0]);
        assert_eq!(call(&mut mon, Conduit::Hvc, &[ids::SMCCC_VERSION.into()])[0], 0x1_0002);
        let f = |m: &mut FakeMonitor, id: u32| call(m, Conduit::Hvc, &[ids::SMCCC_ARCH_FEATURES.into(), id.into()])[0];
        assert_eq!(f(&mut mon, ids::SMCCC_ARCH_FEATURES), 0);
        assert_eq!(f(&mut mon, 0x8000_0002), NOT_SUPPORTED);
        assert!(mon.calls.is_empty());
        // A workaround query is EL3's to answer.
        assert_eq!(f(&mut mon, ids::SMCCC_ARCH_WORKAROUND_1), 0);
        assert_eq!(&mon.calls[0][..2], &[ids::SMCCC_ARCH_FEATURES.into(), ids::SMCCC_ARCH_WORKAROUND_1.into()]);
    }

    #[test]
    fn smc_goes_to_el3_unless_it_is_ours() {
        let mut mon = FakeMonitor::answering(&[0x1_0001, 7]);
        // SMCCC_VERSION by SMC is EL3's.
        let r = call(&mut mon, Conduit::Smc, &[ids::SMCCC_VERSION.into()]);
        assert_eq!(r[0], 0x1_0001);
        // A SiP call with arguments goes through with all of them.
        let r = call(&mut mon, Conduit::Smc, &[0xc200_0001, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
        assert_eq!(r[0], 7);
        assert_eq!(mon.calls[1][17], 17);
    }
}
