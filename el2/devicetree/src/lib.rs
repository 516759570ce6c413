// SPDX-License-Identifier: MIT OR Apache-2.0

//! Reading the memory map from the device tree, and fixing the device tree up for the host.
//!
//! A crate of its own (el2's `devicetree`) so that the release build compiles it for size (the
//! workspace's `Cargo.toml`): it runs once, at boot, where the firmware's own crate is compiled for
//! the speed of its hot paths. Its entry points are never inlined, so that they stay built for
//! size in the firmware's boot code.
//!
//! The host must never map EL2's memory, so EL2 adds a `/reserved-memory` node with `no-map` for
//! it (stage-2 would refuse the accesses anyway, but a host that maps it could touch it by
//! speculation or take needless faults). `/chosen` gets the host's initrd and command line.
//!
//! The GIC's ITS is removed from the host's tree (see `gic_layout` and docs/security.md): an ITS
//! writes tables wherever its base registers say, so the host never gets one.
//!
//! dtoolkit's zero-copy reader reads every tree; `Fdt::new` checks the whole blob first, so the
//! reader does not fail afterwards. The fixed-up tree is written here by hand, node by node as the
//! old one is read, because dtoolkit has no streaming writer and its in-place editor (`FdtMut`,
//! 0.4) cannot add nodes, which every fix-up does. Its model (`DeviceTree`) can, but with its hash
//! maps it cost EL2's image about 24 KB. This runs once at boot, so it is small rather than fast:
//! linear searches, no maps.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::{format, string::String, vec::Vec};
use dtoolkit::{
    Node, Property,
    fdt::{Fdt, FdtNode},
    standard::NodeStandard,
};
use platform::Region;

#[derive(Clone, Copy, Eq, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub enum DtError {
    /// Not a valid flattened device tree.
    Invalid,
    /// A node EL2 needs is malformed.
    Malformed(&'static str),
    /// The fixed-up tree does not fit where the host expects it.
    TooBig { size: usize, max: usize },
}

impl core::fmt::Display for DtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Invalid => f.write_str("invalid device tree"),
            Self::Malformed(what) => write!(f, "malformed {what}"),
            Self::TooBig { size, max } => write!(f, "too big: {size} > {max} bytes"),
        }
    }
}

/// What the host gets changed in its device tree.
#[derive(Clone, Debug, Default)]
pub struct Fixups<'a> {
    /// EL2's memory, reserved with no-map.
    pub firmware: Option<Region>,
    /// The initrd, as [start, end).
    pub initrd: Option<(u64, u64)>,
    /// Replaces /chosen/bootargs when non-empty.
    pub bootargs: &'a str,
    /// Removes every ITS node, and the `msi-parent` / `msi-map` properties that name one.
    pub hide_its: bool,
}

/// The size of a device tree blob from its header, if `header` starts with one.
pub fn blob_size(header: &[u8]) -> Option<usize> {
    let be = |at: usize| Some(u32::from_be_bytes(header.get(at..at + 4)?.try_into().ok()?));
    (be(0)? == 0xd00d_feed).then(|| be(4).map(|s| s as usize))?
}

fn cells(node: &impl Node, name: &str, default: u32) -> u32 {
    node.property(name)
        .and_then(|p| p.value().try_into().ok().map(u32::from_be_bytes))
        .unwrap_or(default)
}

fn read_cells(bytes: &[u8], count: u32) -> Option<u64> {
    if count == 0 || count > 2 || bytes.len() < count as usize * 4 {
        return None;
    }
    Some(bytes[..count as usize * 4].chunks(4).fold(0u64, |acc, c| {
        (acc << 32) | u64::from(u32::from_be_bytes(c.try_into().unwrap()))
    }))
}

/// The RAM regions of the top-level `memory` nodes.
#[inline(never)]
pub fn memory_regions(dtb: &[u8]) -> Result<Vec<Region>, DtError> {
    let fdt = Fdt::new(dtb).map_err(|_| DtError::Invalid)?;
    let root = fdt.root();
    let (ac, sc) = (cells(&root, "#address-cells", 2), cells(&root, "#size-cells", 1));
    let mut regions = Vec::new();
    for node in root.children() {
        let is_memory = node.name_without_address() == "memory"
            || node.property("device_type").is_some_and(|p| p.value() == b"memory\0");
        // QEMU describes TF-A's secure RAM as a memory node with status "disabled" (and
        // secure-status "okay"): it is not the host's.
        let enabled = node.property("status").is_none_or(|p| matches!(p.value(), b"okay\0" | b"ok\0"));
        if !is_memory || !enabled {
            continue;
        }
        let Some(reg) = node.property("reg") else { continue };
        let entry = (ac + sc) as usize * 4;
        if entry == 0 || reg.value().len() % entry != 0 {
            return Err(DtError::Malformed("memory reg"));
        }
        for chunk in reg.value().chunks(entry) {
            let base = read_cells(chunk, ac).ok_or(DtError::Malformed("memory reg"))?;
            let size = read_cells(&chunk[ac as usize * 4..], sc).ok_or(DtError::Malformed("memory reg"))?;
            if size != 0 {
                regions.push(Region::new(base, size));
            }
        }
    }
    Ok(regions)
}

/// Compatible string of a GICv3 (or v4) distributor node, and of its ITS children.
const GIC_V3: &str = "arm,gic-v3";
const GIC_ITS: &str = "arm,gic-v3-its";

/// Where the device tree puts the GIC's redistributors and ITSes.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct GicLayout {
    pub redistributors: Vec<Region>,
    pub its: Vec<Region>,
}

/// The `reg` entries of `node`, with its parent's cell counts.
fn reg_regions(node: &impl Node, ac: u32, sc: u32) -> Result<Vec<Region>, DtError> {
    let Some(reg) = node.property("reg") else { return Ok(Vec::new()) };
    let entry = (ac + sc) as usize * 4;
    if entry == 0 || reg.value().len() % entry != 0 {
        return Err(DtError::Malformed("reg"));
    }
    reg.value()
        .chunks(entry)
        .map(|c| {
            let base = read_cells(c, ac).ok_or(DtError::Malformed("reg"))?;
            let size = read_cells(&c[ac as usize * 4..], sc).ok_or(DtError::Malformed("reg"))?;
            Ok(Region::new(base, size))
        })
        .collect()
}

/// Translates `addr`, a child address of `bus`, through its `ranges` into the parent's space
/// (`pac` address cells). An empty `ranges` is the identity; no `ranges` means no translation.
fn translate(bus: &impl Node, addr: u64, pac: u32) -> Result<Option<u64>, DtError> {
    let Some(ranges) = bus.property("ranges") else { return Ok(None) };
    let (cac, csc) = (cells(bus, "#address-cells", 2), cells(bus, "#size-cells", 1));
    if ranges.value().is_empty() {
        return Ok(Some(addr));
    }
    let entry = (cac + pac + csc) as usize * 4;
    if cac == 0 || ranges.value().len() % entry != 0 {
        return Err(DtError::Malformed("ranges"));
    }
    for c in ranges.value().chunks(entry) {
        let bad = || DtError::Malformed("ranges");
        let child = read_cells(c, cac).ok_or_else(bad)?;
        let parent = read_cells(&c[cac as usize * 4..], pac).ok_or_else(bad)?;
        let size = read_cells(&c[(cac + pac) as usize * 4..], csc).ok_or_else(bad)?;
        if addr >= child && addr - child < size {
            return Ok(Some(parent + (addr - child)));
        }
    }
    Ok(None)
}

/// The GIC's redistributor regions and ITS frames, from the top-level `arm,gic-v3` node (its
/// `reg` lists the distributor, then `#redistributor-regions` redistributor regions) and the
/// `arm,gic-v3-its` nodes at the top level or under the GIC node.
#[inline(never)]
pub fn gic_layout(dtb: &[u8]) -> Result<GicLayout, DtError> {
    let fdt = Fdt::new(dtb).map_err(|_| DtError::Invalid)?;
    let root = fdt.root();
    let (ac, sc) = (cells(&root, "#address-cells", 2), cells(&root, "#size-cells", 1));
    let mut layout = GicLayout::default();
    for node in root.children() {
        if node.is_compatible(GIC_ITS) {
            layout.its.extend(reg_regions(&node, ac, sc)?);
        }
        if !node.is_compatible(GIC_V3) {
            continue;
        }
        let count = cells(&node, "#redistributor-regions", 1) as usize;
        layout.redistributors.extend(reg_regions(&node, ac, sc)?.into_iter().skip(1).take(count));
        let (cac, csc) = (cells(&node, "#address-cells", 2), cells(&node, "#size-cells", 1));
        for its in node.children().filter(|c| c.is_compatible(GIC_ITS)) {
            for frame in reg_regions(&its, cac, csc)? {
                let base = translate(&node, frame.base, ac)?.ok_or(DtError::Malformed("ITS reg"))?;
                layout.its.push(Region::new(base, frame.size));
            }
        }
    }
    Ok(layout)
}

/// A 32-bit property of `/chosen`, if present and well formed.
#[inline(never)]
pub fn chosen_u32(dtb: &[u8], name: &str) -> Result<Option<u32>, DtError> {
    let fdt = Fdt::new(dtb).map_err(|_| DtError::Invalid)?;
    let Some(chosen) = fdt.find_node("/chosen") else { return Ok(None) };
    let Some(prop) = chosen.property(name) else { return Ok(None) };
    let bytes: [u8; 4] = prop.value().try_into().map_err(|_| DtError::Malformed("/chosen u32 property"))?;
    Ok(Some(u32::from_be_bytes(bytes)))
}

/// A string property of `/chosen`, if present and well formed (NUL-terminated UTF-8).
#[inline(never)]
pub fn chosen_str(dtb: &[u8], name: &str) -> Result<Option<String>, DtError> {
    let fdt = Fdt::new(dtb).map_err(|_| DtError::Invalid)?;
    let Some(chosen) = fdt.find_node("/chosen") else { return Ok(None) };
    let Some(prop) = chosen.property(name) else { return Ok(None) };
    let bytes = prop.value().strip_suffix(b"\0").ok_or(DtError::Malformed("/chosen string property"))?;
    core::str::from_utf8(bytes).map(|v| Some(String::from(v))).map_err(|_| DtError::Malformed("/chosen string property"))
}

fn encode_cells(out: &mut Vec<u8>, value: u64, count: u32) {
    if count == 2 {
        out.extend_from_slice(&((value >> 32) as u32).to_be_bytes());
    }
    out.extend_from_slice(&(value as u32).to_be_bytes());
}

// The rewriter: `fix_up` writes the new blob as it reads the old one (see the module comment).

/// Structure block tokens.
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const END: u32 = 9;
/// The header's size; the memory reservation block follows it in the blobs written here.
const HEADER_SIZE: usize = 40;
/// The writer recurses once per level: a deeper tree is refused rather than risk EL2's stack. Real
/// trees are a handful of levels deep.
const MAX_DEPTH: usize = 16;

impl Fixups<'_> {
    fn sets_chosen(&self) -> bool {
        self.initrd.is_some() || !self.bootargs.is_empty()
    }
}

struct Rewriter<'a> {
    fixups: &'a Fixups<'a>,
    /// The name of EL2's `/reserved-memory` child.
    partition: String,
    /// The phandles of the ITS nodes removed.
    its: Vec<u32>,
    /// The blob so far: header (filled in last), reservations, structure block.
    out: Vec<u8>,
    strings: Vec<u8>,
    /// Whether the top-level `reserved-memory` / `chosen` node was met (the first of each name).
    seen_resv: bool,
    seen_chosen: bool,
}

impl Rewriter<'_> {
    fn word(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn pad(&mut self) {
        self.out.resize(self.out.len().next_multiple_of(4), 0);
    }

    fn begin(&mut self, name: &str) {
        self.word(BEGIN_NODE);
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    /// The offset of `name` in the strings block, appended unless there (the tail of a longer
    /// string will do).
    fn string(&mut self, name: &str) -> u32 {
        let n = name.len();
        let found = self.strings.windows(n + 1).position(|w| w[n] == 0 && w[..n] == *name.as_bytes());
        found.unwrap_or_else(|| {
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            self.strings.len() - n - 1
        }) as u32
    }

    fn prop(&mut self, name: &str, value: &[u8]) {
        let nameoff = self.string(name);
        for word in [PROP, value.len() as u32, nameoff] {
            self.word(word);
        }
        self.out.extend_from_slice(value);
        self.pad();
    }

    /// Whether a property's cells name a removed ITS.
    fn names_its(&self, value: &[u8]) -> bool {
        value.chunks_exact(4).any(|c| self.its.contains(&u32::from_be_bytes(c.try_into().unwrap())))
    }

    /// Writes `node` and its subtree, fixed up; `depth` is 0 for the root.
    fn node(&mut self, node: FdtNode<'_>, depth: usize) -> Result<(), DtError> {
        if depth > MAX_DEPTH {
            return Err(DtError::Malformed("device tree depth"));
        }
        let f = self.fixups;
        let top = depth == 1;
        let resv = top && f.firmware.is_some() && !self.seen_resv && node.name_without_address() == "reserved-memory";
        let chosen = top && f.sets_chosen() && !self.seen_chosen && node.name_without_address() == "chosen";
        self.seen_resv |= resv;
        self.seen_chosen |= chosen;

        self.begin(node.name());
        let drop_msi_map = node.property("msi-map").is_some_and(|p| self.names_its(p.value()));
        for p in node.properties() {
            let dropped = match p.name() {
                "msi-parent" => self.names_its(p.value()),
                "msi-map" | "msi-map-mask" => drop_msi_map,
                "linux,initrd-start" | "linux,initrd-end" => chosen && f.initrd.is_some(),
                "bootargs" => chosen && !f.bootargs.is_empty(),
                _ => false,
            };
            if !dropped {
                self.prop(p.name(), p.value());
            }
        }
        if chosen {
            self.chosen_props();
        }
        for child in node.children() {
            // EL2's own reservation replaces one of the same name.
            let its = f.hide_its && depth < 2 && child.is_compatible(GIC_ITS);
            let dropped = its || (resv && child.name() == self.partition);
            if !dropped {
                self.node(child, depth + 1)?;
            }
        }
        if resv {
            self.reservation(cells(&node, "#address-cells", 2), cells(&node, "#size-cells", 1))?;
        }
        if depth == 0 && f.firmware.is_some() && !self.seen_resv {
            self.begin("reserved-memory");
            self.prop("#address-cells", &2u32.to_be_bytes());
            self.prop("#size-cells", &2u32.to_be_bytes());
            self.prop("ranges", &[]);
            self.reservation(2, 2)?;
            self.word(END_NODE);
        }
        if depth == 0 && f.sets_chosen() && !self.seen_chosen {
            self.begin("chosen");
            self.chosen_props();
            self.word(END_NODE);
        }
        self.word(END_NODE);
        Ok(())
    }

    /// EL2's `/reserved-memory` child, its `reg` in the parent's `ac` and `sc` cells.
    fn reservation(&mut self, ac: u32, sc: u32) -> Result<(), DtError> {
        let Some(fw) = self.fixups.firmware else { return Ok(()) };
        if !(1..=2).contains(&ac) || !(1..=2).contains(&sc) {
            return Err(DtError::Malformed("reserved-memory cells"));
        }
        let mut reg = Vec::new();
        encode_cells(&mut reg, fw.base, ac);
        encode_cells(&mut reg, fw.size, sc);
        self.begin(&self.partition.clone());
        self.prop("reg", &reg);
        self.prop("no-map", &[]);
        self.word(END_NODE);
        Ok(())
    }

    fn chosen_props(&mut self) {
        let f = self.fixups;
        if let Some((start, end)) = f.initrd {
            self.prop("linux,initrd-start", &start.to_be_bytes());
            self.prop("linux,initrd-end", &end.to_be_bytes());
        }
        if !f.bootargs.is_empty() {
            self.prop("bootargs", &[f.bootargs.as_bytes(), b"\0"].concat());
        }
    }
}

/// The phandles of the ITS nodes that `hide_its` removes: those at the top level and one level
/// down (under the GIC).
fn its_phandles(root: FdtNode<'_>) -> Vec<u32> {
    let mut phandles = Vec::new();
    for node in root.children() {
        for its in core::iter::once(node).chain(node.children()).filter(|n| n.is_compatible(GIC_ITS)) {
            phandles.extend(its.phandle().ok().flatten());
        }
    }
    phandles
}

/// Applies `fixups` to `dtb` and returns the new blob: the same tree (the order of nodes and
/// properties kept), memory reservations and boot CPU, as an FDT version 17.
///
/// The ITS nodes go with `hide_its`, at the top level and one level down (under the GIC), and so
/// does every `msi-parent` and `msi-map` (with its `msi-map-mask`) that names one of them, so
/// devices that would have used MSIs through it fall back to their wired interrupts. A cell that
/// merely equals a removed phandle (a requester ID, say) also drops the property: that errs
/// towards wired interrupts, never towards a dangling reference.
#[inline(never)]
pub fn fix_up(dtb: &[u8], fixups: &Fixups<'_>, max_size: usize) -> Result<Vec<u8>, DtError> {
    let fdt = Fdt::new(dtb).map_err(|_| DtError::Invalid)?;
    let mut out = alloc::vec![0; HEADER_SIZE];
    for r in fdt.memory_reservations() {
        out.extend_from_slice(&r.address().to_be_bytes());
        out.extend_from_slice(&r.size().to_be_bytes());
    }
    out.extend_from_slice(&[0; 16]);
    let off_struct = out.len();
    let mut w = Rewriter {
        fixups,
        partition: fixups.firmware.map(|fw| format!("pmu-partition-el2@{:x}", fw.base)).unwrap_or_default(),
        its: if fixups.hide_its { its_phandles(fdt.root()) } else { Vec::new() },
        out,
        strings: Vec::new(),
        seen_resv: false,
        seen_chosen: false,
    };
    w.node(fdt.root(), 0)?;
    w.word(END);
    let Rewriter { mut out, strings, .. } = w;
    let off_strings = out.len();
    out.extend_from_slice(&strings);
    if out.len() > max_size {
        return Err(DtError::TooBig { size: out.len(), max: max_size });
    }
    let header = [
        0xd00d_feed,
        out.len() as u32,
        off_struct as u32,
        off_strings as u32,
        HEADER_SIZE as u32,
        17,
        16,
        fdt.boot_cpuid_phys(),
        strings.len() as u32,
        (off_strings - off_struct) as u32,
    ];
    for (i, word) in header.into_iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};

    fn prop(name: &str, value: impl dtoolkit::ToPropertyValue) -> DeviceTreeProperty {
        DeviceTreeProperty::new_unchecked(String::from(name), value)
    }

    fn sample() -> Vec<u8> {
        let mut tree = DeviceTree::new();
        tree.root.add_property(prop("#address-cells", 2u32));
        tree.root.add_property(prop("#size-cells", 2u32));
        let mut reg = Vec::new();
        encode_cells(&mut reg, 0x4000_0000, 2);
        encode_cells(&mut reg, 0x4000_0000, 2);
        tree.root.add_child(
            DeviceTreeNode::builder("memory@40000000")
                .unwrap()
                .property(prop("device_type", "memory"))
                .property(prop("reg", reg))
                .build(),
        );
        tree.root.add_child(
            DeviceTreeNode::builder("memory@e000000")
                .unwrap()
                .property(prop("device_type", "memory"))
                .property(prop("reg", [0u32, 0x0e00_0000, 0, 0x0100_0000]))
                .property(prop("status", "disabled"))
                .property(prop("secure-status", "okay"))
                .build(),
        );
        tree.root.add_child(
            DeviceTreeNode::builder("chosen")
                .unwrap()
                .property(prop("bootargs", "old"))
                .property(prop("pmu-partition,reserved-counters", 2u32))
                .property(prop("bad-u32", "xyz1234"))
                .build(),
        );
        tree.to_dtb()
    }

    #[test]
    fn reads_memory() {
        let dtb = sample();
        assert_eq!(blob_size(&dtb), Some(dtb.len()));
        assert_eq!(memory_regions(&dtb).unwrap(), [Region::new(0x4000_0000, 0x4000_0000)]);
        assert_eq!(memory_regions(b"not a dtb"), Err(DtError::Invalid));
    }

    #[test]
    fn reads_chosen_u32() {
        let dtb = sample();
        assert_eq!(chosen_u32(&dtb, "pmu-partition,reserved-counters"), Ok(Some(2)));
        assert_eq!(chosen_u32(&dtb, "absent"), Ok(None));
        assert!(chosen_u32(&dtb, "bad-u32").is_err());
        assert_eq!(chosen_str(&dtb, "bootargs"), Ok(Some(String::from("old"))));
        assert_eq!(chosen_str(&dtb, "absent"), Ok(None));
    }

    #[test]
    fn reserves_firmware_and_sets_chosen() {
        let fixups = Fixups {
            firmware: Some(Region::new(0x6000_0000, 0x40_0000)),
            initrd: Some((0x4a00_0000, 0x4a10_0000)),
            bootargs: "console=ttyAMA0",
            hide_its: false,
        };
        let out = fix_up(&sample(), &fixups, 1 << 20).unwrap();
        let fdt = Fdt::new(&out).unwrap();
        let node = fdt.find_node("/reserved-memory/pmu-partition-el2@60000000").unwrap();
        assert!(node.property("no-map").is_some());
        assert_eq!(
            node.property("reg").unwrap().value(),
            &[0, 0, 0, 0, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0]
        );
        let chosen = fdt.find_node("/chosen").unwrap();
        assert_eq!(chosen.property("bootargs").unwrap().value(), b"console=ttyAMA0\0");
        assert_eq!(
            chosen.property("linux,initrd-start").unwrap().value(),
            &0x4a00_0000u64.to_be_bytes()
        );
        // The memory node is unchanged: the reservation does the hiding.
        assert_eq!(memory_regions(&out).unwrap(), [Region::new(0x4000_0000, 0x4000_0000)]);
    }

    #[test]
    fn empty_bootargs_keep_the_old_ones_and_size_is_checked() {
        let fixups = Fixups { firmware: None, initrd: None, bootargs: "", hide_its: false };
        let out = fix_up(&sample(), &fixups, 1 << 20).unwrap();
        let fdt = Fdt::new(&out).unwrap();
        assert_eq!(fdt.find_node("/chosen").unwrap().property("bootargs").unwrap().value(), b"old\0");
        assert!(matches!(fix_up(&sample(), &fixups, 16), Err(DtError::TooBig { .. })));
    }

    /// QEMU virt's GIC as QEMU describes it: identity `ranges`, the ITS under the GIC, a PCIe
    /// host whose MSIs go through the ITS.
    fn qemu_gic() -> Vec<u8> {
        let mut tree = DeviceTree::new();
        tree.root.add_property(prop("#address-cells", 2u32));
        tree.root.add_property(prop("#size-cells", 2u32));
        let its = DeviceTreeNode::builder("its@8080000")
            .unwrap()
            .property(prop("compatible", "arm,gic-v3-its"))
            .property(prop("msi-controller", &[] as &[u8]))
            .property(prop("#msi-cells", 1u32))
            .property(prop("reg", [0u32, 0x0808_0000, 0, 0x2_0000]))
            .property(prop("phandle", 0x8006u32))
            .build();
        tree.root.add_child(
            DeviceTreeNode::builder("intc@8000000")
                .unwrap()
                .property(prop("compatible", "arm,gic-v3"))
                .property(prop("#address-cells", 2u32))
                .property(prop("#size-cells", 2u32))
                .property(prop("ranges", &[] as &[u8]))
                .property(prop("#redistributor-regions", 1u32))
                .property(prop("reg", [0u32, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0xf6_0000]))
                .property(prop("phandle", 0x8005u32))
                .child(its)
                .build(),
        );
        tree.root.add_child(
            DeviceTreeNode::builder("pcie@10000000")
                .unwrap()
                .property(prop("compatible", "pci-host-ecam-generic"))
                .property(prop("msi-map", [0u32, 0x8006, 0, 0x1_0000]))
                .property(prop("msi-map-mask", 0xff00u32))
                .property(prop("interrupt-map-mask", [0x1800u32, 0, 0, 7]))
                .build(),
        );
        tree.root.add_child(
            DeviceTreeNode::builder("virtio@a000000")
                .unwrap()
                .property(prop("msi-parent", 0x8005u32))
                .build(),
        );
        tree.to_dtb()
    }

    #[test]
    fn reads_the_gic_layout() {
        let layout = gic_layout(&qemu_gic()).unwrap();
        assert_eq!(layout.redistributors, [Region::new(0x080a_0000, 0xf6_0000)]);
        assert_eq!(layout.its, [Region::new(0x0808_0000, 0x2_0000)]);
        assert_eq!(gic_layout(&sample()).unwrap(), GicLayout::default());
    }

    #[test]
    fn its_address_goes_through_the_gic_ranges() {
        // TF-A's FVP tree: one-cell child addresses relative to the GIC, two redistributor
        // regions declared.
        let mut tree = DeviceTree::new();
        tree.root.add_property(prop("#address-cells", 2u32));
        tree.root.add_property(prop("#size-cells", 2u32));
        tree.root.add_child(
            DeviceTreeNode::builder("interrupt-controller@2f000000")
                .unwrap()
                .property(prop("compatible", "arm,gic-v3"))
                .property(prop("#address-cells", 1u32))
                .property(prop("#size-cells", 1u32))
                .property(prop("ranges", [0u32, 0, 0x2f00_0000, 0x10_0000]))
                .property(prop("#redistributor-regions", 2u32))
                .property(prop(
                    "reg",
                    [0u32, 0x2f00_0000, 0, 0x1_0000, 0, 0x2f10_0000, 0, 0x10_0000, 0, 0x2f20_0000, 0, 0x10_0000, 0, 0x2c00_0000, 0, 0x2000],
                ))
                .child(
                    DeviceTreeNode::builder("msi-controller@2f020000")
                        .unwrap()
                        .property(prop("compatible", "arm,gic-v3-its"))
                        .property(prop("reg", [0x2_0000u32, 0x2_0000]))
                        .build(),
                )
                .build(),
        );
        let layout = gic_layout(&tree.to_dtb()).unwrap();
        assert_eq!(layout.redistributors, [Region::new(0x2f10_0000, 0x10_0000), Region::new(0x2f20_0000, 0x10_0000)]);
        assert_eq!(layout.its, [Region::new(0x2f02_0000, 0x2_0000)]);
    }

    #[test]
    fn hides_the_its_and_its_msi_users() {
        let fixups = Fixups { firmware: None, initrd: None, bootargs: "", hide_its: true };
        let out = fix_up(&qemu_gic(), &fixups, 1 << 20).unwrap();
        let fdt = Fdt::new(&out).unwrap();
        assert!(fdt.find_node("/intc@8000000/its@8080000").is_none());
        assert!(fdt.find_node("/intc@8000000").is_some());
        let pcie = fdt.find_node("/pcie@10000000").unwrap();
        assert!(pcie.property("msi-map").is_none());
        assert!(pcie.property("msi-map-mask").is_none(), "the mask goes with its map");
        assert!(pcie.property("interrupt-map-mask").is_some(), "wired interrupts stay");
        // An msi-parent naming something else stays.
        assert!(fdt.find_node("/virtio@a000000").unwrap().property("msi-parent").is_some());
        assert_eq!(gic_layout(&out).unwrap().its, []);
        // Without the switch, nothing changes.
        let fixups = Fixups { hide_its: false, ..fixups };
        let out = fix_up(&qemu_gic(), &fixups, 1 << 20).unwrap();
        assert!(Fdt::new(&out).unwrap().find_node("/intc@8000000/its@8080000").is_some());
    }

    /// Every node (its path, with an empty property name) and every property, in the blob's order.
    fn flat(dtb: &[u8]) -> Vec<(String, String, Vec<u8>)> {
        fn walk(node: FdtNode<'_>, path: &str, out: &mut Vec<(String, String, Vec<u8>)>) {
            out.push(entry(path, "", b""));
            out.extend(node.properties().map(|p| entry(path, p.name(), p.value())));
            for child in node.children() {
                walk(child, &format!("{path}/{}", child.name()), out);
            }
        }
        let mut out = Vec::new();
        walk(Fdt::new(dtb).unwrap().root(), "", &mut out);
        out
    }

    fn entry(path: &str, name: &str, value: &[u8]) -> (String, String, Vec<u8>) {
        (String::from(path), String::from(name), value.to_vec())
    }

    /// Memory reservations, nodes three levels deep, values and names of every length modulo 4.
    fn nested() -> Vec<u8> {
        let mut tree = DeviceTree::new();
        tree.memory_reservations.push(dtoolkit::memreserve::MemoryReservation::new(0x4800_0000, 0x1000));
        tree.memory_reservations.push(dtoolkit::memreserve::MemoryReservation::new(0x4900_0000, 0x2_0000));
        tree.root.add_property(prop("model", "x"));
        let dev = DeviceTreeNode::builder("dev@2").unwrap().property(prop("compatible", "vendor,dev")).build();
        let bus = DeviceTreeNode::builder("bus@1000")
            .unwrap()
            .property(prop("five", &[1u8, 2, 3, 4, 5] as &[u8]))
            .property(prop("four", &[1u8, 2, 3, 4] as &[u8]))
            .child(dev)
            .build();
        tree.root.add_child(
            DeviceTreeNode::builder("soc")
                .unwrap()
                .property(prop("ranges", &[] as &[u8]))
                .property(prop("odd", &[1u8, 2, 3] as &[u8]))
                .child(bus)
                .child(DeviceTreeNode::new_unchecked("leaf"))
                .build(),
        );
        tree.root.add_child(DeviceTreeNode::new_unchecked("abcd"));
        tree.to_dtb()
    }

    const FIRMWARE: Region = Region::new(0x6000_0000, 0x40_0000);

    fn all_fixups() -> Fixups<'static> {
        let initrd = Some((0x4a00_0000, 0x4a10_0000));
        Fixups { firmware: Some(FIRMWARE), initrd, bootargs: "console=ttyAMA0", hide_its: true }
    }

    #[test]
    fn without_fixups_the_tree_is_the_same() {
        for mut dtb in [sample(), qemu_gic(), nested()] {
            dtb[28..32].copy_from_slice(&3u32.to_be_bytes()); // boot_cpuid_phys
            let out = fix_up(&dtb, &Fixups::default(), 1 << 20).unwrap();
            assert_eq!(flat(&out), flat(&dtb));
            let (old, new) = (Fdt::new(&dtb).unwrap(), Fdt::new(&out).unwrap());
            assert!(new.memory_reservations().eq(old.memory_reservations()));
            assert_eq!((new.version(), new.last_comp_version(), new.boot_cpuid_phys()), (17, 16, 3));
        }
        assert_eq!(Fdt::new(&nested()).unwrap().memory_reservations().count(), 2);
    }

    /// The entries of the `/reserved-memory` that fix_up creates for `FIRMWARE`.
    fn added_reserved_memory() -> Vec<(String, String, Vec<u8>)> {
        let (resv, node) = ("/reserved-memory", "/reserved-memory/pmu-partition-el2@60000000");
        let two = 2u32.to_be_bytes();
        let reg = [0u32, 0x6000_0000, 0, 0x40_0000].map(u32::to_be_bytes).concat();
        let entries: [(&str, &str, &[u8]); 7] = [
            (resv, "", b""),
            (resv, "#address-cells", &two),
            (resv, "#size-cells", &two),
            (resv, "ranges", b""),
            (node, "", b""),
            (node, "reg", &reg),
            (node, "no-map", b""),
        ];
        entries.into_iter().map(|(path, name, value)| entry(path, name, value)).collect()
    }

    /// The `/chosen` properties that `all_fixups` sets.
    fn set_chosen() -> [(String, String, Vec<u8>); 3] {
        [
            entry("/chosen", "linux,initrd-start", &0x4a00_0000u64.to_be_bytes()),
            entry("/chosen", "linux,initrd-end", &0x4a10_0000u64.to_be_bytes()),
            entry("/chosen", "bootargs", b"console=ttyAMA0\0"),
        ]
    }

    #[test]
    fn fixups_change_only_what_they_name() {
        // An existing /chosen loses its bootargs for the new ones, after its other properties.
        let dtb = sample();
        let mut expected = flat(&dtb);
        expected.retain(|(path, name, _)| !(path == "/chosen" && name == "bootargs"));
        let at = expected.iter().rposition(|(path, ..)| path == "/chosen").unwrap() + 1;
        expected.splice(at..at, set_chosen());
        expected.extend(added_reserved_memory());
        assert_eq!(flat(&fix_up(&dtb, &all_fixups(), 1 << 20).unwrap()), expected);

        // No /chosen: one is made, after the new /reserved-memory; the ITS and its users go.
        let dtb = qemu_gic();
        let mut expected = flat(&dtb);
        expected.retain(|(path, name, _)| {
            let msi_map = path == "/pcie@10000000" && name.starts_with("msi-map");
            !path.starts_with("/intc@8000000/its@8080000") && !msi_map
        });
        expected.extend(added_reserved_memory());
        expected.push(entry("/chosen", "", b""));
        expected.extend(set_chosen());
        assert_eq!(flat(&fix_up(&dtb, &all_fixups(), 1 << 20).unwrap()), expected);
    }

    /// `sample` with a `/reserved-memory` of the given cell counts, holding one reservation.
    fn with_reserved_memory(ac: u32, sc: u32) -> Vec<u8> {
        let mut tree = DeviceTree::from_fdt(&Fdt::new(&sample()).unwrap());
        let tfa = DeviceTreeNode::builder("tfa@e000000")
            .unwrap()
            .property(prop("reg", [0x0e00_0000u32, 0x1_0000]))
            .property(prop("no-map", &[] as &[u8]))
            .build();
        tree.root.add_child(
            DeviceTreeNode::builder("reserved-memory")
                .unwrap()
                .property(prop("#address-cells", ac))
                .property(prop("#size-cells", sc))
                .property(prop("ranges", &[] as &[u8]))
                .child(tfa)
                .build(),
        );
        tree.to_dtb()
    }

    #[test]
    fn an_existing_reserved_memory_keeps_its_cells() {
        let fixups = Fixups { firmware: Some(FIRMWARE), ..Fixups::default() };
        let out = fix_up(&with_reserved_memory(1, 1), &fixups, 1 << 20).unwrap();
        let fdt = Fdt::new(&out).unwrap();
        assert_eq!(fdt.root().children().filter(|c| c.name_without_address() == "reserved-memory").count(), 1);
        let resv = fdt.find_node("/reserved-memory").unwrap();
        let children: Vec<&str> = resv.children().map(|c| c.name()).collect();
        assert_eq!(children, ["tfa@e000000", "pmu-partition-el2@60000000"]);
        let node = fdt.find_node("/reserved-memory/pmu-partition-el2@60000000").unwrap();
        assert_eq!(node.property("reg").unwrap().value(), [0x60, 0, 0, 0, 0, 0x40, 0, 0]);
        // A second pass replaces EL2's reservation instead of adding another.
        assert_eq!(flat(&fix_up(&out, &fixups, 1 << 20).unwrap()), flat(&out));
        for (ac, sc) in [(0, 1), (3, 2), (2, 0), (1, 3)] {
            let result = fix_up(&with_reserved_memory(ac, sc), &fixups, 1 << 20);
            assert_eq!(result, Err(DtError::Malformed("reserved-memory cells")), "{ac} {sc}");
        }
    }

    #[test]
    fn too_big_names_the_size() {
        let len = fix_up(&sample(), &all_fixups(), 1 << 20).unwrap().len();
        assert!(fix_up(&sample(), &all_fixups(), len).is_ok());
        assert_eq!(fix_up(&sample(), &all_fixups(), len - 1), Err(DtError::TooBig { size: len, max: len - 1 }));
    }

    #[test]
    fn a_too_deep_tree_is_refused() {
        let deep = |levels: usize| {
            let mut node = DeviceTreeNode::new_unchecked("n");
            for _ in 1..levels {
                node = DeviceTreeNode::builder("n").unwrap().child(node).build();
            }
            let mut tree = DeviceTree::new();
            tree.root.add_child(node);
            tree.to_dtb()
        };
        assert!(fix_up(&deep(MAX_DEPTH), &all_fixups(), 1 << 20).is_ok());
        assert_eq!(fix_up(&deep(MAX_DEPTH + 1), &all_fixups(), 1 << 20), Err(DtError::Malformed("device tree depth")));
    }

    #[test]
    fn errors_print_as_text() {
        assert_eq!(format!("{}", DtError::Invalid), "invalid device tree");
        assert_eq!(format!("{}", DtError::Malformed("reg")), "malformed reg");
        assert_eq!(format!("{}", DtError::TooBig { size: 5, max: 4 }), "too big: 5 > 4 bytes");
    }

    #[test]
    fn a_truncated_or_garbage_blob_is_invalid() {
        let dtb = sample();
        for len in [0, 4, 39, 40, dtb.len() / 2, dtb.len() - 1] {
            assert_eq!(fix_up(&dtb[..len], &all_fixups(), 1 << 20), Err(DtError::Invalid), "{len}");
        }
        assert_eq!(fix_up(&[0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 8], &all_fixups(), 1 << 20), Err(DtError::Invalid));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// Whatever the bytes, fix_up answers without panicking, and a blob it writes is valid.
        #[test]
        fn mutated_blobs_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..=255), 1..4),
        ) {
            let mut dtb = qemu_gic();
            for (at, byte) in edits {
                let at = at.index(dtb.len());
                dtb[at] = byte;
            }
            if let Ok(out) = fix_up(&dtb, &all_fixups(), 1 << 20) {
                proptest::prop_assert!(Fdt::new(&out).is_ok());
            }
        }
    }
}
