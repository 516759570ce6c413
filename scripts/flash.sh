#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/flash.sh BL33_BIN OUT_FLASH_BIN
#
# Builds the image for QEMU virt's secure flash (`-bios OUT_FLASH_BIN` with secure=on): TF-A's BL1
# at offset 0 and a FIP holding BL2, BL31 and BL33 (the raw binary BL33_BIN, which BL2 loads at and
# BL31 enters at 0x6000_0000) at 256 KiB, where TF-A's qemu platform looks for it. The file is
# padded (sparsely) to 64 MiB, the size of that flash bank, so it also works as
# `-drive if=pflash,unit=0,format=raw`; `-bios` would accept it unpadded too.
# Runs scripts/tfa.sh first, which builds TF-A into target/cache/tfa/qemu/ unless it is up to date.
set -euo pipefail
NAME=flash
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

[ $# = 2 ] || { echo "usage: $0 BL33_BIN OUT_FLASH_BIN" >&2; exit 2; }
BL33=$1
OUTF=$2
[ -s "$BL33" ] || die "BL33 image '$BL33' is missing or empty"

TFA=$CACHE/tfa/qemu
FLASH_SIZE=$((64 * 1024 * 1024))
FIP_OFFSET=$((256 * 1024))

# tfa.sh does nothing when its binaries are there and were built with today's options.
bash "$ROOT/scripts/tfa.sh"
need_tools fiptool

bl1_size=$(stat -c %s "$TFA/bl1.bin")
[ "$bl1_size" -le "$FIP_OFFSET" ] || die "bl1.bin ($bl1_size bytes) overlaps the FIP at $FIP_OFFSET"

mkdir -p "$(dirname "$OUTF")"
tmp_fip=$OUTF.fip.tmp.$$
tmp=$OUTF.tmp.$$
trap 'rm -f "$tmp_fip" "$tmp"' EXIT

fiptool create --tb-fw "$TFA/bl2.bin" --soc-fw "$TFA/bl31.bin" --nt-fw "$BL33" "$tmp_fip" >/dev/null
fip_size=$(stat -c %s "$tmp_fip")
[ $((FIP_OFFSET + fip_size)) -le "$FLASH_SIZE" ] || die "FIP ($fip_size bytes) does not fit in the 64 MiB flash"

truncate -s "$FLASH_SIZE" "$tmp"
dd if="$TFA/bl1.bin" of="$tmp" bs=4096 conv=notrunc status=none
dd if="$tmp_fip" of="$tmp" bs=4096 seek=$((FIP_OFFSET / 4096)) conv=notrunc status=none
mv -f "$tmp" "$OUTF"
say "$OUTF: bl1 + FIP (bl2, bl31, BL33 $(stat -c %s "$BL33") bytes from $BL33), 64 MiB"
