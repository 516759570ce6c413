#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/linux-headers.sh
#
# Fetches what building an out-of-tree module for the test kernel needs (the kernel of
# target/cache/linux/VERSION, from scripts/linux.sh), from Debian's archive:
#   linux-headers-<release>:arm64          the arm64 flavour's .config, Module.symvers, generated headers
#   linux-headers-<abi>-common (arch all)  the kernel's Makefile and headers
#   linux-kbuild-<major.minor>:<host arch>   kbuild's scripts and host tools (fixdep, modpost, ...)
# all at the version of the kernel package, and unpacks them side by side, keeping Debian's layout:
#   target/cache/linux-headers/usr/src/linux-headers-<release>/   <- the headers dir (make -C here)
#   target/cache/linux-headers/usr/src/linux-headers-<abi>-common/
#   target/cache/linux-headers/usr/lib/linux-kbuild-<major.minor>/
# The relative symlinks between them (scripts, tools) then resolve inside the cache; the one
# hard-coded path, the `include /usr/src/...-common/Makefile` of the flavour's Makefile, is
# rewritten to find the common tree next to it. A module then builds with
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -C <headers dir> M=<module dir> modules
# Prints the headers dir on stdout (progress goes to stderr). The .debs are kept in
# target/cache/debs/. A second run does nothing and needs no network.
set -euo pipefail
NAME=linux-headers
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

DEBS=$CACHE/debs
LINUX=$CACHE/linux
HEADERS=$CACHE/linux-headers

[ $# = 0 ] || { echo "usage: $0" >&2; exit 2; }

if [ ! -s "$LINUX/VERSION" ]; then
    say "no kernel yet: running scripts/linux.sh"
    bash "$ROOT/scripts/linux.sh" >&2
fi
release=$(cat "$LINUX/VERSION")              # e.g. 6.1.0-56-arm64
abi=${release%-*}                            # e.g. 6.1.0-56
flavour=${release##*-}                       # e.g. arm64
kdir=$HEADERS/usr/src/linux-headers-$release
[ "$flavour" = arm64 ] || die "unexpected kernel release '$release' (want <abi>-arm64)"

if [ -s "$HEADERS/VERSION" ] && [ "$(cat "$HEADERS/VERSION")" = "$release" ] &&
   [ -s "$kdir/Makefile" ] && [ -s "$kdir/Module.symvers" ]; then
    say "up to date: $kdir"
    echo "$kdir"
    exit 0
fi

need_tools apt-get dpkg-deb dpkg tar sed
# The Debian version of the kernel package (target/cache/linux/PACKAGE: "<package> <version>");
# the headers and kbuild of that same upload match it. Without it, take the candidates.
pkgver=
[ -s "$LINUX/PACKAGE" ] && pkgver=$(awk '{print $2}' "$LINUX/PACKAGE")
# Debian versions may hold an epoch ("1:..."); .deb file names spell ':' as %3a.
filever=${pkgver//:/%3a}
hostarch=$(dpkg --print-architecture)

# fetch_deb PKG ARCH: print the path of the cached PKG_<version>_ARCH.deb (in $DEBS), downloading
# it first if it is not cached. ARCH is the .deb's architecture (arm64, all, amd64, ...). Downloads
# go to a scratch directory and are moved in whole, so a .deb in $DEBS is always complete.
fetch_deb() {
    local pkg=$1 arch=$2 glob found spec
    glob="${pkg}_${filever:-*}_$arch.deb"
    found=$(newest "$DEBS/$glob")
    if [ -z "$found" ]; then
        spec=$pkg
        [ "$arch" = all ] || spec=$spec:$arch
        say "downloading $spec${pkgver:+ $pkgver}"
        local scratch=$DEBS/.download.$$
        rm -rf "$scratch"
        mkdir -p "$scratch"
        (cd "$scratch" && apt_retry apt-get download "${APT_OPTS[@]}" "$spec${pkgver:+=$pkgver}") >&2 \
            || { rm -rf "$scratch"; die "cannot download $spec (is the arm64 architecture added? run scripts/prereqs.sh)"; }
        mv "$scratch"/*.deb "$DEBS/"
        rmdir "$scratch"
        found=$(newest "$DEBS/$glob")
        [ -n "$found" ] || die "downloaded $spec but no $glob in $DEBS"
    fi
    echo "$found"
}

# depends_on DEB REGEX: the first package name in DEB's Depends matching REGEX.
depends_on() {
    dpkg-deb -f "$1" Depends | tr ',|' '\n' | sed 's/^ *//; s/ .*//' | grep -E "$2" | head -n1
}

mkdir -p "$DEBS"
flav_deb=$(fetch_deb "linux-headers-$release" arm64)
# Depends: linux-headers-<abi>-common (= V), linux-kbuild-<major.minor> (>= V), ...
common=$(depends_on "$flav_deb" '^linux-headers-.*-common$')
kbuild=$(depends_on "$flav_deb" '^linux-kbuild-')
[ -n "$common" ] || common=linux-headers-$abi-common
[ -n "$kbuild" ] || kbuild=linux-kbuild-$(cut -d. -f1,2 <<<"$release")
common_deb=$(fetch_deb "$common" all)
kbuild_deb=$(fetch_deb "$kbuild" "$hostarch")

tmp=$HEADERS.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
for deb in "$flav_deb" "$common_deb" "$kbuild_deb"; do
    say "extracting $(basename "$deb")"
    # ./lib/modules/<release>/{build,source} are absolute symlinks into /usr/src: not wanted here.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --exclude=./lib
done

tkdir=$tmp/usr/src/linux-headers-$release
[ -s "$tkdir/Makefile" ] || die "no usr/src/linux-headers-$release/Makefile in $(basename "$flav_deb")"
[ -s "$tmp/usr/src/$common/Makefile" ] || die "no usr/src/$common/Makefile in $(basename "$common_deb")"
[ -x "$tkdir/scripts/basic/fixdep" ] || die "scripts/basic/fixdep missing (did $kbuild unpack?)"

# The flavour's Makefile is one line, `include /usr/src/linux-headers-<abi>-common/Makefile`.
# Point it at the common tree beside it, wherever this cache lies (the common Makefile finds its
# own tree through its path, and takes the directory make runs in as the object tree).
grep -qx "include /usr/src/$common/Makefile" "$tkdir/Makefile" ||
    die "unexpected $tkdir/Makefile: $(head -c 200 "$tkdir/Makefile")"
sed -i "s|^include /usr/src/$common/Makefile\$|include \$(dir \$(realpath \$(lastword \$(MAKEFILE_LIST))))../$common/Makefile|" \
    "$tkdir/Makefile"
if grep -q /usr/src "$tkdir/Makefile"; then die "a /usr/src path is left in $tkdir/Makefile"; fi

echo "$release" >"$tmp/VERSION"
rm -rf "$HEADERS"
mv "$tmp" "$HEADERS"
trap - EXIT
say "done: $kdir (from $(basename "$flav_deb"), $(basename "$common_deb"), $(basename "$kbuild_deb"))"
echo "$kdir"
