#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/tfa-fvp.sh BL33_BIN OUTDIR
#
# Builds what Arm's FVP_Base_RevC-2xAEMvA needs to boot our EL2 firmware as BL33 (docs/fvp.md):
#   OUTDIR/bl1.bin       TF-A BL1, for -C bp.secureflashloader.fname=
#   OUTDIR/fip.bin       FIP with BL2, BL31, the FW/TB_FW/SOC_FW/NT_FW configs, HW_CONFIG, BL33
#                        (BL33_BIN, loaded at and entered at 0x8800_0000), for -C bp.flashloader0.fname=
#   OUTDIR/fvp-base.dtb  the HW_CONFIG device tree in the FIP (BL2 copies it to 0x8200_0000)
#
# TF-A is the same Debian TF-A 2.8 source tree scripts/tfa.sh unpacks (it is fetched with
# `tfa.sh --source-only` when missing), built with PLAT=fvp DEBUG=0. That build is cached under
# target/cache/tfa-fvp/<variant>/ and runs once; later calls only repack the FIP, which is what
# changes with BL33. The FIP is made with Debian's fiptool from the images TF-A built, as
# flash.sh does for QEMU: TF-A's `make fip` would build its own fiptool, which needs OpenSSL
# headers, and writes it into the source tree.
#
# Environment (each combination is cached separately):
#   FVP_CLUSTERS=2|1      clusters of 4 CPUs TF-A and its device tree describe (default 2)
#   FVP_HW_CONFIG_DTS=... TF-A DTS (relative to its tree) for HW_CONFIG; default
#                         fdts/fvp-base-gicv3-psci-1t.dts, the one for the RevC model's shifted
#                         MPIDR affinities (TF-A's own default, fvp-base-gicv3-psci.dts, gives
#                         CPU nodes that do not match this model's MPIDRs)
#   FVP_HW_CONFIG=FILE    pack this device tree blob as HW_CONFIG instead of TF-A's (not cached)
set -euo pipefail
NAME=tfa-fvp
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

[ $# = 2 ] || { echo "usage: $0 BL33_BIN OUTDIR" >&2; exit 2; }
BL33=$1
OUTDIR=$2
[ -s "$BL33" ] || die "BL33 image '$BL33' is missing or empty"

CLUSTERS=${FVP_CLUSTERS:-2}
HW_DTS=${FVP_HW_CONFIG_DTS:-fdts/fvp-base-gicv3-psci-1t.dts}
case "$CLUSTERS" in 1|2) ;; *) die "FVP_CLUSTERS must be 1 or 2, not '$CLUSTERS'" ;; esac
if [ -n "${FVP_HW_CONFIG:-}" ] && [ ! -s "$FVP_HW_CONFIG" ]; then
    die "FVP_HW_CONFIG '$FVP_HW_CONFIG' is missing or empty"
fi

TREE=$CACHE/tfa-src/tf-a
HW_NAME=$(basename "$HW_DTS" .dts)
VARIANT=c${CLUSTERS}-$HW_NAME
BASE=$CACHE/tfa-fvp/$VARIANT
BUILD=$BASE/build  # TF-A's BUILD_BASE: objects, per variant since TF-A does not track defines
BIN=$BASE/bin      # what the FIP step uses, under fixed names
# Everything that changes the binaries. Recorded in $BIN/config; a mismatch rebuilds.
# ENABLE_FEAT_HCX=1: EL2 may program HCRX_EL2 (see scripts/tfa.sh).
MAKE_ARGS=(CROSS_COMPILE=aarch64-linux-gnu- PLAT=fvp DEBUG=0 FVP_CLUSTER_COUNT="$CLUSTERS"
    FVP_MAX_CPUS_PER_CLUSTER=4 FVP_HW_CONFIG_DTS="$HW_DTS" ENABLE_FEAT_HCX=1)
TARGETS=(bl1 bl2 bl31 dtbs)
CONFIG="TF_LDFLAGS=--no-warn-rwx-segments make ${MAKE_ARGS[*]} ${TARGETS[*]}"
# name in $BIN <- path under TF-A's build/fvp/release/
FILES=(bl1.bin:bl1.bin bl2.bin:bl2.bin bl31.bin:bl31.bin
    fw_config.dtb:fdts/fvp_fw_config.dtb tb_fw_config.dtb:fdts/fvp_tb_fw_config.dtb
    soc_fw_config.dtb:fdts/fvp_soc_fw_config.dtb nt_fw_config.dtb:fdts/fvp_nt_fw_config.dtb
    "hw_config.dtb:fdts/$HW_NAME.dtb")

complete() {
    local f
    [ -f "$BIN/config" ] && [ "$(cat "$BIN/config")" = "$CONFIG" ] || return 1
    for f in "${FILES[@]}"; do [ -s "$BIN/${f%%:*}" ] || return 1; done
}

if complete; then
    say "TF-A for FVP up to date: $BIN"
else
    need_tools aarch64-linux-gnu-gcc make dtc
    if [ ! -f "$TREE/Makefile" ]; then
        say "TF-A source missing: running scripts/tfa.sh --source-only"
        bash "$ROOT/scripts/tfa.sh" --source-only
    fi
    [ -f "$TREE/$HW_DTS" ] || die "no $HW_DTS in $TREE"
    # TF_LDFLAGS from the environment, not as a make argument: see scripts/tfa.sh.
    say "building TF-A PLAT=fvp DEBUG=0 (${VARIANT}): ${TARGETS[*]} into $BUILD"
    # TF-A does not track its defines: objects built with other options must go.
    rm -rf "$BUILD"
    TF_LDFLAGS=--no-warn-rwx-segments make -C "$TREE" -j"$(nproc)" "${MAKE_ARGS[@]}" \
        BUILD_BASE="$BUILD" "${TARGETS[@]}" >&2
    rm -rf "$BIN.tmp"
    mkdir -p "$BIN.tmp"
    for f in "${FILES[@]}"; do
        cp "$BUILD/fvp/release/${f#*:}" "$BIN.tmp/${f%%:*}"
    done
    printf '%s\n' "$CONFIG" >"$BIN.tmp/config"
    rm -rf "$BIN"
    mv "$BIN.tmp" "$BIN"
    say "TF-A for FVP built: $BIN"
fi

need_tools fiptool
HW=${FVP_HW_CONFIG:-$BIN/hw_config.dtb}
mkdir -p "$OUTDIR"
tmp=$OUTDIR/.tfa-fvp.tmp.$$
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp"
# The same images and options TF-A's own `make PLAT=fvp fip` passes to its fiptool.
fiptool create \
    --tb-fw "$BIN/bl2.bin" \
    --soc-fw "$BIN/bl31.bin" \
    --nt-fw "$BL33" \
    --fw-config "$BIN/fw_config.dtb" \
    --tb-fw-config "$BIN/tb_fw_config.dtb" \
    --soc-fw-config "$BIN/soc_fw_config.dtb" \
    --nt-fw-config "$BIN/nt_fw_config.dtb" \
    --hw-config "$HW" \
    "$tmp/fip.bin" >/dev/null
cp "$BIN/bl1.bin" "$tmp/bl1.bin"
cp "$HW" "$tmp/fvp-base.dtb"
for f in bl1.bin fip.bin fvp-base.dtb; do mv -f "$tmp/$f" "$OUTDIR/$f"; done
say "$OUTDIR: bl1.bin, fip.bin (BL33 $(stat -c %s "$BL33") bytes from $BL33), fvp-base.dtb"
