#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Fetches the host side of the tests from Debian's arm64 archive: the stock bookworm kernel (the
# package behind the linux-image-arm64 metapackage; its boot/vmlinuz-* is already a raw arm64
# Image with PERF_EVENTS, HW_PERF_EVENTS and ARM_PMU built in) and a static busybox for the
# initramfs (scripts/initramfs.sh). Outputs:
#   target/cache/linux/Image     the kernel
#   target/cache/linux/VERSION   its release string (`uname -r`, e.g. 6.1.0-NN-arm64)
#   target/cache/linux/PACKAGE   the Debian package and version it came from
#   target/cache/busybox/busybox static arm64 busybox
# The .debs are kept in target/cache/debs/. A second run does nothing and needs no network.
set -euo pipefail
NAME=linux
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

DEBS=$CACHE/debs
LINUX=$CACHE/linux
BUSYBOX=$CACHE/busybox

# fetch_deb PKG[=VERSION] GLOB: print the path of the cached .deb matching GLOB (in $DEBS),
# downloading PKG (an arm64 package) first if none is cached. Downloads go to a scratch
# directory and are moved in whole, so a .deb in $DEBS is always complete.
fetch_deb() {
    local spec=$1 glob=$2 found
    found=$(newest "$DEBS/$glob")
    if [ -z "$found" ]; then
        local name=${spec%%=*} version=${spec#*=}
        [ "$version" != "$spec" ] || version=
        say "downloading $name:arm64${version:+ $version}"
        local scratch=$DEBS/.download.$$
        rm -rf "$scratch"
        mkdir -p "$scratch"
        # On a fresh machine the arm64 package lists may be missing: update once, then retry.
        (cd "$scratch" && apt_retry apt-get download "${APT_OPTS[@]}" "$name:arm64${version:+=$version}") >&2 \
            || { rm -rf "$scratch"; die "cannot download $name:arm64 (is the arm64 architecture added? run scripts/prereqs.sh)"; }
        mv "$scratch"/*.deb "$DEBS/"
        rmdir "$scratch"
        found=$(newest "$DEBS/$glob")
        [ -n "$found" ] || die "downloaded $spec but no $glob in $DEBS"
    fi
    echo "$found"
}

# extract DEB MEMBER_GLOB DIR: unpack only the matching files of DEB's data into DIR.
extract() {
    dpkg-deb --fsys-tarfile "$1" | tar -x -C "$3" --wildcards "$2"
}

# is_arm64_elf FILE: true if FILE is an ELF for AArch64 (e_machine 0xb7).
is_arm64_elf() {
    [ "$(od -An -N4 -tx1 "$1" | tr -d ' ')" = 7f454c46 ] &&
        [ "$(od -An -j18 -N2 -tx1 "$1" | tr -d ' ')" = b700 ]
}

mkdir -p "$DEBS"

if [ -s "$LINUX/Image" ] && [ -s "$LINUX/VERSION" ]; then
    say "up to date: $LINUX/Image ($(cat "$LINUX/VERSION"))"
else
    need_tools apt-get dpkg-deb tar
    meta=$(fetch_deb linux-image-arm64 'linux-image-arm64_*_arm64.deb')
    # Depends: linux-image-6.1.0-NN-arm64 (= 6.1.xxx-y)  (possibly an -unsigned alternative)
    dep=$(dpkg-deb -f "$meta" Depends | tr ',|' '\n' | sed 's/^ *//' |
          grep -E '^linux-image-[0-9][^ ]*-arm64(-unsigned)?( |$)' | head -n1)
    [ -n "$dep" ] || die "no linux-image-<version>-arm64 in the Depends of $meta"
    pkg=${dep%% *}
    ver=$(sed -n 's/.*(= *\([^)]*\)).*/\1/p' <<<"$dep")
    say "linux-image-arm64 depends on $pkg ${ver:-(any version)}"
    deb=$(fetch_deb "$pkg${ver:+=$ver}" "${pkg}_*_arm64.deb")

    tmp=$LINUX.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/x"
    say "extracting boot/vmlinuz-* from $(basename "$deb")"
    extract "$deb" './boot/vmlinuz-*' "$tmp/x"
    vmlinuz=$(newest "$tmp/x/boot/vmlinuz-*")
    [ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $deb"
    # A raw arm64 Image carries the magic "ARM\x64" at offset 0x38.
    [ "$(od -An -j56 -N4 -tx1 "$vmlinuz" | tr -d ' ')" = 41524d64 ] ||
        die "$vmlinuz is not a raw arm64 Image"
    mv "$vmlinuz" "$tmp/Image"
    release=${vmlinuz##*/vmlinuz-}
    echo "$release" >"$tmp/VERSION"
    echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$tmp/PACKAGE"
    rm -rf "$tmp/x"
    rm -rf "$LINUX"
    mv "$tmp" "$LINUX"
    say "done: $LINUX/Image ($release, $(stat -c %s "$LINUX/Image") bytes, from $(cat "$LINUX/PACKAGE"))"
fi

if [ -s "$BUSYBOX/busybox" ]; then
    say "up to date: $BUSYBOX/busybox"
else
    need_tools apt-get dpkg-deb tar
    deb=$(fetch_deb busybox-static 'busybox-static_*_arm64.deb')
    tmp=$BUSYBOX.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/x"
    extract "$deb" './bin/busybox' "$tmp/x"
    is_arm64_elf "$tmp/x/bin/busybox" || die "bin/busybox in $deb is not an arm64 ELF"
    mv "$tmp/x/bin/busybox" "$tmp/busybox"
    chmod 755 "$tmp/busybox"
    rm -rf "$tmp/x"
    rm -rf "$BUSYBOX"
    mv "$tmp" "$BUSYBOX"
    say "done: $BUSYBOX/busybox (from $(basename "$deb"))"
fi
