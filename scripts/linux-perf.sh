#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/linux-perf.sh [OUT-FILE]
#
# Fetches Debian's own `perf` for the 6.12 host (linux-perf:arm64 from bookworm-backports, pinned
# to LINUX_PERF_VERSION; bookworm itself only has the 6.1 perf) and the shared libraries it
# actually loads, and lays them out as a root tree for the initramfs (scripts/initramfs.sh,
# PERF_TREE=...):
#   usr/bin/perf
#   usr/lib/aarch64-linux-gnu/<soname>     each library in the recursive DT_NEEDED set of perf
#   lib -> usr/lib                         so the interpreter /lib/ld-linux-aarch64.so.1 resolves
#   usr/lib/ld-linux-aarch64.so.1
# Users run this perf, so the demo shows it; tests/linux/perf-check.c stays for exact assertions.
#
# Which packages: the arm64 dependency closure of linux-perf (apt-cache depends --recurse),
# downloaded once into target/cache/debs/perf/. Which files: only the libraries named by
# DT_NEEDED, recursively (aarch64-linux-gnu-readelf), found in the extracted packages; not the
# python stdlib, not perl's modules, nothing from usr/share. perf stat needs none of those.
#
# The tree is cached in target/cache/linux-perf/<key>/root, the key hashing the names of the
# .debs it came from (so their versions) and this script; a second run needs no network and
# touches nothing. The tree's path is printed on stdout and, with OUT-FILE, written there (only
# when it changed, so make's dependents stay up to date).
set -euo pipefail
NAME=linux-perf
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

# 6.12.95 is the perf measured against this kernel (docs/linux.md).
LINUX_PERF_VERSION=${LINUX_PERF_VERSION:-6.12.95-1~bpo12+1}
DEBS=$CACHE/debs/perf
OUTDIR=$CACHE/linux-perf
OUTFILE=${1:-}
MULTIARCH=aarch64-linux-gnu

need_tools apt-get apt-cache dpkg-deb tar aarch64-linux-gnu-readelf sha256sum
mkdir -p "$DEBS" "$OUTDIR"

# cached NAME [VERSION-GLOB]: the newest cached .deb of arm64 package NAME, or nothing.
cached() { newest "$DEBS/${1}_${2:-*}_arm64.deb"; }

# download NAME[=VERSION]...: fetch arm64 packages into $DEBS in one apt-get call (one call is
# far quicker than one per package). A scratch directory, moved in whole: a .deb in $DEBS is
# always complete.
download() {
    [ $# -gt 0 ] || return 0
    say "downloading $# package(s): $*"
    local scratch=$DEBS/.download.$$ p specs=()
    for p in "$@"; do specs+=("${p%%=*}:arm64${p#"${p%%=*}"}"); done
    rm -rf "$scratch"
    mkdir -p "$scratch"
    (cd "$scratch" && apt_retry apt-get download "${APT_OPTS[@]}" "${specs[@]}") >&2 ||
        { rm -rf "$scratch"; die "cannot download ${specs[*]} (is the arm64 architecture added? run scripts/prereqs.sh)"; }
    mv "$scratch"/*.deb "$DEBS/"
    rmdir "$scratch"
}

# linux-perf itself: the pinned version, else the newest 6.12 the archive has (with a warning:
# not the version docs/linux.md measured).
perf_deb=$(cached linux-perf "${LINUX_PERF_VERSION//\~/?}")
if [ -z "$perf_deb" ]; then
    if apt-cache show "linux-perf:arm64=$LINUX_PERF_VERSION" >/dev/null 2>&1; then
        download "linux-perf=$LINUX_PERF_VERSION"
        perf_deb=$(cached linux-perf "${LINUX_PERF_VERSION//\~/?}")
    else
        perf_deb=$(cached linux-perf '6.12.*')
        if [ -z "$perf_deb" ]; then
            v=$(apt-cache madison linux-perf:arm64 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
                grep '^6\.12\.' | sort -V | tail -n1 || true)
            [ -n "$v" ] || die "no linux-perf 6.12 for arm64 in the archive (bookworm-backports missing? run scripts/prereqs.sh)"
            say "warning: linux-perf $LINUX_PERF_VERSION is gone from the archive; using $v"
            download "linux-perf=$v"
            perf_deb=$(cached linux-perf '6.12.*')
        else
            say "warning: linux-perf $LINUX_PERF_VERSION not available; using cached $(basename "$perf_deb")"
        fi
    fi
fi
[ -n "$perf_deb" ] || die "no linux-perf .deb in $DEBS"

# The arm64 packages linux-perf's Depends pull in, recursively. perl:any and python3:any are the
# scripting front ends (perf script), not libraries perf links: left out. Virtual packages
# (<...>) and the build machine's own architecture (names without :arm64) are dropped.
deps=$(dpkg-deb -f "$perf_deb" Depends | tr ',|' '\n\n' | sed 's/^ *//; s/[ (].*//' | grep -v ':any$' | grep . | sort -u)
# shellcheck disable=SC2086 # one name per word
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
        --no-enhances $(sed 's/$/:arm64/' <<<"$deps") |
    grep -v '^ ' | grep ':arm64$' | sed 's/:arm64$//' | sort -u)
[ -n "$closure" ] || die "apt-cache found no arm64 dependencies of linux-perf (run scripts/prereqs.sh)"
missing=()
for p in $closure; do [ -n "$(cached "$p")" ] || missing+=("$p"); done
download "${missing[@]}"
debs=("$perf_deb")
for p in $closure; do
    d=$(cached "$p")
    [ -n "$d" ] || die "downloaded $p but no ${p}_*_arm64.deb in $DEBS"
    debs+=("$d")
done

key=$(
    {
        for d in "${debs[@]}"; do basename "$d"; done | sort
        echo "script $(sha256sum "$ROOT/scripts/linux-perf.sh" | cut -d' ' -f1)"
    } | sha256sum | cut -c1-16
)
tree=$OUTDIR/$key/root

publish() {
    if [ -n "$OUTFILE" ] && [ "$(cat "$OUTFILE" 2>/dev/null)" != "$tree" ]; then
        mkdir -p "$(dirname "$OUTFILE")"
        echo "$tree" >"$OUTFILE.tmp.$$" && mv -f "$OUTFILE.tmp.$$" "$OUTFILE"
    fi
    echo "$tree"
}

if [ -e "$OUTDIR/$key/.complete" ]; then
    say "up to date: $tree ($(cat "$OUTDIR/$key/VERSION"), key $key)"
    publish
    exit 0
fi

stage=$(mktemp -d)
work=$OUTDIR/.tmp.$key.$$
trap 'rm -rf "$stage" "$work"' EXIT
say "extracting ${#debs[@]} packages"
# Documentation, locales and the like are never loaded: skip usr/share while extracting.
for d in "${debs[@]}"; do
    dpkg-deb --fsys-tarfile "$d" | tar -x -C "$stage" --exclude='./usr/share/*' ||
        die "cannot extract $d"
done
[ -x "$stage/usr/bin/perf" ] || die "no usr/bin/perf in $perf_deb"

# find_lib SONAME: the extracted file the dynamic loader would pick for SONAME (the multiarch
# directories, in /lib and /usr/lib alike: bookworm's packages use both).
find_lib() {
    local dir
    for dir in lib/$MULTIARCH usr/lib/$MULTIARCH lib usr/lib; do
        if [ -e "$stage/$dir/$1" ]; then
            echo "$stage/$dir/$1"
            return 0
        fi
    done
    return 1
}
needed() { aarch64-linux-gnu-readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

mkdir -p "$work/root/usr/bin" "$work/root/usr/lib/$MULTIARCH"
cp "$stage/usr/bin/perf" "$work/root/usr/bin/perf"
# Breadth-first over DT_NEEDED, from perf itself. Each library is copied under its soname,
# dereferenced (the packages ship soname -> real-file symlinks).
queue=$(needed "$stage/usr/bin/perf")
seen=" "
while [ -n "$queue" ]; do
    next=""
    for so in $queue; do
        case $seen in *" $so "*) continue ;; esac
        seen="$seen$so "
        f=$(find_lib "$so") || die "no package of linux-perf's closure provides $so"
        cp -L "$f" "$work/root/usr/lib/$MULTIARCH/$so"
        next="$next $(needed "$f")"
    done
    queue=$next
done
# The interpreter perf names (/lib/ld-linux-aarch64.so.1), with /lib the usr/lib of the tree.
cp -L "$(find_lib ld-linux-aarch64.so.1)" "$work/root/usr/lib/ld-linux-aarch64.so.1"
ln -s usr/lib "$work/root/lib"
chmod -R u+w,go-w "$work/root"

nlibs=$(find "$work/root/usr/lib/$MULTIARCH" -type f | wc -l)
echo "linux-perf $(dpkg-deb -f "$perf_deb" Version)" >"$work/VERSION"
for d in "${debs[@]}"; do basename "$d"; done | sort >"$work/DEBS"
touch "$work/.complete"
# Entries of the shared cache are added, never replaced (another checkout may be using one); a
# concurrent run that finished first has made the same tree.
mv -T "$work" "$OUTDIR/$key" 2>/dev/null || [ -e "$OUTDIR/$key/.complete" ] || die "cannot create $OUTDIR/$key"
say "done: $tree ($(cat "$OUTDIR/$key/VERSION"), $nlibs libraries, $(du -sm "$tree" | cut -f1) MB, key $key)"
publish
