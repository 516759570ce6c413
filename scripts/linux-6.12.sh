#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/linux-6.12.sh [--tree | --key]
#
# Builds the host kernel for the issue 9 tests: Debian's linux-source-6.12 (bookworm-security,
# pinned, LINUX612_VERSION overrides it) with the series in host-driver/linux/patches/ applied,
# configured as tinyconfig + host-driver/linux/qemu-virt.config, built out of tree with ccache.
# Outputs, at stable paths inside the clone:
#   target/cache/linux-6.12/Image     the kernel
#   target/cache/linux-6.12/VERSION   its release string (`uname -r`)
#   target/cache/linux-6.12/KEY       the build key (below)
#   target/cache/linux-6.12/SOURCE    "linux-source-6.12 <Debian version>" and the series' patches
#   target/cache/linux-6.12/build     -> the O= dir (for out-of-tree modules: make -C build M=...)
# The work (download, pristine tree, ccache, O dirs) is cached in $PMUP_CACHE, outside the clone:
# see scripts/linux-6.12-lib.sh and docs/linux.md.
#
# The key hashes the Debian version, the series' files (cover letter included), the fragment,
# the cross compiler's version and this script with its library. When target/cache/linux-6.12
# already holds that key, the script does nothing (no network, nothing touched, so make's
# dependents stay up to date). When $PMUP_CACHE holds a finished O dir for it, it only re-links.
#   --tree  print the pristine tree's path (a git repository: tag pmup-base, branch pmup-series)
#   --key   print the key
set -euo pipefail
NAME=linux-6.12
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=linux-6.12-lib.sh
. "$ROOT/scripts/linux-6.12-lib.sh"

mode=${1:-build}
case $mode in build | --tree | --key) ;; *) echo "usage: $0 [--tree | --key]" >&2; exit 2 ;; esac

need_tools aarch64-linux-gnu-gcc sha256sum
mkdir -p "$L612"
version=$(l612_resolve_version)

key=$(
    {
        echo "linux-source-6.12 $version"
        for f in "$L612_PATCHES"/*.patch; do
            [ -e "$f" ] && echo "patch ${f##*/} $(l612_sha "$f")"
        done
        echo "fragment $(l612_sha "$L612_FRAGMENT")"
        echo "compiler $(aarch64-linux-gnu-gcc --version | head -n1)"
        echo "script $(l612_sha "$ROOT/scripts/linux-6.12.sh" "$ROOT/scripts/linux-6.12-lib.sh" | tr '\n' ' ')"
    } | l612_sha - | cut -c1-16
)
if [ "$mode" = --key ]; then
    echo "$key"
    exit 0
fi

if [ "$mode" = build ] && [ -s "$L612_OUT/Image" ] && [ "$(cat "$L612_OUT/KEY" 2>/dev/null)" = "$key" ] &&
   [ -e "$L612_OUT/build/.pmup-complete" ]; then
    say "up to date: $L612_OUT/Image ($(cat "$L612_OUT/VERSION"), key $key)"
    exit 0
fi

need_tools make flex bison bc ccache git perl nice
# One script at a time moves the tree's branch (make -j, or a test running the series check).
exec 9>"$L612/.lock"
flock 9

tree=$(l612_tree "$version")
if [ "$mode" = --tree ]; then
    echo "$tree"
    exit 0
fi

o=$L612/build/$key
# The series is (re)applied even when the O dir is finished: modules built against the O dir
# compile with the tree's headers, so the tree must hold this series.
l612_apply_series "$tree"
if [ -e "$o/.pmup-complete" ]; then
    say "cached build for key $key: $o"
else
    # An O dir without the marker is an interrupted build: make carries on from where it stopped.
    say "building Linux $version + $(l612_series | wc -l) patch(es), key $key, in $o (log: $o/build.log)"
    start=$(date +%s)
    l612_configure "$tree" "$o"
    l612_build "$tree" "$o" "$o/build.log" || die "the kernel did not build (log: $o/build.log)"
    [ -s "$o/arch/arm64/boot/Image" ] && [ -s "$o/Module.symvers" ] || die "no Image or Module.symvers in $o"
    l612_make "$tree" O="$o" -s kernelrelease >"$o/.pmup-release"
    touch "$o/.pmup-complete"
    say "built in $(($(date +%s) - start)) s; ccache: $(ccache -s 2>/dev/null | grep -iE '^ *hits:' | head -n1 | sed 's/^ *//' || true)"
fi
# Most recently used first: the marker's mtime.
touch "$o/.pmup-complete"

tmp=$L612_OUT.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$o/arch/arm64/boot/Image" "$tmp/Image"
cp "$o/.pmup-release" "$tmp/VERSION"
echo "$key" >"$tmp/KEY"
{
    echo "linux-source-6.12 $version"
    for f in $(l612_series); do echo "${f##*/}"; done
} >"$tmp/SOURCE"
ln -s "$o" "$tmp/build"
rm -rf "$L612_OUT"
mv "$tmp" "$L612_OUT"

# Keep the 2 most recently used O dirs (the one just linked is the newest).
# shellcheck disable=SC2012 # the names are hex keys
ls -1td "$L612"/build/*/.pmup-complete 2>/dev/null | tail -n +3 | while IFS= read -r m; do
    say "pruning old build $(dirname "$m")"
    rm -rf "$(dirname "$m")"
done
# Unfinished O dirs of other keys are leftovers of interrupted builds.
for d in "$L612"/build/*/; do
    d=${d%/}
    [ -e "$d/.pmup-complete" ] || [ "$d" = "$o" ] || { say "pruning unfinished build $d"; rm -rf "$d"; }
done

say "done: $L612_OUT/Image ($(cat "$L612_OUT/VERSION"), $(stat -c %s "$L612_OUT/Image") bytes, key $key)"
