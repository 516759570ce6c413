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
    result::{CallUid, Features, RESULT_REGS, Revision, Version, encode_error},
};

/// How the call reached EL2.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Conduit {
    Hvc,
    Smc,
}

/// The registers to write back to the host.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Reply {
    /// x0..x3; x4..x17 keep the host's values (SMCCC 1.1+ preserves them).
    Short([u64; RESULT_REGS]),
    /// x0..x17 as EL3 returned them.
    Full(SmcRegs),
    /// x0..x4: VCPU_RUN's exit.
    Run([u64; 5]),
}

impl Reply {
    /// The registers the reply writes, from x0 up; the others keep the caller's values.
    pub fn results(&self) -> &[u64] {
        match self {
            Reply::Short(r) => r,
            Reply::Full(r) => r,
            Reply::Run(r) => r,
        }
    }

    pub fn x0(&self) -> u64 {
        match self {
            Reply::Short(r) => r[0],
            Reply::Full(r) => r[0],
            Reply::Run(r) => r[0],
        }
    }
}

/// The calling CPU's PMU partition state, for the PMU calls.
pub struct PmuCalls<'a, H: PmuHw> {
    /// `None` when the CPU has no usable PMU: the PMU calls are then NOT_SUPPORTED.
    pub cfg: Option<&'a PmuConfig>,
    pub cpu: &'a mut CpuPartition,
    pub hw: &'a mut H,
}

/// Routes and answers one host call, with no VMs.
pub fn handle<M: Monitor, H: PmuHw>(
    regs: SmcRegs,
    conduit: Conduit,
    psci: &mut PsciRelay<'_, M>,
    pmu: &mut PmuCalls<'_, H>,
) -> Reply {
    route(regs, conduit, psci, |monitor| own_call(regs, monitor, pmu, None))
}

/// Routes one host call: EL2's own calls go to `own` (given the monitor, for the calls EL2 passes
/// on), PSCI to the relay, other SMCs to EL3.
///
/// `own` is where the per-CPU state (PMU partition, VMs) is taken, so that PSCI and forwarded
/// calls run with no EL2 lock held: CPU_OFF and power-down suspends never return to the caller,
/// and a lock held across them would be held forever, so the CPU could never come back.
pub fn route<M: Monitor>(
    regs: SmcRegs,
    conduit: Conduit,
    psci: &mut PsciRelay<'_, M>,
    own: impl FnOnce(&mut M) -> Reply,
) -> Reply {
    let Some(id) = FunctionId::from_register(regs[0]) else {
        return Reply::Short(encode_error(SmcccError::NotSupported));
    };
    match (id.owner(), conduit) {
        (Owner::VendorHyp, _) | (Owner::Arch, Conduit::Hvc) => own(psci.monitor),
        (_, Conduit::Smc) if psci_relay::is_psci(id.raw()) => Reply::Full(psci.handle(regs)),
        (_, Conduit::Smc) => Reply::Full(psci.monitor.smc(regs)),
        (_, Conduit::Hvc) => Reply::Short(encode_error(SmcccError::NotSupported)),
    }
}

/// The calls EL2 is the callee for.
pub fn own_call<M: Monitor, H: PmuHw>(
    regs: SmcRegs,
    monitor: &mut M,
    pmu: &mut PmuCalls<'_, H>,
    vms: Option<&mut dyn VmService>,
) -> Reply {
    let call = match HostCall::decode(&regs) {
        Ok(call) => call,
        Err(e) => return Reply::Short(encode_error(e)),
    };
    let not_supported = encode_error(SmcccError::NotSupported);
    Reply::Short(match call {
        HostCall::SmcccVersion => Version::CURRENT.encode(),
        HostCall::ArchFeatures { function_id } => arch_features(function_id, monitor),
        HostCall::ArchWorkaround(_) => {
            let out = monitor.smc(regs);
            [out[0], out[1], out[2], out[3]]
        }
        HostCall::HypFeatures { function_id } => {
            if pmu.cfg.is_none() && smc_interface::pmu::PMU_CALLS.contains(&function_id)
                || vms.is_none() && smc_interface::vm::VM_CALLS.contains(&function_id)
            {
                Features::NOT_SUPPORTED.encode()
            } else {
                Features::for_hyp_call(function_id).encode()
            }
        }
        HostCall::HypCallUid => CallUid::HYP.encode(),
        HostCall::HypRevision => Revision::CURRENT.encode(),
        HostCall::PmuInfo => pmu.cfg.map_or(not_supported, |cfg| cfg.info().encode()),
        HostCall::PmuStatus => pmu.cfg.map_or(not_supported, |cfg| pmu.cpu.status(cfg).encode()),
        HostCall::PmuReserve { count } => match pmu.cfg {
            Some(cfg) => pmu.cpu.reserve(cfg, pmu.hw, count).map_or_else(encode_error, |m| m.encode()),
            None => not_supported,
        },
        HostCall::PmuUnreserve => match pmu.cfg {
            Some(_) => pmu.cpu.unreserve(pmu.hw).map_or_else(encode_error, |m| m.encode()),
            None => not_supported,
        },
        HostCall::VmCreate { .. }
        | HostCall::VmLoad { .. }
        | HostCall::VcpuCreate { .. }
        | HostCall::VcpuRun { .. }
        | HostCall::VmDestroy { .. } => match vms {
            Some(vms) => return vm_call(call, vms),
            None => not_supported,
        },
    })
}

/// The VM calls.
fn vm_call(call: HostCall, vms: &mut dyn VmService) -> Reply {
    let value = |r: Result<u64, SmcccError>| Reply::Short(r.map_or_else(encode_error, |v| [0, v, 0, 0]));
    match call {
        HostCall::VmCreate { pa, size } => value(vms.create(pa, size)),
        HostCall::VmLoad { handle, src, size, offset } => value(vms.load(handle, src, size, offset).map(|()| 0)),
        HostCall::VcpuCreate { handle, entry, pmu_counters, arg } => value(vms.vcpu_create(handle, entry, pmu_counters, arg)),
        HostCall::VcpuRun { handle, vcpu, events } => match vms.vcpu_run(handle, vcpu, events) {
            Ok(exit) => Reply::Run(exit.encode()),
            Err(e) => Reply::Short(encode_error(e)),
        },
        HostCall::VmDestroy { handle } => value(vms.destroy(handle).map(|()| 0)),
        _ => Reply::Short(encode_error(SmcccError::NotSupported)),
    }
}

/// Answers one call in process, as EL2 would on a CPU with this PMU state, with no VMs and an EL3
/// that implements nothing (NOT_SUPPORTED): the registers the caller gets back. For host-side
/// tests that need EL2's own answers (host-driver's model of EL2).
#[cfg(any(test, feature = "fakes"))]
pub fn answer_in_process<H: PmuHw>(regs: SmcRegs, conduit: Conduit, pmu: &mut PmuCalls<'_, H>) -> SmcRegs {
    struct NoEl3;
    impl Monitor for NoEl3 {
        fn smc(&mut self, _: SmcRegs) -> SmcRegs {
            let mut r = [0; 18];
            r[0] = SmcccError::NotSupported.to_register();
            r
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
    let reply = handle(regs, conduit, &mut relay, pmu);
    let mut out = regs;
    out[..reply.results().len()].copy_from_slice(reply.results());
    out
}

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

    fn call(mon: &mut FakeMonitor, conduit: Conduit, args: &[u64]) -> Reply {
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
        handle(regs, conduit, &mut relay, &mut PmuCalls { cfg: Some(&cfg), cpu: &mut cpu, hw: &mut hw })
    }

    #[test]
    fn pmu_calls_are_routed() {
        let mut mon = FakeMonitor::default();
        let pmu = |id: u32| u64::from(id);
        use smc_interface::pmu::*;
        let info = call(&mut mon, Conduit::Hvc, &[pmu(PMU_INFO)]);
        assert_eq!(info.x0(), 0);
        let r = call(&mut mon, Conduit::Smc, &[pmu(PMU_RESERVE), 2]);
        assert_eq!(r, Reply::Short([0, 0b110000, 0, 0]));
        let r = call(&mut mon, Conduit::Hvc, &[pmu(PMU_RESERVE), 2, 1]);
        assert_eq!(r.x0(), INVALID_PARAMETER, "unknown flag bits are refused");
        let r = call(&mut mon, Conduit::Hvc, &[pmu(PMU_UNRESERVE)]);
        assert_eq!(r.x0(), SmcccError::NotReserved.to_register());
        let f = call(&mut mon, Conduit::Hvc, &[ids::HYP_FEATURES.into(), pmu(PMU_RESERVE)]);
        assert_eq!(f.x0(), 0);
        assert!(mon.calls.is_empty());
    }

    #[test]
    fn own_service_on_both_conduits() {
        for conduit in [Conduit::Hvc, Conduit::Smc] {
            let mut mon = FakeMonitor::default();
            let uid = call(&mut mon, conduit, &[ids::HYP_CALL_UID.into()]);
            assert_eq!(uid, Reply::Short(CallUid::HYP.encode()));
            let rev = call(&mut mon, conduit, &[ids::HYP_REVISION.into()]);
            assert_eq!(rev, Reply::Short(Revision::CURRENT.encode()));
            let f = call(&mut mon, conduit, &[ids::HYP_FEATURES.into(), ids::HYP_CALL_UID.into()]);
            assert_eq!(f.x0(), 0);
            let f = call(&mut mon, conduit, &[ids::HYP_FEATURES.into(), 0x8600_0042]);
            assert_eq!(f.x0(), NOT_SUPPORTED);
            assert!(mon.calls.is_empty(), "EL2 answers its own calls without EL3");
        }
    }

    #[test]
    fn unknown_ids_are_not_supported() {
        let mut mon = FakeMonitor::default();
        for fid in [0x8600_0042u64, 0xc600_0000, 0xc600_0005, 0x8600_ff00, 0x8600_ff02, 0x1_8600_ff01] {
            let r = call(&mut mon, Conduit::Hvc, &[fid]);
            assert_eq!(r, Reply::Short([NOT_SUPPORTED, 0, 0, 0]), "{fid:#x}");
        }
        // By HVC, nobody else's calls are EL2's business.
        for fid in [0x8400_0000u64, 0xc200_0001, 0x8300_0000] {
            assert_eq!(call(&mut mon, Conduit::Hvc, &[fid]).x0(), NOT_SUPPORTED);
        }
        assert!(mon.calls.is_empty());
    }

    #[test]
    fn bad_arguments_are_invalid() {
        let mut mon = FakeMonitor::default();
        let r = call(&mut mon, Conduit::Hvc, &[ids::HYP_FEATURES.into(), 1 << 32]);
        assert_eq!(r.x0(), INVALID_PARAMETER);
    }

    #[test]
    fn sve_hint_is_ignored() {
        let mut mon = FakeMonitor::default();
        let r = call(&mut mon, Conduit::Hvc, &[u64::from(ids::HYP_CALL_UID) | 1 << 16]);
        assert_eq!(r, Reply::Short(CallUid::HYP.encode()));
    }

    #[test]
    fn arch_calls_by_hvc() {
        let mut mon = FakeMonitor::answering(&[0]);
        assert_eq!(call(&mut mon, Conduit::Hvc, &[ids::SMCCC_VERSION.into()]).x0(), 0x1_0002);
        let f = |m: &mut FakeMonitor, id: u32| call(m, Conduit::Hvc, &[ids::SMCCC_ARCH_FEATURES.into(), id.into()]).x0();
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
        assert_eq!(r.x0(), 0x1_0001);
        // A SiP call with arguments goes through with all of them.
        let r = call(&mut mon, Conduit::Smc, &[0xc200_0001, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
        assert_eq!(r.x0(), 7);
        assert_eq!(mon.calls[1][17], 17);
    }
}
