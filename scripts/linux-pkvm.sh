#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/linux-pkvm.sh [--key]
#
# Builds the kernel `make bench` runs pKVM with (docs/performance.md, "Side by side with pKVM"):
# the same Debian linux-source-6.12 as scripts/linux-6.12.sh, but WITHOUT this project's series,
# configured as tinyconfig + host-driver/linux/qemu-virt.config + host-driver/linux/pkvm.config
# (KVM). qemu-virt.config's series-only symbols are skipped: the pristine tree has no Kconfig for
# them. Output: target/cache/linux-pkvm, a link to the finished O= dir, so the kernel is
# target/cache/linux-pkvm/arch/arm64/boot/Image and out-of-tree modules build with
# `make -C target/cache/linux-pkvm M=...`. The work is cached in $PMUP_CACHE beside
# scripts/linux-6.12.sh's (the same download, the same ccache):
#   linux-pkvm/src/<ver>/    a git worktree of the pristine tree at tag pmup-base (detached), so
#                            that the shared tree's branch (the series) is never moved for it
#   linux-pkvm/build/<key>/  one O= dir per key; the 2 used last are kept. An unfinished one is
#                            carried on from where it stopped when its key is built again.
# The key hashes the Debian version, both fragments, the cross compiler's version and this script
# with the library it uses. When the link already points at that key's finished O dir, nothing
# is done; when the O dir is there, it is only linked (and its Image touched, so that make
# rebuilds what depends on it).
set -euo pipefail
NAME=linux-pkvm
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=linux-6.12-lib.sh
. "$ROOT/scripts/linux-6.12-lib.sh"

mode=${1:-build}
case $mode in build | --key) ;; *) echo "usage: $0 [--key]" >&2; exit 2 ;; esac

PKVM=$PMUP_CACHE/linux-pkvm
PKVM_OUT=$CACHE/linux-pkvm
PKVM_FRAGMENT=$ROOT/host-driver/linux/pkvm.config

need_tools aarch64-linux-gnu-gcc sha256sum
mkdir -p "$L612" "$PKVM"
version=$(l612_resolve_version)
key=$(
    {
        echo "linux-source-6.12 $version, no series"
        echo "fragments $(l612_sha "$L612_FRAGMENT" "$PKVM_FRAGMENT" | tr '\n' ' ')"
        echo "compiler $(aarch64-linux-gnu-gcc --version | head -n1)"
        echo "script $(l612_sha "$ROOT/scripts/linux-pkvm.sh" "$ROOT/scripts/linux-6.12-lib.sh" | tr '\n' ' ')"
    } | l612_sha - | cut -c1-16
)
if [ "$mode" = --key ]; then
    echo "$key"
    exit 0
fi
o=$PKVM/build/$key
if [ "$(readlink "$PKVM_OUT" 2>/dev/null)" = "$o" ] && [ -e "$o/.pmup-complete" ]; then
    say "up to date: $PKVM_OUT -> $o"
    exit 0
fi

need_tools make flex bison bc ccache git perl nice

# pkvm_tree: the pristine worktree's path, added the first time (under the shared tree's lock:
# it writes into that repository's .git). A worktree whose repository went away is made again.
pkvm_tree() {
    local dir shared
    dir=$PKVM/src/$(l612_dirname "$version")
    if [ -e "$dir/.pmup-worktree" ] && git -C "$dir" rev-parse -q --verify HEAD >/dev/null 2>&1; then
        echo "$dir"
        return
    fi
    exec 9>"$L612/.lock"
    flock 9
    shared=$(l612_tree "$version")
    rm -rf "$dir"
    git -C "$shared" worktree prune
    mkdir -p "$(dirname "$dir")"
    say "checking out pmup-base (linux-source-6.12 $version, no series) into $dir"
    git -C "$shared" worktree add -q --detach "$dir" pmup-base >&2
    touch "$dir/.pmup-worktree"
    exec 9>&-
    echo "$dir"
}
tree=$(pkvm_tree)
[ "$(git -C "$tree" rev-parse HEAD)" = "$(git -C "$tree" rev-parse pmup-base)" ] ||
    die "$tree is not at pmup-base"
l612_refuse_dirty "$tree"

# A finished O dir is only linked below.
if [ ! -e "$o/.pmup-complete" ]; then
    start=$(date +%s)
    mkdir -p "$o"
    say "building Linux $version with KVM, no series, key $key, in $o (log: $o/build.log)"
    # Both fragments in one, for the library's configure step and its survival check (which
    # skips the symbols this tree does not define: the series' own).
    cat "$L612_FRAGMENT" "$PKVM_FRAGMENT" >"$o/fragment.config"
    L612_FRAGMENT=$o/fragment.config l612_configure "$tree" "$o"
    l612_build "$tree" "$o" "$o/build.log" || die "the kernel did not build (log: $o/build.log)"
    [ -s "$o/arch/arm64/boot/Image" ] && [ -s "$o/Module.symvers" ] || die "no Image or Module.symvers in $o"
    touch "$o/.pmup-complete"
    say "built in $(($(date +%s) - start)) s"
fi
touch "$o/.pmup-complete" "$o/arch/arm64/boot/Image"
ln -sfn "$o" "$PKVM_OUT.tmp.$$"
mv -fT "$PKVM_OUT.tmp.$$" "$PKVM_OUT"

# Keep the 2 O dirs used last (by their markers' mtimes).
find "$PKVM/build" -mindepth 2 -maxdepth 2 -name .pmup-complete -printf '%T@ %h\n' | sort -rn | tail -n +3 |
    while read -r _ dir; do
        say "pruning old build $dir"
        rm -rf "$dir"
    done
say "done: $PKVM_OUT -> $o ($(stat -c %s "$o/arch/arm64/boot/Image") bytes)"
