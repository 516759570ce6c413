#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Builds Trusted Firmware-A (BL1, BL2, BL31) for QEMU's virt machine with a GICv3, from Debian's
# arm-trusted-firmware source package (TF-A 2.8). Debian ships no PLAT=qemu binaries, and our EL2
# firmware runs as BL33 under this BL31. Output: target/cache/tfa/qemu/{bl1,bl2,bl31}.bin.
# Source and build tree: target/cache/tfa-src/. A second run does nothing.
#
# `tfa.sh --source-only` only makes sure the unpacked source tree exists (used by tfa-fvp.sh).
set -euo pipefail
NAME=tfa
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

OUT=$CACHE/tfa/qemu
SRCDIR=$CACHE/tfa-src
TREE=$SRCDIR/tf-a
BINS=(bl1 bl2 bl31)

SOURCE_ONLY=0
case "${1:-}" in
    "") ;;
    --source-only) SOURCE_ONLY=1 ;;
    *) echo "usage: $0 [--source-only]" >&2; exit 2 ;;
esac

# Everything that changes the binaries; recorded in $OUT/config, and a mismatch rebuilds.
# ENABLE_FEAT_HCX=1: BL31 sets SCR_EL3.HXEn, so that EL2 can program HCRX_EL2 (FEAT_HCX, on
# -cpu max). Without it HCRX_EL2 reads as zero below EL3, and a host that uses FEAT_MOPS (Linux
# 6.5 and later, for memcpy in userspace) takes an UNDEF on every CPY*/SET* instruction, since
# HCRX_EL2.MSCEn is what lets EL1 and EL0 run them under an EL2.
MAKE_ARGS=(PLAT=qemu QEMU_USE_GIC_DRIVER=QEMU_GICV3 DEBUG=0 ENABLE_FEAT_HCX=1)
CONFIG="${MAKE_ARGS[*]}"
complete() {
    local b
    [ -f "$OUT/config" ] && [ "$(cat "$OUT/config")" = "$CONFIG" ] || return 1
    for b in "${BINS[@]}"; do [ -s "$OUT/$b.bin" ] || return 1; done
}
if [ "$SOURCE_ONLY" = 0 ] && complete; then
    say "up to date: $OUT/{bl1,bl2,bl31}.bin"
    exit 0
fi

need_tools aarch64-linux-gnu-gcc make xz apt-get
mkdir -p "$SRCDIR"

if [ ! -f "$TREE/Makefile" ]; then
    cd "$SRCDIR"
    if [ -z "$(newest "$SRCDIR/arm-trusted-firmware_*.orig.tar.xz")" ] ||
       [ -z "$(newest "$SRCDIR/arm-trusted-firmware_*.dsc")" ]; then
        say "downloading Debian's arm-trusted-firmware source package into $SRCDIR"
        # apt-get source fails when no deb-src index is known: update once, then retry.
        # It re-checks the hashes of files already present and only fetches what is missing.
        if ! apt_retry apt-get source --download-only "${APT_OPTS[@]}" arm-trusted-firmware >&2; then
            die "no deb-src for arm-trusted-firmware (run scripts/prereqs.sh, it adds one)"
        fi
    fi
    orig=$(newest "$SRCDIR/arm-trusted-firmware_*.orig.tar.xz")
    say "unpacking $(basename "$orig")"
    rm -rf "$TREE.tmp"
    mkdir "$TREE.tmp"
    tar -xJf "$orig" -C "$TREE.tmp" --strip-components=1
    rm -rf "$TREE"
    mv "$TREE.tmp" "$TREE"
fi
if [ "$SOURCE_ONLY" = 1 ]; then
    say "source tree: $TREE"
    exit 0
fi

# Release build (DEBUG=0). binutils 2.40 warns about RWX segments and TF-A links with fatal
# warnings, hence TF_LDFLAGS. It must be passed in the environment, not as a make argument: a
# command-line variable would replace the flags TF-A's Makefile adds to it (linker script
# included) instead of being extended by them. Only bl1 bl2 bl31: flash.sh makes the FIP with
# Debian's fiptool.
ver=$(awk '$1 == "VERSION_MAJOR" || $1 == "VERSION_MINOR" { v = v sep $NF; sep = "." } END { print v }' "$TREE/Makefile")
say "building TF-A $ver ${MAKE_ARGS[*]}: bl1 bl2 bl31"
# TF-A's build does not track its defines: start from nothing whenever the options may differ.
rm -rf "$TREE/build/qemu"
TF_LDFLAGS=--no-warn-rwx-segments make -C "$TREE" -j"$(nproc)" CROSS_COMPILE=aarch64-linux-gnu- \
    "${MAKE_ARGS[@]}" bl1 bl2 bl31 >&2

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
for b in "${BINS[@]}"; do cp "$TREE/build/qemu/release/$b.bin" "$OUT.tmp/"; done
printf '%s\n' "$CONFIG" >"$OUT.tmp/config"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
say "done: $OUT/{bl1,bl2,bl31}.bin"
