#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Usage: scripts/linux-series-check.sh
#
# Checks the Linux series in host-driver/linux/patches/ the way a maintainer would before it
# goes out, and fails on the first problem:
#  (a) checkpatch: `scripts/checkpatch.pl --strict` of the pristine tree on every patch. No
#      ERROR. Every WARNING and CHECK that stays must be named in the cover letter
#      (0000-cover-letter.patch), on a line holding the patch's number and the type checkpatch
#      gives it (--show-types), e.g.
#          0002 CHECK:MACRO_ARG_REUSE: the argument is a plain variable at every call site
#      One such line covers every occurrence of that type in that patch. The cover letter must
#      not keep git format-patch's "*** SUBJECT HERE ***" / "*** BLURB HERE ***" placeholders,
#      and the patches must be numbered 0001..N without gaps.
#      Before that, checkpatch is run on two patches made up here (one with an error, one
#      without), so that a checkpatch that does not run, or output this script no longer
#      understands, fails instead of passing an empty list.
#  (b) bisectability: the tree is configured once (tinyconfig + fragment) in its own O= dir and
#      built at pmup-base, then after each patch in order (git am one at a time; olddefconfig
#      and the fragment check each time, as a patch may add Kconfig symbols). Incremental and
#      through ccache: seconds per patch once the dir exists.
# With no patches, (a) runs only the self-test and (b) builds the base: the pipeline is checked.
#
# The result is cached per build key (scripts/linux-6.12.sh --key) and this script's own hash:
# a second run with nothing changed prints "up to date" and does nothing. The tree's branch is
# always put back to pmup-series, as scripts/linux-6.12.sh left it.
set -euo pipefail
NAME=series-check
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=linux-6.12-lib.sh
. "$ROOT/scripts/linux-6.12-lib.sh"

# The pristine tree (fetched and unpacked on first use). Not the full build: a series whose tip
# does not build must still be told which patch broke it.
bash "$ROOT/scripts/linux-6.12.sh" --tree >/dev/null
key=$(bash "$ROOT/scripts/linux-6.12.sh" --key)
check_hash=$(l612_sha "$ROOT/scripts/linux-series-check.sh" | cut -c1-16)
stamp=$L612/checks/$key-$check_hash
if [ -s "$stamp" ]; then
    say "up to date (key $key): $(tail -n1 "$stamp")"
    exit 0
fi

version=$(l612_resolve_version)
exec 9>"$L612/.lock"
flock 9
tree=$(l612_tree "$version")
l612_refuse_dirty "$tree"
mapfile -t series < <(l612_series)
cover=$L612_PATCHES/0000-cover-letter.patch
report=$(mktemp)
work=$(mktemp -d)
restore() {
    git -C "$tree" am --abort >/dev/null 2>&1 || true
    git -C "$tree" checkout -q -f pmup-series || true
    rm -rf "$work" "$report"
}
trap restore EXIT

git -C "$tree" checkout -q -f --detach pmup-base

# ---- (a) checkpatch ------------------------------------------------------------------------

# findings PATCH: "TYPE-CLASS:TYPE_NAME" for each finding, e.g. "WARNING:LONG_LINE".
findings() {
    # checkpatch exits 1 whenever it reports anything: its output is what counts.
    # Debian's python3 first: checkpatch runs scripts/spdxcheck.py, which needs its ply and git
    # modules (a pyenv python3 earlier on PATH would not have them).
    (cd "$tree" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict --show-types --no-summary --color=never "$1" || true) >"$work/out"
    grep -oE '^(ERROR|WARNING|CHECK):[A-Z0-9_]+' "$work/out" || true
}

# Self-test: original made-up patches, one with trailing whitespace (an ERROR), one without.
selftest_patch() {
    cat <<EOF
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Series Check <series-check@pmu-partition.invalid>
Date: Sat, 1 Jan 2000 00:00:00 +0000
Subject: [PATCH] perf: series check self-test

This change exists only to see checkpatch answer.

Signed-off-by: Series Check <series-check@pmu-partition.invalid>
---
 drivers/perf/arm_pmu.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/drivers/perf/arm_pmu.c b/drivers/perf/arm_pmu.c
index 1111111111111..2222222222222 100644
--- a/drivers/perf/arm_pmu.c
+++ b/drivers/perf/arm_pmu.c
@@ -10,2 +10,3 @@
 /* context line one */
+/* series check self-test */$1
 /* context line two */
--
2.39.5

EOF
}
selftest_patch "  " >"$work/bad.patch"
selftest_patch "" >"$work/good.patch"
bad=$(findings "$work/bad.patch")
good=$(findings "$work/good.patch")
grep -qx 'ERROR:TRAILING_WHITESPACE' <<<"$bad" ||
    die "checkpatch self-test: trailing whitespace not reported as ERROR:TRAILING_WHITESPACE (got: ${bad:-nothing}; output: $(cat "$work/out"))"
! grep -q '^ERROR:' <<<"$good" || die "checkpatch self-test: errors in a clean patch: $good"
say "checkpatch self-test ok (it reports an error it should and none it should not)"

if [ ${#series[@]} -gt 0 ]; then
    [ -s "$cover" ] || die "the series has ${#series[@]} patch(es) but no 0000-cover-letter.patch (git format-patch --cover-letter)"
    ! grep -qE '\*\*\* (SUBJECT|BLURB) HERE \*\*\*' "$cover" || die "the cover letter still has format-patch's placeholders"
fi
n=0
fail=0
for p in "${series[@]}"; do
    n=$((n + 1))
    num=$(printf '%04d' "$n")
    base=${p##*/}
    [ "${base:0:4}" = "$num" ] || die "patch $base: expected number $num (the series must be 0001..N without gaps)"
    f=$(findings "$p")
    errors=$(grep -c '^ERROR:' <<<"$f" || true)
    if [ "$errors" != 0 ]; then
        cat "$work/out" >&2
        say "$base: $errors checkpatch ERROR(s): $(grep '^ERROR:' <<<"$f" | sort -u | tr '\n' ' ')"
        fail=1
    fi
    for t in $(grep -E '^(WARNING|CHECK):' <<<"$f" | sort -u); do
        if ! grep -wF "$num" "$cover" | grep -qwF "$t"; then
            say "$base: $t is not explained in the cover letter (a line with '$num' and '$t')"
            fail=1
        else
            echo "$base $t (explained in the cover letter)" >>"$report"
        fi
    done
    say "$base: checkpatch $(grep -c . <<<"$f" || true) finding(s), ${errors} error(s)"
done
[ "$fail" = 0 ] || die "checkpatch: see above"

# ---- (b) each patch builds on its own --------------------------------------------------------

o=$L612/check/$(l612_dirname "$version")
frag_hash=$(l612_sha "$L612_FRAGMENT")
if [ "$(cat "$o/.pmup-fragment" 2>/dev/null || true)" != "$frag_hash" ]; then
    say "configuring the check build dir $o"
    rm -f "$o/.pmup-fragment"
    l612_configure "$tree" "$o"
    echo "$frag_hash" >"$o/.pmup-fragment"
fi

# step NAME: configure for what the tree now holds and build it.
step() {
    local t0=$SECONDS
    # The fragment again: an option a patch introduces was dropped while the tree lacked it.
    (cd "$tree" && scripts/kconfig/merge_config.sh -m -O "$o" "$o/.config" "$L612_FRAGMENT") >"$o/merge_config.log" 2>&1 ||
        { cat "$o/merge_config.log" >&2; die "merge_config.sh failed"; }
    l612_make "$tree" O="$o" -s olddefconfig >/dev/null
    l612_check_fragment "$o" "$tree"
    if ! l612_build "$tree" "$o" "$o/build.log"; then
        die "the tree does not build after $1 (log: $o/build.log)"
    fi
    say "builds after $1 ($((SECONDS - t0)) s)"
    echo "builds after $1" >>"$report"
}
step "pmup-base (no patch)"
for p in "${series[@]}"; do
    if ! git -C "$tree" am -q "$p" >&2; then
        die "${p##*/} does not apply on the patches before it"
    fi
    step "${p##*/}"
done

mkdir -p "$L612/checks"
echo "ok: ${#series[@]} patch(es), checkpatch clean or explained, each builds" >>"$report"
cp "$report" "$stamp.tmp.$$"
mv "$stamp.tmp.$$" "$stamp"
# Only this series' latest result matters; old stamps are a few bytes each, but keep the dir short.
find "$L612/checks" -type f -mtime +30 -delete
say "series check: ok (${#series[@]} patch(es), key $key)"
