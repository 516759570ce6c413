#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Installs everything the build and the tests need on a Debian bookworm machine, as root.
# Idempotent: each step checks first and only installs what is missing.
set -euo pipefail

say() { printf '\033[1m[prereqs]\033[0m %s\n' "$*"; }

need_apt_update=0
apt_updated=0
apt_update() {
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
}

if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

# QEMU 10 from bookworm-backports: -cpu max has FEAT_FGT and FEAT_HPMN0, -cpu cortex-a57 has
# neither, so one binary exercises both PMU enforcement paths. deb-src for TF-A's source package.
SRC=/etc/apt/sources.list.d/pmu-partition.sources
if [ ! -f "$SRC" ]; then
    say "adding bookworm-backports and deb-src (for QEMU 10 and the TF-A source package)"
    $SUDO tee "$SRC" >/dev/null <<'EOS'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
    need_apt_update=1
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture (for Debian's arm64 kernel and busybox)"
    $SUDO dpkg --add-architecture arm64
    need_apt_update=1
fi

[ "$need_apt_update" = 1 ] && apt_update

pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# The second line builds the patched Linux 6.12 (scripts/linux-6.12.sh): kconfig needs flex and
# bison, the build needs bc; libssl-dev, libelf-dev and kmod are what Debian's kernel build expects
# for anything beyond the tiny config (certs, objtool-style tools, depmod); ccache makes rebuilds
# after each patch of the series take seconds; git holds the tree the series applies to.
# checkpatch's SPDX check (scripts/spdxcheck.py) needs python3-ply and python3-git.
for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu make xz-utils device-tree-compiler \
         arm-trusted-firmware-tools cpio gzip dpkg-dev python3 curl ca-certificates \
         flex bison bc libssl-dev libelf-dev kmod ccache git perl python3-ply python3-git; do
    have "$p" || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
    apt_update
    say "installing ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}"
fi

qemu_major() { qemu-system-aarch64 --version 2>/dev/null | sed -n 's/.*version \([0-9]*\)\..*/\1/p'; }
if [ "$(qemu_major)" = "" ] || [ "$(qemu_major)" -lt 10 ]; then
    apt_update
    say "installing QEMU 10 (qemu-system-arm) from bookworm-backports"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports qemu-system-arm
fi

# The Rust toolchain of rust-toolchain.toml, its targets and components, each installed by name.
bash "$(dirname "$0")/rust-toolchain.sh"
say "ok"
