// SPDX-License-Identifier: MIT OR Apache-2.0

//! Bringing EL2 up: the boot CPU's one-time set-up, and every CPU's way into the host.

use super::{CPUS, SPSR_EL1H_MASKED, cache, console, cpu_setup, el2_enable_mmu, enter_host, heap};
use crate::devicetree::{self, Fixups};
use crate::el2_mmu::{self, ImageLayout};
use crate::host_config::CpuIds;
use crate::host_image::{self, HEADER_BYTES};
use crate::host_stage2;
use crate::logger;
use crate::percpu::{PerCpu, STACK_SIZE};
use aarch64_paging::{idmap::IdMap, paging::Stage2};
use arm_sysregs::el1::accessors::read_mpidr_el1;
use arm_sysregs::el2::accessors::write_tpidr_el2;
use arm_sysregs::el2::registers::TpidrEl2;
use core::sync::atomic::{AtomicU64, Ordering};
use log::{error, info};
use platform::{Current, Platform, Region};
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

/// Root of the host's stage-2 and its VTCR_EL2, shared by every CPU.
struct HostStage2 {
    vttbr: u64,
    vtcr: u64,
    _map: IdMap<Stage2>,
}
// SAFETY: the map is only modified under the boot CPU's exclusive set-up; afterwards it is
// only read (its root address) from any CPU.
unsafe impl Send for HostStage2 {}
unsafe impl Sync for HostStage2 {}
static HOST_STAGE2: Once<HostStage2> = Once::new();

struct El2Map(#[allow(dead_code)] IdMap<aarch64_paging::paging::El2>);
// SAFETY: as for HostStage2.
unsafe impl Send for El2Map {}
unsafe impl Sync for El2Map {}
static EL2_MAP: Once<El2Map> = Once::new();

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; Current::MAX_CPUS]);
static mut STACKS: Stacks = Stacks([[0; STACK_SIZE]; Current::MAX_CPUS]);

fn fail(msg: core::fmt::Arguments<'_>) -> ! {
    error!("{msg}");
    error!("cannot boot the host; powering off");
    let _ = smccc::psci::system_off::<smccc::Smc>();
    panic!("SYSTEM_OFF returned");
}

/// Entry from `_start` on the boot CPU, MMU off, on the boot stack.
#[unsafe(no_mangle)]
extern "C" fn boot_cpu_main(x0: u64, _x1: u64, _x2: u64, _x3: u64) -> ! {
    console::init(logger::BUILD_DEFAULT);
    heap::init();
    let ids = cpu_setup::read_ids();

    // The device tree: in x0 when QEMU boots us as a kernel, at the platform's address when
    // TF-A does (its BL31 passes 0 in x0 on QEMU).
    let dt_base = [x0, Current::DT_BASE]
        .into_iter()
        .find(|&a| a != 0 && a % 8 == 0 && is_fdt(a))
        .unwrap_or_else(|| fail(format_args!("no device tree at x0={x0:#x} or {:#x}", Current::DT_BASE)));
    // SAFETY: is_fdt checked the header's magic; with the MMU off all memory is readable, and
    // the blob is not modified until the fix-up copies it.
    let dtb = unsafe { core::slice::from_raw_parts(dt_base as *const u8, fdt_size(dt_base)) };
    let ram = devicetree::memory_regions(dtb)
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| alloc::vec![Current::DEFAULT_RAM]);

    // EL2's own page tables, then the MMU.
    let firmware = Current::firmware_region();
    let image = ImageLayout {
        firmware,
        text_end: &raw const __text_end as u64,
        rodata_end: &raw const __rodata_end as u64,
    };
    debug_assert_eq!(&raw const __fw_start as u64, firmware.base);
    let devices = [Region::new(Current::UART_BASE, 0x1000)];
    let mut el2_map = el2_mmu::build(&ram, &image, &devices)
        .unwrap_or_else(|e| fail(format_args!("EL2 page tables: {e:?}")));
    let config = [
        el2_mmu::MAIR,
        el2_mmu::tcr(ids.parange()),
        el2_map.root_address().0 as u64,
        el2_mmu::SCTLR,
    ];
    // SAFETY: the map covers everything EL2 touches: its image, stacks, heap, RAM and UART.
    unsafe { el2_enable_mmu(config[0], config[1], config[2], config[3]) };
    el2_map.mark_active();
    EL2_MAP.call_once(|| El2Map(el2_map));
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
        .unwrap_or_else(|e| fail(format_args!("no valid host bundle at {:#x}: {e:?}", Current::HOST_BUNDLE_BASE)));
    log::set_max_level(logger::level_for(host.log_level));
    info!("pmu-partition EL2 firmware {} on {}", env!("CARGO_PKG_VERSION"), Current::NAME);
    info!("RAM {:x?}; EL2 owns {:#x}..{:#x}", ram, firmware.base, firmware.end());

    // The host's stage-2: RAM and devices, without EL2.
    let mut s2 = host_stage2::build(&ram, Current::DEVICE_REGIONS, firmware)
        .unwrap_or_else(|e| fail(format_args!("host stage-2: {e:?}")));
    s2.mark_active();
    HOST_STAGE2.call_once(|| HostStage2 {
        vttbr: s2.root_address().0 as u64,
        vtcr: host_stage2::vtcr(ids.parange()),
        _map: s2,
    });

    // The host's device tree, rewritten in place.
    let fixups = Fixups { firmware: Some(firmware), initrd: host.initrd, bootargs: host.cmdline };
    let new_dtb = devicetree::fix_up(dtb, &fixups, Current::DT_MAX_SIZE as usize)
        .unwrap_or_else(|e| fail(format_args!("device tree fix-up: {e:?}")));
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
    // SAFETY: only the boot CPU runs; no other CPU can be using CPUS or the stacks yet.
    unsafe {
        let stacks = &raw mut STACKS;
        let cpus = &raw const CPUS as *mut crate::percpu::CpuTable;
        for cpu in (*cpus).iter_mut() {
            cpu.stack_top = (&raw mut (*stacks).0[cpu.index]) as u64 + STACK_SIZE as u64;
        }
    }
    cache::clean_object(&CPUS);

    let Some(me) = CPUS.by_mpidr(read_mpidr_el1().bits()) else {
        fail(format_args!("boot CPU MPIDR {:#x} unknown to the platform", read_mpidr_el1().bits()));
    };
    info!("host: kernel {:#x} ({} KiB), initrd {:x?}, dtb {dt_base:#x}", host.entry, host.kernel.size / 1024, host.initrd);
    enter_host_on_this_cpu(me, &ids, host.entry, dt_base)
}

fn is_fdt(addr: u64) -> bool {
    // SAFETY: called with the MMU off, where every address is accessible; DT_BASE and the
    // previous stage's x0 are RAM addresses.
    let magic = unsafe { core::ptr::read_volatile(addr as *const u32) };
    u32::from_be(magic) == 0xd00d_feed
}

fn fdt_size(addr: u64) -> usize {
    // SAFETY: as in is_fdt; the header is at least 8 bytes.
    let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 8) };
    devicetree::blob_size(header).unwrap_or(0).min(Current::DT_MAX_SIZE as usize)
}

/// Sets up EL2 on this CPU for the host and enters the host at EL1.
fn enter_host_on_this_cpu(cpu: &'static PerCpu, ids: &CpuIds, entry: u64, arg0: u64) -> ! {
    // SAFETY: TPIDR_EL2 is EL2's own; it names this CPU's `PerCpu` for the trap handlers.
    unsafe { write_tpidr_el2(TpidrEl2::from_bits_retain(cpu as *const PerCpu as u64)) };
    let s2 = HOST_STAGE2.get().expect("host stage-2 is built before any CPU enters the host");
    cpu_setup::configure_for_host(ids, s2.vtcr, s2.vttbr);
    info!("cpu {} (MPIDR {:#x}) in EL2; host entry {entry:#x}", cpu.index, read_mpidr_el1().bits());
    // SAFETY: EL2 is configured for the host on this CPU; the stack top is this CPU's own.
    unsafe { enter_host(entry, arg0, cpu.stack_top, SPSR_EL1H_MASKED) }
}

/// A CPU the host turned on with CPU_ON, arriving through EL3 at `cpu_on_entry`.
#[unsafe(no_mangle)]
extern "C" fn cpu_on_main(cpu: &'static PerCpu) -> ! {
    let (entry, context) = cpu.host_entry.get();
    cpu.host_entry.release();
    enter_host_on_this_cpu(cpu, &cpu_setup::read_ids(), entry, context)
}

/// A CPU coming back from a power-down CPU_SUSPEND or SYSTEM_SUSPEND.
#[unsafe(no_mangle)]
extern "C" fn cpu_resume_main(cpu: &'static PerCpu) -> ! {
    let (entry, context) = cpu.host_entry.get();
    enter_host_on_this_cpu(cpu, &cpu_setup::read_ids(), entry, context)
}
