// SPDX-License-Identifier: MIT OR Apache-2.0

//! A typed client of the hypervisor's calls, and the discovery sequence a driver runs before it
//! relies on any of them: SMCCC version, Call UID, revision, then FEATURES per call.

use crate::conduit::Conduit;
use smc_interface::{
    CallUid, CounterMask, Features, HostCall, PmuInfo, PmuStatus, Revision, SmcccError, Version,
    result::RESULT_REGS,
    vm::{Exit, HostEvents},
};

/// What discovery found.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HypInfo {
    /// SMCCC version the conduit's callee reports: EL2's for HVC, EL3's for SMC (EL2 relays
    /// architecture calls made by SMC). `None` if the callee does not answer (SMCCC 1.0).
    pub smccc: Option<Version>,
    pub revision: Revision,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ProbeError {
    /// The Call UID is not this hypervisor's (another hypervisor, or none).
    NotThisHypervisor(CallUid),
    /// The revision's major number is not one this client speaks.
    IncompatibleRevision(Revision),
    Call(SmcccError),
}

impl From<SmcccError> for ProbeError {
    fn from(e: SmcccError) -> Self {
        ProbeError::Call(e)
    }
}

pub struct Client<C: Conduit> {
    conduit: C,
}

impl<C: Conduit> Client<C> {
    pub fn new(conduit: C) -> Self {
        Self { conduit }
    }

    fn call(&mut self, call: HostCall) -> [u64; RESULT_REGS] {
        let out = self.conduit.call(call.encode());
        [out[0], out[1], out[2], out[3]]
    }

    pub fn smccc_version(&mut self) -> Result<Version, SmcccError> {
        Version::decode(self.call(HostCall::SmcccVersion))
    }

    pub fn call_uid(&mut self) -> Result<CallUid, SmcccError> {
        CallUid::decode(self.call(HostCall::HypCallUid))
    }

    pub fn revision(&mut self) -> Result<Revision, SmcccError> {
        Revision::decode(self.call(HostCall::HypRevision))
    }

    /// Whether the hypervisor implements `function_id` for this caller.
    pub fn features(&mut self, function_id: u32) -> Features {
        Features::decode(self.call(HostCall::HypFeatures { function_id }))
            .unwrap_or(Features::NOT_SUPPORTED)
    }

    /// Discovery: is this hypervisor there, and does it speak a revision this client knows?
    pub fn probe(&mut self) -> Result<HypInfo, ProbeError> {
        let uid = self.call_uid()?;
        if uid != CallUid::HYP {
            return Err(ProbeError::NotThisHypervisor(uid));
        }
        let revision = self.revision()?;
        if !revision.is_compatible_with(Revision::CURRENT) {
            return Err(ProbeError::IncompatibleRevision(revision));
        }
        Ok(HypInfo { smccc: self.smccc_version().ok(), revision })
    }

    /// PMU_INFO: the PMU and the partitioning limits.
    pub fn pmu_info(&mut self) -> Result<PmuInfo, SmcccError> {
        PmuInfo::decode(self.call(HostCall::PmuInfo))
    }

    /// PMU_STATUS: this CPU's partition state.
    pub fn pmu_status(&mut self) -> Result<PmuStatus, SmcccError> {
        PmuStatus::decode(self.call(HostCall::PmuStatus))
    }

    /// PMU_RESERVE: asks EL2 for `count` counters on this CPU. The caller must already have
    /// stopped using them (see `crate::handshake`).
    pub fn pmu_reserve(&mut self, count: u64) -> Result<CounterMask, SmcccError> {
        CounterMask::decode(self.call(HostCall::PmuReserve { count }))
    }

    /// PMU_UNRESERVE: gives this CPU's reserved counters back, scrubbed.
    pub fn pmu_unreserve(&mut self) -> Result<CounterMask, SmcccError> {
        CounterMask::decode(self.call(HostCall::PmuUnreserve))
    }

    fn value(&mut self, call: HostCall) -> Result<u64, SmcccError> {
        let r = self.call(call);
        match SmcccError::from_register(r[0]) {
            Some(e) => Err(e),
            None => Ok(r[1]),
        }
    }

    /// VM_CREATE: donates `size` bytes of host RAM at `pa` (2 MiB granules) to a new VM.
    pub fn vm_create(&mut self, pa: u64, size: u64) -> Result<u64, SmcccError> {
        self.value(HostCall::VmCreate { pa, size })
    }

    /// VM_LOAD: copies `size` bytes of host memory at `src` to `offset` in the VM.
    pub fn vm_load(&mut self, handle: u64, src: u64, size: u64, offset: u64) -> Result<(), SmcccError> {
        self.value(HostCall::VmLoad { handle, src, size, offset }).map(|_| ())
    }

    /// VCPU_CREATE: a vCPU entering at `entry` with `pmu_counters` PMU counters; `arg` is its x1.
    pub fn vcpu_create(&mut self, handle: u64, entry: u64, pmu_counters: u64, arg: u64) -> Result<u64, SmcccError> {
        self.value(HostCall::VcpuCreate { handle, entry, pmu_counters, arg })
    }

    /// VCPU_RUN: runs the vCPU on this CPU until it exits, with the host's `:H` / `:G` events.
    pub fn vcpu_run(&mut self, handle: u64, vcpu: u64, events: HostEvents) -> Result<Exit, SmcccError> {
        let out = self.conduit.call(HostCall::VcpuRun { handle, vcpu, events }.encode());
        Exit::decode([out[0], out[1], out[2], out[3], out[4]])
    }

    /// VM_DESTROY: the VM's memory comes back to the host, scrubbed.
    pub fn vm_destroy(&mut self, handle: u64) -> Result<(), SmcccError> {
        self.value(HostCall::VmDestroy { handle }).map(|_| ())
    }

    pub fn conduit(&mut self) -> &mut C {
        &mut self.conduit
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use el2::host_calls::{self, Conduit as Via};
    use smc_interface::ids;

    /// The firmware's own call handling, in process.
    struct InProcessEl2(Via);
    impl Conduit for InProcessEl2 {
        fn call(&mut self, regs: [u64; 18]) -> [u64; 18] {
            let cfg = el2::pmu::PmuConfig::new(6, 6, true, true, false, smc_interface::Enforcement::Trapped, 1, 0).unwrap();
            let mut cpu = el2::pmu::CpuPartition::new(&cfg);
            let mut hw = el2::pmu::FakePmu::new(6);
            let mut pmu = host_calls::PmuCalls { cfg: Some(&cfg), cpu: &mut cpu, hw: &mut hw };
            host_calls::answer_in_process(regs, self.0, &mut pmu)
        }
    }

    #[test]
    fn probe_over_both_conduits() {
        for via in [Via::Hvc, Via::Smc] {
            let mut client = Client::new(InProcessEl2(via));
            let info = client.probe().unwrap();
            assert_eq!(info.revision, Revision::CURRENT);
            assert!(client.features(ids::HYP_CALL_UID).is_supported());
            assert!(!client.features(0x8600_0042).is_supported());
        }
        // SMCCC_VERSION by SMC belongs to EL3 (here: one that answers NOT_SUPPORTED).
        let mut client = Client::new(InProcessEl2(Via::Smc));
        assert_eq!(client.smccc_version(), Err(SmcccError::NotSupported));
        let mut client = Client::new(InProcessEl2(Via::Hvc));
        assert_eq!(client.smccc_version().unwrap(), Version::CURRENT);
    }

    /// Records the registers of the last call and answers with a fixed exit.
    struct Recorder(Option<[u64; 18]>);
    impl Conduit for Recorder {
        fn call(&mut self, regs: [u64; 18]) -> [u64; 18] {
            self.0 = Some(regs);
            let mut out = [0; 18];
            out[..5].copy_from_slice(&Exit::Report([1, 2, 3]).encode());
            out
        }
    }

    #[test]
    fn vm_calls_encode_and_decode() {
        let mut client = Client::new(Recorder(None));
        let events = HostEvents { host_only: 1 << 3, guest_only: 1 << 2 };
        assert_eq!(client.vcpu_run(1, 0, events), Ok(Exit::Report([1, 2, 3])));
        let regs = client.conduit().0.unwrap();
        assert_eq!(&regs[..5], &[smc_interface::vm::VCPU_RUN.into(), 1, 0, 1 << 3, 1 << 2]);
        client.vcpu_create(1, 0x4000_0000, 2, 7).unwrap();
        let regs = client.conduit().0.unwrap();
        assert_eq!(&regs[..5], &[smc_interface::vm::VCPU_CREATE.into(), 1, 0x4000_0000, 2, 7]);
        // An in-process EL2 without VMs says so.
        let mut el2 = Client::new(InProcessEl2(Via::Hvc));
        assert_eq!(el2.vm_create(0x5000_0000, 2 << 20), Err(SmcccError::NotSupported));
    }

    struct OtherHypervisor;
    impl Conduit for OtherHypervisor {
        fn call(&mut self, regs: [u64; 18]) -> [u64; 18] {
            let mut out = [0; 18];
            if regs[0] == u64::from(ids::HYP_CALL_UID) {
                out[..4].copy_from_slice(&[0xb66f_b428, 0xe911_c52e, 0x564b_caa9, 0x743a_004d]);
            }
            out
        }
    }

    #[test]
    fn refuses_another_hypervisor() {
        assert!(matches!(
            Client::new(OtherHypervisor).probe(),
            Err(ProbeError::NotThisHypervisor(_))
        ));
    }
}
