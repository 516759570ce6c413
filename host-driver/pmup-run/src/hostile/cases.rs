// SPDX-License-Identifier: MIT OR Apache-2.0

//! `pmup-hostile ioctls GUEST`: every refusal the uapi header documents, one case a line.

use super::{End, Report, end_name, run_to_end, vm_with_guest};
use crate::device::Device;
use crate::uapi::*;
use libc::{EEXIST, EFAULT, EINVAL, ENOSPC, ENOTTY, ENXIO, EPERM};
use std::ffi::c_void;
use std::io;

/// Memory for the cases' VMs: the guest's size, in whole granules, and at least 2 MiB.
pub fn vm_mib(guest: &[u8]) -> u64 {
    (guest.len() as u64).div_ceil(PMUP_MEMORY_ALIGN).max(1) * (PMUP_MEMORY_ALIGN >> 20)
}

pub fn ioctls(report: &mut Report, guest: &[u8]) {
    let info = match Device::open().and_then(|d| d.info()) {
        Ok(info) => info,
        Err(e) => return report.failed("get-info", e),
    };
    let consistent = info.max_vcpus == PMUP_MAX_VCPUS
        && info.max_memory == PMUP_MAX_MEMORY
        && info.guest_ram_base == PMUP_GUEST_RAM_BASE;
    report.case("get-info", consistent, "header-constants", &format!("{info:?}").replace(' ', ""));
    unknown_ioctls(report);
    before_a_vm(report);
    bad_pointers(report, guest);
    create_vm(report, guest);
    load(report, guest);
    create_vcpu(report, guest, &info);
    run(report, guest);
    super::concurrency::hammer(report, guest);
}

/// A buffer larger than any encoded size, so that only the number is wrong.
fn raw(dev: &Device, request: u32) -> io::Result<i32> {
    let mut buffer = [0u64; 64];
    // SAFETY: 512 bytes, more than any request below encodes (and zero: a valid argument).
    unsafe { dev.ioctl_raw(request, buffer.as_mut_ptr().cast()) }
}

fn unknown_ioctls(report: &mut Report) {
    let Some(dev) = open(report, "unknown-ioctls") else { return };
    let rw = IOC_READ | IOC_WRITE;
    let run_size = size_of::<PmupRun>();
    for (case, request) in [
        ("unknown-type", ioc(rw, PMUP_IOCTL_BASE + 1, 0x04, run_size)),
        ("unknown-type-kvm", ioc(rw, 0xAE, 0x04, run_size)),
        ("unknown-nr", ioc(rw, PMUP_IOCTL_BASE, 0x05, run_size)),
        ("unknown-nr-ff", ioc(rw, PMUP_IOCTL_BASE, 0xff, run_size)),
        ("wrong-size-run", ioc(rw, PMUP_IOCTL_BASE, 0x04, run_size - 8)),
        ("wrong-size-info", ioc(IOC_READ, PMUP_IOCTL_BASE, 0x00, size_of::<PmupInfo>() + 8)),
        ("wrong-size-create-vm", ioc(IOC_WRITE, PMUP_IOCTL_BASE, 0x01, 0)),
        ("wrong-direction-run", ioc(IOC_WRITE, PMUP_IOCTL_BASE, 0x04, run_size)),
        ("wrong-direction-create-vm", ioc(IOC_NONE, PMUP_IOCTL_BASE, 0x01, size_of::<PmupCreateVm>())),
    ] {
        report.expect(case, Some(ENOTTY), &raw(&dev, request));
    }
    // Nothing of that made a VM.
    report.expect("unknown-ioctls-no-vm", Some(ENXIO), &dev.run(0));
}

fn before_a_vm(report: &mut Report) {
    let Some(dev) = open(report, "no-vm") else { return };
    report.expect("no-vm-load", Some(ENXIO), &dev.load(&[0; 64], 0));
    report.expect("no-vm-create-vcpu", Some(ENXIO), &dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0));
    report.expect("no-vm-run", Some(ENXIO), &dev.run(0));
    report.expect("no-vm-get-info", None, &dev.info());
}

fn open(report: &mut Report, case: &str) -> Option<Device> {
    Device::open().map_err(|e| report.failed(&format!("{case}-open"), e)).ok()
}

/// A page mapped with `prot`, for the life of the process.
fn page(prot: i32) -> *mut c_void {
    // SAFETY: a fresh anonymous mapping; nothing else refers to it.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    assert_ne!(p, libc::MAP_FAILED, "mmap");
    p
}

/// Addresses the kernel must refuse to read from or write to.
fn bad_addresses() -> [(&'static str, u64); 3] {
    [("null", 0), ("unmapped", page(libc::PROT_NONE) as u64), ("kernel", 0xffff_8000_0000_0000)]
}

fn bad_pointers(report: &mut Report, guest: &[u8]) {
    let mib = vm_mib(guest);
    let Some(fresh) = open(report, "bad-pointer") else { return };
    let with_vm = match vm_with_guest(guest, mib) {
        Ok(d) => d,
        Err(e) => return report.failed("bad-pointer-vm", e),
    };
    for (what, address) in bad_addresses() {
        let arg = address as *mut c_void;
        // SAFETY (every call below): an address the kernel must refuse.
        let r = unsafe { fresh.ioctl_raw(PMUP_GET_INFO, arg) };
        report.expect(&format!("get-info-{what}"), Some(EFAULT), &r);
        let r = unsafe { fresh.ioctl_raw(PMUP_CREATE_VM, arg) };
        report.expect(&format!("create-vm-{what}"), Some(EFAULT), &r);
        let r = unsafe { with_vm.ioctl_raw(PMUP_LOAD, arg) };
        report.expect(&format!("load-{what}"), Some(EFAULT), &r);
        let r = unsafe { with_vm.ioctl_raw(PMUP_CREATE_VCPU, arg) };
        report.expect(&format!("create-vcpu-{what}"), Some(EFAULT), &r);
        let r = unsafe { with_vm.ioctl_raw(PMUP_RUN, arg) };
        report.expect(&format!("run-{what}"), Some(EFAULT), &r);
        let mut load = PmupLoad { src: address, size: 4096, offset: 0 };
        report.expect(&format!("load-src-{what}"), Some(EFAULT), &with_vm.ioctl(PMUP_LOAD, &mut load));
    }
    // Out-fields the kernel cannot write: refused, and (CREATE_VCPU) with nothing changed.
    let read_only = page(libc::PROT_READ);
    // SAFETY: a page the kernel can read (zeroes: valid arguments) but must not write.
    let r = unsafe { fresh.ioctl_raw(PMUP_GET_INFO, read_only) };
    report.expect("get-info-read-only", Some(EFAULT), &r);
    let vcpu = PmupCreateVcpu { entry: PMUP_GUEST_RAM_BASE, ..Default::default() };
    // SAFETY: as above, the page holds a valid PmupCreateVcpu (written before it became read-only).
    let r = unsafe {
        libc::mprotect(read_only, 4096, libc::PROT_READ | libc::PROT_WRITE);
        read_only.cast::<PmupCreateVcpu>().write(vcpu);
        libc::mprotect(read_only, 4096, libc::PROT_READ);
        with_vm.ioctl_raw(PMUP_CREATE_VCPU, read_only)
    };
    report.expect("create-vcpu-read-only", Some(EFAULT), &r);
    // None of the refused CREATE_VCPUs took a slot: all PMUP_MAX_VCPUS still fit.
    let created: io::Result<Vec<u32>> = (0..PMUP_MAX_VCPUS).map(|_| with_vm.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0)).collect();
    report.expect("bad-pointer-nothing-changed", None, &created);
    // And the VM runs.
    let end = created.and_then(|v| run_to_end(&with_vm, v[0]));
    report.case("bad-pointer-vm-runs", matches!(end, Ok(End::Done(_))), "ok", &end_name(&end));
}

fn create_vm(report: &mut Report, guest: &[u8]) {
    let Some(dev) = open(report, "create-vm") else { return };
    let align = PMUP_MEMORY_ALIGN;
    for (case, memory_size, flags) in [
        ("create-vm-size-0", 0, 0),
        ("create-vm-size-1m", 1 << 20, 0),
        ("create-vm-size-3m", 3 << 20, 0),
        ("create-vm-size-2m-plus-4k", align + 4096, 0),
        ("create-vm-above-max", PMUP_MAX_MEMORY + align, 0),
        ("create-vm-aligned-huge", !(align - 1), 0),
        ("create-vm-size-max", u64::MAX, 0),
        ("create-vm-flags-1", align, 1),
        ("create-vm-flags-top", align, 1 << 63),
    ] {
        let mut vm = PmupCreateVm { memory_size, flags };
        report.expect(case, Some(EINVAL), &dev.ioctl(PMUP_CREATE_VM, &mut vm));
    }
    // The refusals changed nothing: this descriptor has no VM and takes one now.
    report.expect("create-vm-refusals-left-no-vm", Some(ENXIO), &dev.run(0));
    report.expect("create-vm", None, &dev.create_vm(vm_mib(guest) << 20));
    report.expect("create-vm-second", Some(EEXIST), &dev.create_vm(vm_mib(guest) << 20));
    report.expect("create-vm-second-max", Some(EEXIST), &dev.create_vm(PMUP_MAX_MEMORY));
    // The first VM still works.
    let end = dev.load(guest, 0).and_then(|()| dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0)).and_then(|v| run_to_end(&dev, v));
    report.case("create-vm-first-still-runs", matches!(end, Ok(End::Done(_))), "ok", &end_name(&end));
}

fn load(report: &mut Report, guest: &[u8]) {
    let mib = vm_mib(guest);
    let memory = mib << 20;
    let dev = match vm_with_guest(guest, mib) {
        Ok(d) => d,
        Err(e) => return report.failed("load-vm", e),
    };
    let page = [0u8; 8192];
    let src = page.as_ptr() as u64;
    for (case, size, offset) in [
        ("load-size-0", 0, 0),
        ("load-at-end", 1, memory),
        ("load-across-end", 8192, memory - 4096),
        ("load-far-beyond", 4096, 1 << 40),
        ("load-offset-overflow", 4096, u64::MAX - 10),
        ("load-size-overflow", u64::MAX, 4096),
        ("load-sum-wraps-to-0", 1 << 63, 1 << 63),
        ("load-size-beyond-memory", memory + 4096, 0),
    ] {
        report.expect(case, Some(EINVAL), &dev.ioctl(PMUP_LOAD, &mut PmupLoad { src, size, offset }));
    }
    report.expect("load-last-page", None, &dev.ioctl(PMUP_LOAD, &mut PmupLoad { src, size: 4096, offset: memory - 4096 }));
}

fn create_vcpu(report: &mut Report, guest: &[u8], info: &PmupInfo) {
    let mib = vm_mib(guest);
    let dev = match vm_with_guest(guest, mib) {
        Ok(d) => d,
        Err(e) => return report.failed("create-vcpu-vm", e),
    };
    let base = PMUP_GUEST_RAM_BASE;
    for (case, entry, counters) in [
        ("create-vcpu-entry-0", 0, 0),
        ("create-vcpu-entry-below", base - 4, 0),
        ("create-vcpu-entry-at-end", base + (mib << 20), 0),
        ("create-vcpu-entry-max", !3, 0),
        ("create-vcpu-entry-unaligned-2", base + 2, 0),
        ("create-vcpu-entry-unaligned-1", base + 1, 0),
        ("create-vcpu-counters-above-max", base, info.max_counters + 1),
        ("create-vcpu-counters-u32-max", base, u32::MAX),
    ] {
        report.expect(case, Some(EINVAL), &dev.create_vcpu(entry, 0, counters));
    }
    let mut indices = Vec::new();
    for i in 0..PMUP_MAX_VCPUS {
        let counters = if i == 0 { info.max_counters } else { 0 };
        let r = dev.create_vcpu(base + (mib << 20) - 4, u64::MAX, counters);
        report.expect(&format!("create-vcpu-{i}"), None, &r);
        indices.extend(r.ok());
    }
    indices.sort();
    indices.dedup();
    let all = indices.len() == PMUP_MAX_VCPUS as usize && indices.iter().all(|&i| i < PMUP_MAX_VCPUS);
    report.case("create-vcpu-indices", all, "distinct-below-max", &format!("{indices:?}").replace(' ', ""));
    report.expect("create-vcpu-one-too-many", Some(ENOSPC), &dev.create_vcpu(base, 0, 0));
}

fn run(report: &mut Report, guest: &[u8]) {
    let dev = match vm_with_guest(guest, vm_mib(guest)) {
        Ok(d) => d,
        Err(e) => return report.failed("run-vm", e),
    };
    let vcpu = match dev.create_vcpu(PMUP_GUEST_RAM_BASE, 0, 0) {
        Ok(v) => v,
        Err(e) => return report.failed("run-vcpu", e),
    };
    let unused = (0..PMUP_MAX_VCPUS).find(|&i| i != vcpu).unwrap_or(1);
    for (case, run) in [
        ("run-vcpu-max", PmupRun { vcpu: PMUP_MAX_VCPUS, ..Default::default() }),
        ("run-vcpu-u32-max", PmupRun { vcpu: u32::MAX, ..Default::default() }),
        ("run-vcpu-not-created", PmupRun { vcpu: unused, ..Default::default() }),
        ("run-flags", PmupRun { vcpu, flags: 2, ..Default::default() }),
        ("run-flags-top", PmupRun { vcpu, flags: 1 << 31, ..Default::default() }),
        ("run-pad", PmupRun { vcpu, pad: 1, ..Default::default() }),
    ] {
        report.expect(case, Some(EINVAL), &dev.ioctl(PMUP_RUN, &mut { run }));
    }
    // The refused runs did not run it: loading is still allowed.
    report.expect("run-refusals-load-still-allowed", None, &dev.load(guest, 0));
    let end = run_to_end(&dev, vcpu);
    report.case("run-to-done", matches!(end, Ok(End::Done(_))), "ok", &end_name(&end));
    report.expect("run-after-done", Some(EPERM), &dev.run(vcpu));
    report.expect("load-after-run", Some(EPERM), &dev.load(guest, 0));
}
