// SPDX-License-Identifier: MIT OR Apache-2.0

//! `/dev/pmu-partition`, safely: one open descriptor (which holds at most one VM; closing it
//! destroys the VM) and its ioctls, each failing with the `std::io::Error` of its errno.

use crate::uapi::*;
use std::ffi::{CString, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Device {
    fd: OwnedFd,
}

impl Device {
    /// Opens [`DEVICE`].
    pub fn open() -> io::Result<Self> {
        Self::open_path(DEVICE)
    }

    pub fn open_path(path: &str) -> io::Result<Self> {
        let path = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a NUL-terminated path; the descriptor returned is ours alone.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// ioctl `request` with a raw argument, as userspace can pass anything.
    ///
    /// # Safety
    /// The kernel may write to `arg` as far as `request`'s encoded size: it must be writable that
    /// far, or an address the kernel refuses (then the call fails with EFAULT).
    pub unsafe fn ioctl_raw(&self, request: u32, arg: *mut c_void) -> io::Result<i32> {
        // The request is `unsigned long` in glibc, `int` in musl; the kernel takes 32 bits.
        // SAFETY: the caller's promise; the descriptor is open.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), request as _, arg) };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
    }

    /// ioctl `request` on `arg`, a structure of exactly the size `request` encodes.
    pub fn ioctl<T: zerocopy::IntoBytes + zerocopy::FromBytes>(&self, request: u32, arg: &mut T) -> io::Result<i32> {
        assert_eq!(size_of::<T>(), ((request >> 16) & 0x3fff) as usize, "ioctl {request:#x} on a wrong type");
        // SAFETY: `arg` is writable for the size the request encodes, and any bytes are a `T`.
        unsafe { self.ioctl_raw(request, (arg as *mut T).cast()) }
    }

    pub fn info(&self) -> io::Result<PmupInfo> {
        let mut info = PmupInfo::default();
        self.ioctl(PMUP_GET_INFO, &mut info)?;
        Ok(info)
    }

    pub fn create_vm(&self, memory_size: u64) -> io::Result<()> {
        self.ioctl(PMUP_CREATE_VM, &mut PmupCreateVm { memory_size, flags: 0 }).map(drop)
    }

    /// Copies `image` into the VM's memory at `offset`.
    pub fn load(&self, image: &[u8], offset: u64) -> io::Result<()> {
        let mut load = PmupLoad { src: image.as_ptr() as u64, size: image.len() as u64, offset };
        self.ioctl(PMUP_LOAD, &mut load).map(drop)
    }

    /// A vCPU starting at `entry` with `arg` in x1 and `counters` PMU counters; returns its index.
    pub fn create_vcpu(&self, entry: u64, arg: u64, counters: u32) -> io::Result<u32> {
        let mut vcpu = PmupCreateVcpu { entry, arg, counters, index: 0 };
        self.ioctl(PMUP_CREATE_VCPU, &mut vcpu)?;
        Ok(vcpu.index)
    }

    /// Runs vCPU `vcpu` on this CPU until its guest exits.
    pub fn run(&self, vcpu: u32) -> io::Result<PmupRun> {
        self.run_with(vcpu, 0)
    }

    /// PMUP_RUN with `flags` (PMUP_RUN_KEEP_COUNTERS).
    pub fn run_with(&self, vcpu: u32, flags: u32) -> io::Result<PmupRun> {
        let mut run = PmupRun { vcpu, flags, ..Default::default() };
        self.ioctl(PMUP_RUN, &mut run)?;
        Ok(run)
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An errno's name (`EINVAL`), for the names this device and its setup can answer.
pub fn errno_name(errno: i32) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::EROFS, "EROFS"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    ];
    NAMES.iter().find(|(e, _)| *e == errno).map_or_else(|| format!("errno {errno}"), |(_, n)| (*n).to_owned())
}

/// `EINVAL (Invalid argument)`: an error's errno name and its message.
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(errno) => {
            let message = text.split(" (os error").next().unwrap_or(&text);
            format!("{} ({message})", errno_name(errno))
        }
        None => format!("EIO ({text})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_by_name_and_message() {
        assert_eq!(describe(&io::Error::from_raw_os_error(libc::EINVAL)), "EINVAL (Invalid argument)");
        assert_eq!(describe(&io::Error::from_raw_os_error(libc::ENOTTY)), "ENOTTY (Inappropriate ioctl for device)");
        assert!(describe(&io::Error::from_raw_os_error(4095)).starts_with("errno 4095 ("));
    }

    #[test]
    fn a_missing_device_is_enoent() {
        let e = Device::open_path("/nonexistent/pmu-partition").err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn another_device_answers_enotty() {
        // /dev/null is no pmu-partition: its ioctls are ENOTTY, through the same wrapper.
        let dev = Device::open_path("/dev/null").unwrap();
        assert_eq!(dev.info().err().unwrap().raw_os_error(), Some(libc::ENOTTY));
    }
}
