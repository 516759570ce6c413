// SPDX-License-Identifier: MIT OR Apache-2.0

//! The host boot bundle: one file, placed in memory by the platform at a fixed, 2 MiB-aligned
//! address, that tells the firmware which host kernel to run and how.
//!
//! ```text
//! base + 0                 header page (HostBundleHeader, 4 KiB)
//! base + kernel_offset     kernel image, kernel_size bytes in the file; the kernel may use
//!                          kernel_mem_size bytes from there once running (BSS, page tables)
//! base + initrd_offset     optional initrd, initrd_size bytes
//! ```
//!
//! The kernel offset is a multiple of 2 MiB because the arm64 boot protocol wants the Image at a
//! 2 MiB-aligned address. The firmware reads the header from memory that anyone who built the
//! bundle controls, so [`HostBundleHeader::parse`] checks every field before anything else uses it.
//! All fields are little-endian whatever the machine that reads them, so the host tool can build
//! bundles on any machine.

use core::fmt;
use core::ops::Range;

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// First bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"PMUPHOST";
/// The header layout this crate reads and writes.
pub const VERSION: u32 = 1;
/// Size of the header page; the kernel and initrd start after it.
pub const HEADER_SIZE: usize = 4096;
/// Alignment of `kernel_offset`, and of the bundle base the platform loads it at.
pub const KERNEL_ALIGN: u64 = 2 << 20;
/// Alignment of `initrd_offset`.
pub const INITRD_ALIGN: u64 = 4 << 10;
/// Bytes kept for the command line, including its terminating NUL.
pub const CMDLINE_SIZE: usize = 2048;

const FIXED_FIELDS_SIZE: usize = 64;
const RESERVED_SIZE: usize = HEADER_SIZE - FIXED_FIELDS_SIZE - CMDLINE_SIZE;

/// The header page at the start of a bundle. Offsets are from the bundle base.
#[derive(Clone, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct HostBundleHeader {
    magic: [u8; 8],
    version: U32,
    header_size: U32,
    kernel_offset: U64,
    /// Bytes of the kernel image in the bundle.
    kernel_size: U64,
    /// Bytes the kernel needs from its load address: the arm64 Image header's `image_size`, or
    /// `kernel_size` for a payload that uses no memory past its end.
    kernel_mem_size: U64,
    /// 0 when there is no initrd.
    initrd_offset: U64,
    initrd_size: U64,
    el2_log_level: U32,
    /// No flag is defined: must be 0, so that a future flag is never silently ignored.
    flags: U32,
    /// NUL-terminated UTF-8; becomes /chosen/bootargs. Empty keeps the device tree's bootargs.
    cmdline: [u8; CMDLINE_SIZE],
    /// Must be zero, so later header versions can give it a meaning.
    reserved: [u8; RESERVED_SIZE],
}

const _: () = assert!(size_of::<HostBundleHeader>() == HEADER_SIZE);
// A non-zero, 4 KiB-aligned initrd offset can then never point into the header page.
const _: () = assert!(INITRD_ALIGN >= HEADER_SIZE as u64);

/// How much the firmware logs, as chosen by whoever built the bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Whatever the firmware was built with.
    BuildDefault = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    /// Decodes the header's `el2_log_level`.
    pub const fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::BuildDefault,
            1 => Self::Error,
            2 => Self::Warn,
            3 => Self::Info,
            4 => Self::Debug,
            5 => Self::Trace,
            _ => return None,
        })
    }
}

/// Why a bundle header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BundleError {
    /// Fewer than [`HEADER_SIZE`] bytes were given.
    TooShort,
    /// The first 8 bytes are not [`MAGIC`]: no bundle was loaded, or at the wrong address.
    BadMagic,
    /// A header version this firmware does not know.
    UnsupportedVersion(u32),
    /// `header_size` is not [`HEADER_SIZE`].
    BadHeaderSize(u32),
    /// `flags` has bits set that no version defines.
    UnknownFlags(u32),
    /// The reserved tail of the header page is not zero.
    ReservedNotZero,
    /// `el2_log_level` is above 5.
    BadLogLevel(u32),
    /// `kernel_offset` is not a multiple of 2 MiB.
    KernelMisaligned,
    /// `kernel_offset` points into the header page.
    KernelOverlapsHeader,
    /// `kernel_size` is 0.
    EmptyKernel,
    /// `kernel_mem_size` is smaller than `kernel_size`.
    KernelMemSizeTooSmall,
    /// An offset plus its size does not fit in 64 bits.
    SizeOverflow,
    /// Exactly one of `initrd_offset` and `initrd_size` is 0.
    InitrdInconsistent,
    /// `initrd_offset` is not a multiple of 4 KiB.
    InitrdMisaligned,
    /// The initrd overlaps the memory the kernel uses (`kernel_mem_size` from `kernel_offset`).
    InitrdOverlapsKernel,
    /// No NUL in the command line field.
    CmdlineNotTerminated,
    /// The command line is not UTF-8.
    CmdlineNotUtf8,
    /// Building: the command line does not fit, with its NUL, in [`CMDLINE_SIZE`] bytes.
    CmdlineTooLong,
    /// Building: the command line contains a NUL, which would cut it short.
    CmdlineContainsNul,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(f, "bundle header shorter than {HEADER_SIZE} bytes"),
            Self::BadMagic => write!(f, "bundle magic is not \"PMUPHOST\""),
            Self::UnsupportedVersion(v) => write!(f, "unsupported bundle version {v}"),
            Self::BadHeaderSize(s) => write!(f, "bundle header_size {s}, expected {HEADER_SIZE}"),
            Self::UnknownFlags(flags) => write!(f, "unknown bundle flags {flags:#x}"),
            Self::ReservedNotZero => write!(f, "reserved bytes of the bundle header are not zero"),
            Self::BadLogLevel(l) => write!(f, "EL2 log level {l} is above 5"),
            Self::KernelMisaligned => write!(f, "kernel offset is not a multiple of 2 MiB"),
            Self::KernelOverlapsHeader => write!(f, "kernel offset is inside the header page"),
            Self::EmptyKernel => write!(f, "kernel size is 0"),
            Self::KernelMemSizeTooSmall => write!(f, "kernel memory size is below its file size"),
            Self::SizeOverflow => write!(f, "bundle offset plus size overflows"),
            Self::InitrdInconsistent => write!(f, "initrd offset and size must both be 0 or not"),
            Self::InitrdMisaligned => write!(f, "initrd offset is not a multiple of 4 KiB"),
            Self::InitrdOverlapsKernel => write!(f, "initrd overlaps the kernel's memory"),
            Self::CmdlineNotTerminated => write!(f, "command line has no terminating NUL"),
            Self::CmdlineNotUtf8 => write!(f, "command line is not UTF-8"),
            Self::CmdlineTooLong => {
                write!(f, "command line longer than {} bytes", CMDLINE_SIZE - 1)
            }
            Self::CmdlineContainsNul => write!(f, "command line contains a NUL"),
        }
    }
}

impl core::error::Error for BundleError {}

impl HostBundleHeader {
    /// Checks the header at the start of `bytes` and returns it. Only the first [`HEADER_SIZE`]
    /// bytes are read; whether the kernel and initrd fit in the memory the platform gave the
    /// bundle is for the caller to check, with [`HostBundleHeader::total_size`].
    pub fn parse(bytes: &[u8]) -> Result<&Self, BundleError> {
        let (header, _) = Self::ref_from_prefix(bytes).map_err(|_| BundleError::TooShort)?;
        header.validate()?;
        Ok(header)
    }

    /// Builds the header for a bundle: the kernel at 2 MiB, and the initrd, if `initrd_size` is
    /// not 0, at the first 2 MiB boundary after the kernel's memory.
    pub fn new(
        kernel_size: u64,
        kernel_mem_size: u64,
        initrd_size: u64,
        cmdline: &str,
        log_level: LogLevel,
    ) -> Result<Self, BundleError> {
        if cmdline.len() >= CMDLINE_SIZE {
            return Err(BundleError::CmdlineTooLong);
        }
        if cmdline.contains('\0') {
            return Err(BundleError::CmdlineContainsNul);
        }
        let kernel_offset = KERNEL_ALIGN;
        let initrd_offset = if initrd_size == 0 {
            0
        } else {
            kernel_offset
                .checked_add(kernel_mem_size)
                .and_then(|end| end.checked_next_multiple_of(KERNEL_ALIGN))
                .ok_or(BundleError::SizeOverflow)?
        };

        let mut header = Self::new_zeroed();
        header.magic = MAGIC;
        header.version = U32::new(VERSION);
        header.header_size = U32::new(HEADER_SIZE as u32);
        header.kernel_offset = U64::new(kernel_offset);
        header.kernel_size = U64::new(kernel_size);
        header.kernel_mem_size = U64::new(kernel_mem_size);
        header.initrd_offset = U64::new(initrd_offset);
        header.initrd_size = U64::new(initrd_size);
        header.el2_log_level = U32::new(log_level as u32);
        header.cmdline[..cmdline.len()].copy_from_slice(cmdline.as_bytes());
        header.validate()?;
        Ok(header)
    }

    fn validate(&self) -> Result<(), BundleError> {
        if self.magic != MAGIC {
            return Err(BundleError::BadMagic);
        }
        if self.version.get() != VERSION {
            return Err(BundleError::UnsupportedVersion(self.version.get()));
        }
        if self.header_size.get() as usize != HEADER_SIZE {
            return Err(BundleError::BadHeaderSize(self.header_size.get()));
        }
        if self.flags.get() != 0 {
            return Err(BundleError::UnknownFlags(self.flags.get()));
        }
        if self.reserved.iter().any(|&b| b != 0) {
            return Err(BundleError::ReservedNotZero);
        }
        if LogLevel::from_u32(self.el2_log_level.get()).is_none() {
            return Err(BundleError::BadLogLevel(self.el2_log_level.get()));
        }
        self.validate_layout()?;
        self.checked_cmdline()?;
        Ok(())
    }

    fn validate_layout(&self) -> Result<(), BundleError> {
        let header_end = HEADER_SIZE as u64;
        let kernel_offset = self.kernel_offset.get();
        let kernel_size = self.kernel_size.get();
        let kernel_mem_size = self.kernel_mem_size.get();
        if !kernel_offset.is_multiple_of(KERNEL_ALIGN) {
            return Err(BundleError::KernelMisaligned);
        }
        if kernel_offset < header_end {
            return Err(BundleError::KernelOverlapsHeader);
        }
        if kernel_size == 0 {
            return Err(BundleError::EmptyKernel);
        }
        if kernel_mem_size < kernel_size {
            return Err(BundleError::KernelMemSizeTooSmall);
        }
        let kernel_end = kernel_offset
            .checked_add(kernel_mem_size)
            .ok_or(BundleError::SizeOverflow)?;

        let initrd_offset = self.initrd_offset.get();
        let initrd_size = self.initrd_size.get();
        match (initrd_offset, initrd_size) {
            (0, 0) => return Ok(()),
            (0, _) | (_, 0) => return Err(BundleError::InitrdInconsistent),
            _ => {}
        }
        if !initrd_offset.is_multiple_of(INITRD_ALIGN) {
            return Err(BundleError::InitrdMisaligned);
        }
        let initrd_end = initrd_offset
            .checked_add(initrd_size)
            .ok_or(BundleError::SizeOverflow)?;
        if initrd_offset < kernel_end && kernel_offset < initrd_end {
            return Err(BundleError::InitrdOverlapsKernel);
        }
        Ok(())
    }

    fn checked_cmdline(&self) -> Result<&str, BundleError> {
        let len = self
            .cmdline
            .iter()
            .position(|&b| b == 0)
            .ok_or(BundleError::CmdlineNotTerminated)?;
        core::str::from_utf8(&self.cmdline[..len]).map_err(|_| BundleError::CmdlineNotUtf8)
    }

    /// The command line for /chosen/bootargs; empty means keep the device tree's.
    ///
    /// Also empty for a header that did not come from [`HostBundleHeader::parse`] or
    /// [`HostBundleHeader::new`] and has no valid command line.
    pub fn cmdline_str(&self) -> &str {
        self.checked_cmdline().unwrap_or("")
    }

    /// The firmware's log level for this boot.
    pub fn log_level(&self) -> LogLevel {
        LogLevel::from_u32(self.el2_log_level.get()).unwrap_or(LogLevel::BuildDefault)
    }

    /// Offset of the kernel image from the bundle base (a multiple of 2 MiB).
    pub fn kernel_offset(&self) -> u64 {
        self.kernel_offset.get()
    }

    /// Bytes of the kernel image in the bundle.
    pub fn kernel_size(&self) -> u64 {
        self.kernel_size.get()
    }

    /// Bytes the kernel uses from its load address once running.
    pub fn kernel_mem_size(&self) -> u64 {
        self.kernel_mem_size.get()
    }

    /// Offset of the initrd from the bundle base; 0 when there is none.
    pub fn initrd_offset(&self) -> u64 {
        self.initrd_offset.get()
    }

    /// Bytes of the initrd; 0 when there is none.
    pub fn initrd_size(&self) -> u64 {
        self.initrd_size.get()
    }

    /// The memory the kernel occupies once running, relative to the bundle base. The bytes
    /// from `kernel_offset + kernel_size` to its end are not in the file: they may hold anything.
    pub fn kernel_mem_range(&self) -> Range<u64> {
        let start = self.kernel_offset.get();
        start..start.saturating_add(self.kernel_mem_size.get())
    }

    /// The initrd, relative to the bundle base, if there is one.
    pub fn initrd_range(&self) -> Option<Range<u64>> {
        let start = self.initrd_offset.get();
        (start != 0).then(|| start..start.saturating_add(self.initrd_size.get()))
    }

    /// Bytes from the bundle base to the end of whatever lies furthest: the kernel's memory or
    /// the initrd. The platform must reserve this much at the base, and keep it from the host's
    /// other uses until the kernel is running.
    pub fn total_size(&self) -> u64 {
        let kernel_end = self.kernel_mem_range().end;
        let initrd_end = self.initrd_range().map_or(0, |r| r.end);
        kernel_end.max(initrd_end).max(HEADER_SIZE as u64)
    }
}

impl fmt::Debug for HostBundleHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostBundleHeader")
            .field("version", &self.version.get())
            .field("kernel_offset", &self.kernel_offset.get())
            .field("kernel_size", &self.kernel_size.get())
            .field("kernel_mem_size", &self.kernel_mem_size.get())
            .field("initrd_offset", &self.initrd_offset.get())
            .field("initrd_size", &self.initrd_size.get())
            .field("el2_log_level", &self.el2_log_level.get())
            .field("flags", &self.flags.get())
            .field("cmdline", &self.cmdline_str())
            .finish_non_exhaustive()
    }
}

/// The memory an arm64 Linux `Image` needs from its load address, read from its header
/// (`image_size`, a little-endian u64 at byte 16), for [`HostBundleHeader::new`]'s
/// `kernel_mem_size`.
///
/// `None` if `image` does not start with an arm64 Image header (magic "ARM\x64" at byte 56), if
/// `image_size` is 0 (kernels before 3.17 do not record it), or if `text_offset` (byte 8) is not 0
/// (kernels before 5.8 want to be loaded that far above a 2 MiB boundary, which this layout does not
/// do).
pub fn arm64_image_mem_size(image: &[u8]) -> Option<u64> {
    let le64 = |at: usize| Some(u64::from_le_bytes(image.get(at..at + 8)?.try_into().ok()?));
    if image.get(56..60)? != b"ARM\x64" || le64(8)? != 0 {
        return None;
    }
    le64(16).filter(|&size| size != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    const MIB: u64 = 1 << 20;

    fn valid() -> HostBundleHeader {
        HostBundleHeader::new(
            20 * MIB + 5,
            30 * MIB,
            8 * MIB + 7,
            "console=ttyAMA0",
            LogLevel::Info,
        )
        .unwrap()
    }

    fn parse_modified(modify: impl FnOnce(&mut HostBundleHeader)) -> Result<(), BundleError> {
        let mut header = valid();
        modify(&mut header);
        HostBundleHeader::parse(header.as_bytes()).map(|_| ())
    }

    #[test]
    fn layout_is_fixed() {
        assert_eq!(size_of::<HostBundleHeader>(), 4096);
        assert_eq!(align_of::<HostBundleHeader>(), 1);
        assert_eq!(offset_of!(HostBundleHeader, magic), 0);
        assert_eq!(offset_of!(HostBundleHeader, version), 8);
        assert_eq!(offset_of!(HostBundleHeader, header_size), 12);
        assert_eq!(offset_of!(HostBundleHeader, kernel_offset), 16);
        assert_eq!(offset_of!(HostBundleHeader, kernel_size), 24);
        assert_eq!(offset_of!(HostBundleHeader, kernel_mem_size), 32);
        assert_eq!(offset_of!(HostBundleHeader, initrd_offset), 40);
        assert_eq!(offset_of!(HostBundleHeader, initrd_size), 48);
        assert_eq!(offset_of!(HostBundleHeader, el2_log_level), 56);
        assert_eq!(offset_of!(HostBundleHeader, flags), 60);
        assert_eq!(offset_of!(HostBundleHeader, cmdline), 64);
        assert_eq!(offset_of!(HostBundleHeader, reserved), 2112);
    }

    #[test]
    fn builder_output_parses_back() {
        let header = valid();
        let bytes = header.as_bytes();
        assert_eq!(&bytes[..8], b"PMUPHOST");
        assert_eq!(&bytes[8..16], &[1, 0, 0, 0, 0x00, 0x10, 0, 0]);
        let parsed = HostBundleHeader::parse(bytes).unwrap();
        assert_eq!(parsed, &header);
        assert_eq!(parsed.kernel_offset(), 2 * MIB);
        assert_eq!(parsed.kernel_size(), 20 * MIB + 5);
        assert_eq!(parsed.kernel_mem_size(), 30 * MIB);
        assert_eq!(parsed.kernel_mem_range(), 2 * MIB..32 * MIB);
        assert_eq!(parsed.initrd_offset(), 32 * MIB);
        assert_eq!(parsed.initrd_size(), 8 * MIB + 7);
        assert_eq!(parsed.initrd_range(), Some(32 * MIB..40 * MIB + 7));
        assert_eq!(parsed.total_size(), 40 * MIB + 7);
        assert_eq!(parsed.cmdline_str(), "console=ttyAMA0");
        assert_eq!(parsed.log_level(), LogLevel::Info);
    }

    #[test]
    fn builder_rounds_the_initrd_up_to_2mib() {
        let header =
            HostBundleHeader::new(100, 3 * MIB + 1, 1, "", LogLevel::BuildDefault).unwrap();
        assert_eq!(header.initrd_offset(), 6 * MIB);
        assert_eq!(header.total_size(), 6 * MIB + 1);
    }

    #[test]
    fn builder_without_initrd() {
        let header = HostBundleHeader::new(100, 100, 0, "", LogLevel::BuildDefault).unwrap();
        assert_eq!(header.initrd_offset(), 0);
        assert_eq!(header.initrd_range(), None);
        assert_eq!(header.total_size(), 2 * MIB + 100);
        assert_eq!(header.cmdline_str(), "");
        assert!(HostBundleHeader::parse(header.as_bytes()).is_ok());
    }

    #[test]
    fn builder_rejections() {
        let new = |ks, kms, is, cmdline: &str| {
            HostBundleHeader::new(ks, kms, is, cmdline, LogLevel::Trace)
        };
        assert_eq!(new(0, 0, 0, "").unwrap_err(), BundleError::EmptyKernel);
        assert_eq!(
            new(2, 1, 0, "").unwrap_err(),
            BundleError::KernelMemSizeTooSmall
        );
        assert_eq!(
            new(1, u64::MAX, 0, "").unwrap_err(),
            BundleError::SizeOverflow
        );
        assert_eq!(
            new(1, u64::MAX - 2 * MIB, 1, "").unwrap_err(),
            BundleError::SizeOverflow
        );
        assert_eq!(
            new(1, 1, u64::MAX, "").unwrap_err(),
            BundleError::SizeOverflow
        );
        assert_eq!(
            new(1, 1, 0, "a\0b").unwrap_err(),
            BundleError::CmdlineContainsNul
        );
        let longest = [b'x'; CMDLINE_SIZE - 1];
        let longest = core::str::from_utf8(&longest).unwrap();
        assert_eq!(new(1, 1, 0, longest).unwrap().cmdline_str(), longest);
        let too_long = [b'x'; CMDLINE_SIZE];
        let too_long = core::str::from_utf8(&too_long).unwrap();
        assert_eq!(
            new(1, 1, 0, too_long).unwrap_err(),
            BundleError::CmdlineTooLong
        );
    }

    #[test]
    fn parse_reads_only_the_header_prefix() {
        let header = valid();
        let mut bytes = [0xAA; HEADER_SIZE + 16];
        bytes[..HEADER_SIZE].copy_from_slice(header.as_bytes());
        assert_eq!(HostBundleHeader::parse(&bytes).unwrap(), &header);
        assert_eq!(
            HostBundleHeader::parse(&bytes[..HEADER_SIZE - 1]),
            Err(BundleError::TooShort)
        );
        assert_eq!(HostBundleHeader::parse(&[]), Err(BundleError::TooShort));
    }

    #[test]
    fn rejects_bad_identity_fields() {
        assert_eq!(
            parse_modified(|h| h.magic[7] = b'X'),
            Err(BundleError::BadMagic)
        );
        assert_eq!(
            parse_modified(|h| h.version.set(2)),
            Err(BundleError::UnsupportedVersion(2))
        );
        assert_eq!(
            parse_modified(|h| h.version.set(0)),
            Err(BundleError::UnsupportedVersion(0))
        );
        assert_eq!(
            parse_modified(|h| h.header_size.set(2048)),
            Err(BundleError::BadHeaderSize(2048))
        );
        assert_eq!(
            parse_modified(|h| h.flags.set(1)),
            Err(BundleError::UnknownFlags(1))
        );
        assert_eq!(
            parse_modified(|h| h.reserved[RESERVED_SIZE - 1] = 1),
            Err(BundleError::ReservedNotZero)
        );
        assert_eq!(
            parse_modified(|h| h.el2_log_level.set(6)),
            Err(BundleError::BadLogLevel(6))
        );
        assert_eq!(parse_modified(|h| h.el2_log_level.set(5)), Ok(()));
    }

    #[test]
    fn rejects_bad_kernel_placement() {
        assert_eq!(
            parse_modified(|h| h.kernel_offset.set(3 * MIB)),
            Err(BundleError::KernelMisaligned)
        );
        assert_eq!(
            parse_modified(|h| h.kernel_offset.set(4096)),
            Err(BundleError::KernelMisaligned)
        );
        assert_eq!(
            parse_modified(|h| h.kernel_offset.set(0)),
            Err(BundleError::KernelOverlapsHeader)
        );
        assert_eq!(
            parse_modified(|h| h.kernel_size.set(0)),
            Err(BundleError::EmptyKernel)
        );
        assert_eq!(
            parse_modified(|h| h.kernel_mem_size.set(20 * MIB + 4)),
            Err(BundleError::KernelMemSizeTooSmall)
        );
        assert_eq!(
            parse_modified(|h| {
                h.kernel_size.set(1);
                h.kernel_mem_size.set(u64::MAX - MIB);
            }),
            Err(BundleError::SizeOverflow)
        );
    }

    #[test]
    fn rejects_bad_initrd_placement() {
        assert_eq!(
            parse_modified(|h| h.initrd_offset.set(0)),
            Err(BundleError::InitrdInconsistent)
        );
        assert_eq!(
            parse_modified(|h| h.initrd_size.set(0)),
            Err(BundleError::InitrdInconsistent)
        );
        assert_eq!(
            parse_modified(|h| h.initrd_offset.set(32 * MIB + 512)),
            Err(BundleError::InitrdMisaligned)
        );
        assert_eq!(
            parse_modified(|h| h.initrd_offset.set(u64::MAX - 4095)),
            Err(BundleError::SizeOverflow)
        );
        // Overlaps the kernel's memory past its file bytes, at either end, or contains it.
        for offset in [32 * MIB - 4096, 2 * MIB, MIB] {
            assert_eq!(
                parse_modified(|h| h.initrd_offset.set(offset)),
                Err(BundleError::InitrdOverlapsKernel),
                "{offset:#x}"
            );
        }
        // Between the header page and the kernel is allowed, and so is right after the kernel.
        assert_eq!(
            parse_modified(|h| {
                h.initrd_offset.set(4096);
                h.initrd_size.set(2 * MIB - 4096);
            }),
            Ok(())
        );
        assert_eq!(parse_modified(|h| h.initrd_offset.set(32 * MIB)), Ok(()));
    }

    #[test]
    fn rejects_bad_cmdline() {
        assert_eq!(
            parse_modified(|h| h.cmdline.fill(b'x')),
            Err(BundleError::CmdlineNotTerminated)
        );
        assert_eq!(
            parse_modified(|h| h.cmdline[..3].copy_from_slice(&[0xC3, 0x28, 0])),
            Err(BundleError::CmdlineNotUtf8)
        );
        // Bytes after the NUL are not part of the command line.
        assert_eq!(
            parse_modified(|h| h.cmdline[CMDLINE_SIZE - 1] = 0xFF),
            Ok(())
        );
    }

    #[test]
    fn unvalidated_headers_have_safe_accessors() {
        let mut header = HostBundleHeader::new_zeroed();
        header.cmdline.fill(b'x');
        header.el2_log_level.set(99);
        header.kernel_offset.set(u64::MAX);
        header.kernel_mem_size.set(u64::MAX);
        header.initrd_offset.set(u64::MAX);
        header.initrd_size.set(u64::MAX);
        assert_eq!(header.cmdline_str(), "");
        assert_eq!(header.log_level(), LogLevel::BuildDefault);
        assert_eq!(header.total_size(), u64::MAX);
    }

    fn image_header(text_offset: u64, image_size: u64, magic: &[u8; 4]) -> [u8; 64] {
        let mut image = [0; 64];
        image[8..16].copy_from_slice(&text_offset.to_le_bytes());
        image[16..24].copy_from_slice(&image_size.to_le_bytes());
        image[56..60].copy_from_slice(magic);
        image
    }

    #[test]
    fn arm64_image_size() {
        assert_eq!(
            arm64_image_mem_size(&image_header(0, 40 * MIB, b"ARM\x64")),
            Some(40 * MIB)
        );
        assert_eq!(arm64_image_mem_size(&image_header(0, 0, b"ARM\x64")), None);
        assert_eq!(
            arm64_image_mem_size(&image_header(0x8_0000, 40 * MIB, b"ARM\x64")),
            None
        );
        assert_eq!(
            arm64_image_mem_size(&image_header(0, 40 * MIB, b"MZ\0\0")),
            None
        );
        assert_eq!(
            arm64_image_mem_size(&image_header(0, 40 * MIB, b"ARM\x64")[..59]),
            None
        );
    }
}
