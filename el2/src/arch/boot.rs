// SPDX-License-Identifier: MIT OR Apache-2.0

//! Bringing EL2 up: the boot CPU's one-time set-up, and every CPU's way into the host.

use super::reserved::Reserved;
use super::{CPUS, SPSR_EL1H_MASKED, cache, console, cpu_setup, el2_enable_mmu, enter_host, heap, pmu_regs::CpuPmu};
use crate::devicetree::{self, Fixups};
use crate::el2_mmu::{self, ImageLayout};
use crate::host_config::CpuIds;
use crate::host_image::{self, HEADER_BYTES};
use crate::host_stage2;
use crate::logger;
use crate::percpu::{PerCpu, STACK_SIZE};
use crate::pmu::enforcement::{self, Probe, Requested};
use crate::pmu::{CpuPartition, PmuConfig, PmuHw};
use aarch64_paging::{idmap::IdMap, paging::Stage2};
use arm_sysregs::el1::accessors::read_mpidr_el1;
use arm_sysregs::el2::accessors::write_tpidr_el2;
use arm_sysregs::el2::registers::TpidrEl2;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use log::{error, info};
use platform::{Current, Platform, Region, Regions};
use spin::Once;

unsafe extern "C" {
    static __fw_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
}

/// What a warm-booting CPU needs to turn its MMU on: MAIR_EL2, TCR_EL2, TTBR0_EL2, SCTLR_EL2.
/// Read by `el2_mmu_on_warm` in entry.S with the MMU off, hence cleaned to the PoC once written.
#[unsafe(no_mangle)]
static EL2_MMU_CONFIG: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// What the boot CPU found and built, for every CPU and every later call: set once, before any
/// CPU enters the host, and only read afterwards (the host stage-2 map has its own lock).
struct Machine {
    /// RAM, from the device tree.
    ram: alloc::vec::Vec<Region>,
    /// The GIC's redistributor regions, whose LPI register pages EL2 emulates for the host.
    redistributors: alloc::vec::Vec<Region>,
    /// The host's stage-2 (root in `host_vttbr`), changed when RAM moves between the host and VMs.
    host_stage2: spin::mutex::SpinMutex<IdMap<Stage2>>,
    host_vttbr: u64,
    host_vtcr: u64,
    /// EL2's own page tables, live for good once the MMU uses them.
    _el2_map: IdMap<aarch64_paging::paging::El2>,
    /// The PMU and the partitioning policy; `None` when the CPU has no PMUv3.
    pmu: Option<PmuConfig>,
}

// SAFETY: the page tables are reached only through the lock (`host_stage2`) or not at all
// (`_el2_map`, kept alive for the MMU); everything else is plain data, read-only once set.
unsafe impl Send for Machine {}
unsafe impl Sync for Machine {}

static MACHINE: Once<Machine> = Once::new();

fn machine() -> &'static Machine {
    MACHINE.get().expect("the machine is set up before any CPU enters the host")
}

pub fn redistributors() -> &'static [Region] {
    MACHINE.get().map_or(&[], |m| m.redistributors.as_slice())
}

/// The GIC frames kept from the host, from the device tree with the platform's facts as the
/// fallback for the redistributors. The platform's ITS frames are hidden even when the tree does
/// not mention them: a tree that leaves the ITS out does not take it out of the hardware.
fn gic_layout(dtb: &[u8]) -> devicetree::GicLayout {
    let mut gic = devicetree::gic_layout(dtb).unwrap_or_else(|e| fail(format_args!("device tree GIC: {e}")));
    if gic.redistributors.is_empty() {
        gic.redistributors.push(Region::new(Current::GICR_BASE, Current::GICR_SIZE));
    }
    for its in Current::GIC_ITS {
        if !gic.its.contains(its) {
            gic.its.push(*its);
        }
    }
    gic
}

pub fn host_ram() -> &'static [Region] {
    MACHINE.get().map_or(&[], |m| m.ram.as_slice())
}

/// Gives RAM to the host's stage-2 or takes it away, and drops the TLB entries that could still
/// reach it. Called while handling a host call, so VTTBR_EL2 is the host's.
pub fn host_stage2_set(region: Region, present: bool) -> Result<(), aarch64_paging::MapError> {
    let mut map = machine().host_stage2.lock();
    crate::host_stage2::set_ram(&mut map, region, present)?;
    // SAFETY: TLB maintenance for the host's VMID (stage-1 entries that combined the old stage-2
    // ones included), on every CPU.
    unsafe { core::arch::asm!("dsb ishst", "tlbi vmalls12e1is", "dsb ish", "isb", options(nostack, preserves_flags)) };
    Ok(())
}

/// `MACHINE`'s PMU configuration, published on its own once `MACHINE` is set: every PMU call
/// asks for it first, and one load is three instructions where the `Once`'s state and then the
/// option's were nine.
static PMU_CONFIG: AtomicPtr<PmuConfig> = AtomicPtr::new(core::ptr::null_mut());

pub fn pmu_config() -> Option<&'static PmuConfig> {
    // SAFETY: null, or `MACHINE`'s configuration, which is set once and never changes after.
    unsafe { PMU_CONFIG.load(Ordering::Acquire).as_ref() }
}

/// The device-tree property that overrides the platform's boot reservation.
const DT_BOOT_RESERVED: &str = "pmu-partition,reserved-counters";
/// The device-tree property that chooses the enforcement mode ("direct" or "trapped") instead of
/// the boot probe.
const DT_ENFORCEMENT: &str = "pmu-partition,enforcement";

fn configure_pmu(ids: &CpuIds, dtb: &[u8]) -> Option<PmuConfig> {
    if !ids.has_pmuv3() {
        info!("no PMUv3: PMU partitioning is off");
        return None;
    }
    let boot_reserved = match devicetree::chosen_u32(dtb, DT_BOOT_RESERVED) {
        Ok(Some(n)) => u8::try_from(n).unwrap_or(u8::MAX),
        Ok(None) => Current::PMU_BOOT_RESERVED,
        Err(e) => fail(format_args!("/chosen/{DT_BOOT_RESERVED}: {e}")),
    };
    // Whether the CPU itself keeps EL1 out of the counters at and above HPMN, measured. The direct
    // mode relies on it; the trapped mode is right everywhere. The device tree may choose.
    let probe = super::enforcement::probe();
    let requested = match devicetree::chosen_str(dtb, DT_ENFORCEMENT) {
        Ok(value) => Requested::parse(value.as_deref()).unwrap_or_else(|| {
            let value = value.as_deref().unwrap_or_default();
            fail(format_args!("/chosen/{DT_ENFORCEMENT} = \"{value}\": want direct or trapped"))
        }),
        Err(e) => fail(format_args!("/chosen/{DT_ENFORCEMENT}: {e}")),
    };
    let (enforcement, unsafe_direct) = enforcement::choose(requested, probe, ids.has_fgt());
    info!("PMU: HPMN enforced by the CPU at EL1: {probe:?}; partitions use the {enforcement:?} mode");
    if unsafe_direct {
        log::warn!("PMU: direct mode without HPMN enforcement and FGT: partitions can reach the host's counters");
    }
    let cfg = PmuConfig::new(
        CpuPmu.counters(),
        ids.pmu_version() as u8,
        ids.has_hpmn0(),
        ids.has_fgt(),
        probe == Probe::Enforced,
        enforcement,
        Current::PMU_HOST_MINIMUM,
        boot_reserved,
    )
    .unwrap_or_else(|e| fail(format_args!("PMU partition configuration: {e}")));
    info!(
        "PMU: {} counters, PMUVer {:#x}; host keeps >= {}, {} reserved at boot, up to {} on request",
        cfg.counters, cfg.pmu_version, cfg.host_minimum, cfg.boot_reserved, cfg.max_reserve
    );
    Some(cfg)
}

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; Current::MAX_CPUS]);
static STACKS: Reserved<Stacks> = Reserved::new(Stacks([[0; STACK_SIZE]; Current::MAX_CPUS]));

/// Refuses to boot the host: the reason goes out as the run's last line, in the one form runners
/// look for (`EL2 FATAL: ...`, see scripts/qemu-run.sh), then the machine powers off.
fn fail(msg: core::fmt::Arguments<'_>) -> ! {
    error!("{msg}");
    error!("cannot boot the host; powering off");
    // Printed whatever the log level, so a release build that logs nothing still says why.
    console::LOGGER.write_raw(format_args!("EL2 FATAL: cannot boot the host: {msg}\n"), &mut console::Emergency);
    let _ = smccc::psci::system_off::<smccc::Smc>();
    panic!("SYSTEM_OFF returned");
}

/// Entry from `_start` on the boot CPU, MMU off, on the boot stack.
#[unsafe(no_mangle)]
extern "C" fn boot_cpu_main(x0: u64, x1: u64, _x2: u64, _x3: u64) -> ! {
    console::init(logger::BUILD_DEFAULT);
    heap::init();
    let ids = cpu_setup::read_ids();
    if ids.has_mops() && !ids.hcrx_usable() {
        log::warn!("FEAT_MOPS without an HCRX_EL2 EL2 may write: the host must not use it (arm64.nomops)");
    }

    // The device tree: in x0 when QEMU boots us as a kernel; in x1 from TF-A on FVP (its x0 is
    // an empty NT_FW_CONFIG tree); at the platform's address from TF-A on QEMU (whose x0 is the
    // MPIDR). The first candidate that holds a tree with memory in it wins.
    let found = [x0, x1, Current::DT_BASE].into_iter().find_map(|addr| {
        let dtb = fdt_at(addr)?;
        devicetree::memory_regions(dtb).ok().filter(|r| !r.is_empty()).map(|ram| (addr, dtb, ram))
    });
    let Some((dt_base, dtb, ram)) = found else {
        fail(format_args!("no device tree with memory at x0={x0:#x}, x1={x1:#x} or {:#x}", Current::DT_BASE))
    };

    // EL2's own page tables, then the MMU.
    let firmware = Current::firmware_region();
    let image = ImageLayout {
        firmware,
        text_end: &raw const __text_end as u64,
        rodata_end: &raw const __rodata_end as u64,
    };
    debug_assert_eq!(&raw const __fw_start as u64, firmware.base);
    // The GIC: the ITS leaves the host's stage-2, and so do the redistributor pages holding the
    // LPI registers, which EL2 then emulates (and so maps for itself).
    let gic = gic_layout(dtb);
    let lpi_pages = crate::redist::trapped_pages(&gic.redistributors);
    let mut devices = alloc::vec![Region::new(Current::UART_BASE, 0x1000)];
    devices.extend_from_slice(&lpi_pages);
    let mut el2_map = el2_mmu::build(&ram, &image, &devices)
        .unwrap_or_else(|e| fail(format_args!("EL2 page tables: {e}")));
    let config = [
        el2_mmu::MAIR,
        el2_mmu::tcr(ids.parange()),
        el2_map.root_address().0 as u64,
        el2_mmu::SCTLR,
    ];
    // SAFETY: the map covers everything EL2 touches: its image, stacks, heap, RAM and UART.
    unsafe { el2_enable_mmu(config[0], config[1], config[2], config[3]) };
    el2_map.mark_active();
    for (slot, value) in EL2_MMU_CONFIG.iter().zip(config) {
        slot.store(value, Ordering::Relaxed);
    }
    cache::clean_object(&EL2_MMU_CONFIG);

    // The host to boot, and how much to log about it.
    // SAFETY: the bundle base is RAM (checked by parse against the memory map before use); the
    // header is only read.
    let header = unsafe {
        core::slice::from_raw_parts(Current::HOST_BUNDLE_BASE as *const u8, HEADER_BYTES)
    };
    let host = host_image::parse(Current::HOST_BUNDLE_BASE, header, &ram, firmware)
        .unwrap_or_else(|e| fail(format_args!("no valid host bundle at {:#x}: {e}", Current::HOST_BUNDLE_BASE)));
    log::set_max_level(logger::level_for(host.log_level));
    info!("pmu-partition EL2 firmware {} on {}", env!("CARGO_PKG_VERSION"), Current::NAME);
    info!("RAM {}; EL2 owns {firmware}", Regions(&ram));

    // The host's stage-2: RAM and devices, without EL2, the ITS and the LPI register pages.
    let mut holes = alloc::vec![firmware];
    holes.extend_from_slice(&gic.its);
    holes.extend_from_slice(&lpi_pages);
    let mut s2 = host_stage2::build(&ram, Current::DEVICE_REGIONS, &holes)
        .unwrap_or_else(|e| fail(format_args!("host stage-2: {e}")));
    let (its, redistributors) = (Regions(&gic.its), Regions(&gic.redistributors));
    info!("GIC: ITS {its} hidden from the host; LPI registers emulated in {redistributors}");
    drop(lpi_pages);
    s2.mark_active();

    // PMU partitioning: the layout every CPU starts with. (The enforcement probe runs through the
    // guest entry code, which keeps EL2's registers in this CPU's PerCpu: TPIDR_EL2 first.)
    if let Some(me) = CPUS.by_mpidr(read_mpidr_el1().bits()) {
        // SAFETY: TPIDR_EL2 is EL2's own; it names this CPU's `PerCpu`.
        unsafe { write_tpidr_el2(TpidrEl2::from_bits_retain(me as *const PerCpu as u64)) };
    }
    let pmu = configure_pmu(&ids, dtb);
    if let Some(cfg) = pmu {
        for cpu in 0..Current::MAX_CPUS {
            // SAFETY: the boot CPU, before any other CPU starts.
            *unsafe { CPUS.get(cpu).unwrap().partition() } = CpuPartition::new(&cfg);
        }
    }

    // The host's device tree, rewritten in place.
    let fixups = Fixups { firmware: Some(firmware), initrd: host.initrd, bootargs: host.cmdline, hide_its: true };
    let new_dtb = devicetree::fix_up(dtb, &fixups, Current::DT_MAX_SIZE as usize)
        .unwrap_or_else(|e| fail(format_args!("device tree fix-up: {e}")));
    let dt_region = Region::new(dt_base, new_dtb.len() as u64);
    if dt_region.overlaps(&host.kernel) || host.initrd.is_some_and(|(s, e)| dt_region.overlaps(&Region::new(s, e - s))) {
        fail(format_args!("device tree at {dt_base:#x} would overlap the host image"));
    }
    // SAFETY: [dt_base, dt_base + DT_MAX_SIZE) is the platform's device tree area, in RAM, not
    // EL2's and not the host image's (checked above); nothing else refers to the old blob now.
    unsafe { core::ptr::copy_nonoverlapping(new_dtb.as_ptr(), dt_base as *mut u8, new_dtb.len()) };
    cache::clean_to_poc(dt_base as usize, new_dtb.len());
    drop(new_dtb);

    // Per-CPU stacks, readable by warm-booting CPUs with their MMU off.
    let stacks = STACKS.as_mut_ptr();
    for (index, cpu) in CPUS.iter().enumerate() {
        // SAFETY: only the address of the CPU's stack is taken, never a reference.
        let base = unsafe { &raw mut (*stacks).0[index] } as u64;
        cpu.stack_top.store(base + STACK_SIZE as u64, Ordering::Relaxed);
    }
    cache::clean_object(&CPUS);

    MACHINE.call_once(|| Machine {
        ram,
        redistributors: gic.redistributors,
        host_vttbr: s2.root_address().0 as u64,
        host_vtcr: host_stage2::vtcr(ids.parange()),
        host_stage2: spin::mutex::SpinMutex::new(s2),
        _el2_map: el2_map,
        pmu,
    });
    if let Some(cfg) = machine().pmu.as_ref() {
        PMU_CONFIG.store(core::ptr::from_ref(cfg).cast_mut(), Ordering::Release);
    }

    let Some(me) = CPUS.by_mpidr(read_mpidr_el1().bits()) else {
        fail(format_args!("boot CPU MPIDR {:#x} unknown to the platform", read_mpidr_el1().bits()));
    };
    let (initrd_start, initrd_end) = host.initrd.unwrap_or_default();
    info!(
        "host: kernel {:#x} ({} KiB), initrd {initrd_start:#x}..{initrd_end:#x}, dtb {dt_base:#x}",
        host.entry,
        host.kernel.size / 1024
    );
    enter_host_on_this_cpu(me, &ids, host.entry, dt_base)
}

/// The device tree blob at `addr`, if there is one.
fn fdt_at(addr: u64) -> Option<&'static [u8]> {
    if addr == 0 || !addr.is_multiple_of(8) || !Current::DEFAULT_RAM.contains(addr) && addr != Current::DT_BASE {
        return None;
    }
    // SAFETY: called with the MMU off, where every address is accessible, on an aligned address
    // in RAM; the header's first 8 bytes are read before anything else.
    let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 8) };
    let size = devicetree::blob_size(header)?;
    if size < 8 || size as u64 > Current::DT_MAX_SIZE {
        return None;
    }
    // SAFETY: as above, for the size the header gives, bounded by the platform's maximum.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, size) })
}

/// Sets up EL2 on this CPU for the host and enters the host at EL1.
fn enter_host_on_this_cpu(cpu: &'static PerCpu, ids: &CpuIds, entry: u64, arg0: u64) -> ! {
    // SAFETY: TPIDR_EL2 is EL2's own; it names this CPU's `PerCpu` for the trap handlers.
    unsafe { write_tpidr_el2(TpidrEl2::from_bits_retain(cpu as *const PerCpu as u64)) };
    let m = machine();
    // SAFETY: on `cpu` itself (TPIDR_EL2 above), with no other reference live.
    let partition = unsafe { cpu.partition() };
    cpu_setup::configure_for_host(ids, m.host_vtcr, m.host_vttbr, partition.host_counters());
    if let Some(cfg) = pmu_config() {
        partition.apply(cfg, &mut CpuPmu);
    }
    info!("cpu {} (MPIDR {:#x}) in EL2; host entry {entry:#x}", CPUS.index_of(cpu), read_mpidr_el1().bits());
    // SAFETY: EL2 is configured for the host on this CPU; the stack top is this CPU's own.
    unsafe { enter_host(entry, arg0, cpu.stack_top(), SPSR_EL1H_MASKED) }
}

/// A CPU the host turned on with CPU_ON, arriving through EL3 at `cpu_on_entry`.
#[unsafe(no_mangle)]
extern "C" fn cpu_on_main(cpu: &'static PerCpu) -> ! {
    let (entry, context) = cpu.on_entry.get();
    cpu.on_entry.release();
    enter_host_on_this_cpu(cpu, &cpu_setup::read_ids(), entry, context)
}

/// A CPU coming back from a power-down CPU_SUSPEND or SYSTEM_SUSPEND.
#[unsafe(no_mangle)]
extern "C" fn cpu_resume_main(cpu: &'static PerCpu) -> ! {
    let (entry, context) = cpu.resume_entry.get();
    enter_host_on_this_cpu(cpu, &cpu_setup::read_ids(), entry, context)
}
