# shellcheck shell=bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Shared by scripts/linux-6.12.sh (build the patched kernel) and scripts/linux-series-check.sh
# (checkpatch and build after each patch); sourced after common.sh. See docs/linux.md.
#
# Everything heavy lives outside the clone, in $PMUP_CACHE (default ~/.cache/pmu-partition), so
# that a fresh clone (CI) reuses it; `make clean` and a new worktree never throw it away:
#   linux-6.12/debs/        linux-source-6.12_<version>_all.deb (the download cache)
#   linux-6.12/src/<ver>/   the pristine tree, a git repository: tag pmup-base is the commit
#                           "Debian linux-source-6.12 <version>", branch pmup-series the series on it
#   linux-6.12/ccache/      the compiler cache (CCACHE_DIR)
#   linux-6.12/build/<key>/ one O= build dir per key (at most 2 kept: the newest used)
#   linux-6.12/check/<ver>/ the O= dir of the per-patch builds (incremental, reused)
#   linux-6.12/checks/      one stamp per series check that passed
#   linux-6.12/.lock        held while a script moves the tree's branch

PMUP_CACHE=${PMUP_CACHE:-$HOME/.cache/pmu-partition}
L612=$PMUP_CACHE/linux-6.12
# Debian's version of linux-source-6.12 the series is written against. The archive drops old
# security uploads, so a missing one falls back to the newest 6.12 (with a warning).
L612_PIN=${LINUX612_VERSION:-6.12.117-1~deb12u1}
L612_PATCHES=$ROOT/host-driver/linux/patches
L612_FRAGMENT=$ROOT/host-driver/linux/qemu-virt.config
# Stable paths for the rest of the build, inside the clone.
L612_OUT=$CACHE/linux-6.12

export CCACHE_DIR=$L612/ccache
# The cold build fills about 25 MB; this leaves room for several versions and series.
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}

# Every kernel make runs niced: the machine's cores are shared. LOCALVERSION= (set, empty) keeps
# the release string at the plain version: without it, setlocalversion appends "+" because the
# tree is a git repository, and the release would depend on the branch's state.
l612_make() {
    local tree=$1
    shift
    nice -n 10 make -C "$tree" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
        CC="ccache aarch64-linux-gnu-gcc" LOCALVERSION= "$@"
}

# The series proper: every numbered patch but the cover letter, in order.
l612_series() {
    local f
    for f in "$L612_PATCHES"/[0-9][0-9][0-9][0-9]-*.patch; do
        [ -e "$f" ] || continue
        case ${f##*/} in 0000-*) continue ;; esac
        echo "$f"
    done | LC_ALL=C sort
}

l612_sha() { sha256sum "$@" | cut -d' ' -f1; }

# The deb's name as apt-get download writes it (an epoch's colon becomes %3a).
l612_deb_path() { echo "$L612/debs/linux-source-6.12_${1//:/%3a}_all.deb"; }

# Directory-safe form of a Debian version.
l612_dirname() { echo "$1" | tr '~:+' '___'; }

# l612_resolve_version: print the Debian version to build. Offline when the pinned .deb (or a
# fallback recorded earlier) is in the download cache; otherwise downloads it.
l612_resolve_version() {
    local pin=$L612_PIN deb fallback newest v
    deb=$(l612_deb_path "$pin")
    fallback=$L612/debs/fallback-for-$(l612_dirname "$pin")
    if [ -s "$deb" ]; then
        echo "$pin"
        return
    fi
    if [ -s "$fallback" ] && [ -s "$(l612_deb_path "$(cat "$fallback")")" ]; then
        say "WARNING: linux-source-6.12 $pin is not in the archive; using $(cat "$fallback") (recorded earlier)"
        say "WARNING: the series was written against $pin: pin the new version (LINUX612_VERSION) once it applies"
        cat "$fallback"
        return
    fi
    need_tools apt-get apt-cache dpkg-deb
    mkdir -p "$L612/debs"
    if l612_download "$pin"; then
        echo "$pin"
        return
    fi
    # The pinned upload is gone (Debian keeps only some security uploads): take the newest 6.12
    # the archive has, loudly, and remember the choice so that later runs stay offline.
    newest=
    for v in $(apt-cache madison linux-source-6.12 | awk -F'|' '{gsub(/ /, "", $2); print $2}'); do
        if [ -z "$newest" ] || dpkg --compare-versions "$v" gt "$newest"; then newest=$v; fi
    done
    [ -n "$newest" ] || die "no linux-source-6.12 in the archive at all (is bookworm-security in the apt sources?)"
    say "WARNING: linux-source-6.12 $pin is no longer in the archive: falling back to the newest, $newest"
    say "WARNING: the series was written against $pin and may not apply to $newest"
    l612_download "$newest" || die "cannot download linux-source-6.12 $newest either"
    echo "$newest" >"$fallback.tmp.$$"
    mv "$fallback.tmp.$$" "$fallback"
    echo "$newest"
}

# l612_download VERSION: fetch the .deb into the download cache (whole, or not at all).
l612_download() {
    local v=$1 scratch=$L612/debs/.download.$$ ok=0
    [ -s "$(l612_deb_path "$v")" ] && return 0
    rm -rf "$scratch"
    mkdir -p "$scratch"
    say "downloading linux-source-6.12 $v (about 145 MiB)"
    # The package is Architecture: all. apt_retry updates the lists once if they are stale.
    if (cd "$scratch" && apt_retry apt-get download "${APT_OPTS[@]}" "linux-source-6.12=$v") >&2; then
        local got
        got=$(find "$scratch" -name 'linux-source-6.12_*_all.deb' | head -n1)
        if [ -n "$got" ] && [ "$(dpkg-deb -f "$got" Version)" = "$v" ]; then
            mv "$got" "$(l612_deb_path "$v")"
            ok=1
        fi
    fi
    rm -rf "$scratch"
    [ "$ok" = 1 ]
}

# l612_tree VERSION: print the pristine tree's path, unpacking it and making it a git repository
# (one commit, tag pmup-base) the first time. A tree is complete once .git/pmup-pristine exists.
l612_tree() {
    local v=$1 dir tmp tarball
    dir=$L612/src/$(l612_dirname "$v")
    if [ -e "$dir/.git/pmup-pristine" ]; then
        echo "$dir"
        return
    fi
    need_tools dpkg-deb tar xz git
    tmp=$dir.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp/deb"
    say "unpacking linux-source-6.12 $v into $dir"
    dpkg-deb -x "$(l612_deb_path "$v")" "$tmp/deb"
    tarball=$(find "$tmp/deb/usr/src" -maxdepth 1 -name 'linux-source-6.12.tar.*' | head -n1)
    [ -n "$tarball" ] || die "no /usr/src/linux-source-6.12.tar.* in the .deb of $v"
    tar -xf "$tarball" -C "$tmp"
    [ -f "$tmp/linux-source-6.12/Makefile" ] || die "the tarball of $v has no linux-source-6.12/Makefile"
    rm -rf "$tmp/deb"
    # One commit of exactly the tarball (-f: also what the kernel's .gitignore lists), with a fixed
    # identity and date, so the base commit's id is the same on every machine and a series made
    # with `git format-patch` names it as its base.
    (
        cd "$tmp/linux-source-6.12"
        git init -q -b pmup-base-branch .
        git config user.name "pmu-partition build"
        git config user.email "build@pmu-partition.invalid"
        # The tree is big and nobody runs gc by hand on a cache.
        git config gc.auto 0
        git add -A -f .
        GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
            git commit -q -m "Debian linux-source-6.12 $v"
        git tag pmup-base
        git checkout -q -b pmup-series
        git branch -q -D pmup-base-branch
    ) >&2
    touch "$tmp/linux-source-6.12/.git/pmup-pristine"
    rm -rf "$dir"
    mv "$tmp/linux-source-6.12" "$dir"
    rm -rf "$tmp"
    say "pristine tree: $dir (tag pmup-base = $(git -C "$dir" rev-parse --short pmup-base))"
    echo "$dir"
}

# l612_refuse_dirty TREE: stop rather than throw away someone's uncommitted edits in the tree.
l612_refuse_dirty() {
    if [ -n "$(git -C "$1" status --porcelain --untracked-files=no)" ]; then
        die "$1 has uncommitted changes: commit them on a branch of your own (or stash them) first"
    fi
}

# l612_series_hash: identifies the series' content (the patches that apply, not the cover letter).
l612_series_hash() {
    local f
    for f in $(l612_series); do echo "${f##*/} $(l612_sha "$f")"; done | l612_sha -
}

# l612_apply_series TREE: branch pmup-series = pmup-base + every patch (git am), checked out.
# Skipped when the branch already holds exactly this series and the tree is clean.
l612_apply_series() {
    local tree=$1 want have f
    want=$(l612_series_hash)
    have=$(cat "$tree/.git/pmup-series-hash" 2>/dev/null || true)
    l612_refuse_dirty "$tree"
    if [ "$want" = "$have" ] && [ "$(git -C "$tree" symbolic-ref -q HEAD || true)" = refs/heads/pmup-series ]; then
        return
    fi
    rm -f "$tree/.git/pmup-series-hash"
    git -C "$tree" checkout -q -f -B pmup-series pmup-base
    for f in $(l612_series); do
        if ! git -C "$tree" am -q "$f" >&2; then
            git -C "$tree" am --abort >&2 || true
            die "${f##*/} does not apply (git am) onto linux-source-6.12 $(git -C "$tree" log -1 --format=%s pmup-base)"
        fi
    done
    echo "$want" >"$tree/.git/pmup-series-hash"
    say "series applied: $(l612_series | wc -l) patch(es) on pmup-base, branch pmup-series"
}

# l612_configure TREE O: tinyconfig + the fragment + olddefconfig in O, then the fragment check.
l612_configure() {
    local tree=$1 o=$2
    mkdir -p "$o"
    l612_make "$tree" O="$o" -s tinyconfig >/dev/null
    (cd "$tree" && scripts/kconfig/merge_config.sh -m -O "$o" "$o/.config" "$L612_FRAGMENT") >"$o/merge_config.log" 2>&1 ||
        { cat "$o/merge_config.log" >&2; die "merge_config.sh failed"; }
    l612_make "$tree" O="$o" -s olddefconfig >/dev/null
    l612_check_fragment "$o" "$tree"
}

# l612_check_fragment O [TREE]: every CONFIG_ line of the fragment is in O/.config (olddefconfig
# silently drops what it cannot set, e.g. after a patch changes a dependency). With TREE (the
# series check, part way through the series), options no Kconfig of TREE defines yet are skipped:
# the series adds them in a later patch.
l612_check_fragment() {
    local o=$1 tree=${2:-} line sym lost=0
    while IFS= read -r line; do
        case $line in CONFIG_*) ;; *) continue ;; esac
        if [ -n "$tree" ]; then
            sym=${line%%=*}
            git -C "$tree" grep -q "^config ${sym#CONFIG_}\$" -- '*Kconfig*' || continue
        fi
        if ! grep -qxF "$line" "$o/.config"; then
            say "config: '$line' from the fragment did not survive olddefconfig (now: $(grep -E "^(# )?${line%%=*}[= ]" "$o/.config" || echo absent))"
            lost=1
        fi
    done <"$L612_FRAGMENT"
    [ "$lost" = 0 ] || die "the config fragment $L612_FRAGMENT is not fully applied (see above)"
}

# l612_build TREE O LOG: Image and modules (Module.symvers, for out-of-tree modules), output in LOG.
l612_build() {
    local tree=$1 o=$2 log=$3
    if ! l612_make "$tree" O="$o" -j"$(nproc)" Image modules >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        return 1
    fi
}
