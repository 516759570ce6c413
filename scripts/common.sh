# shellcheck shell=bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Helpers shared by the host-side fetch/build scripts (sourced, not run). Every script caches its
# output under target/cache/ and writes each result under a temporary name first, then renames it,
# so an interrupted run never leaves something that looks complete.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CACHE:-$ROOT/target/cache}

if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi

# Options for apt-get download/source. As root, apt drops to the _apt user to download and warns
# when _apt cannot write the target directory; download as root directly instead.
APT_OPTS=(-qq)
if [ "$(id -u)" = 0 ]; then APT_OPTS+=(-o APT::Sandbox::User=root); fi

# say MESSAGE...: progress on stderr, prefixed with the script's name ($NAME).
say() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# need_tools TOOL...: run scripts/prereqs.sh once if any of the commands is missing.
need_tools() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            say "$t not found: running scripts/prereqs.sh"
            bash "$ROOT/scripts/prereqs.sh" >&2
            break
        fi
    done
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "$t still missing after scripts/prereqs.sh"
    done
}

# apt_retry CMD...: run an apt command; if it fails, run `apt-get update` once and retry
# (package lists on a fresh machine may be missing or stale).
apt_retry() {
    if ! "$@"; then
        say "'$*' failed: running apt-get update and retrying"
        $SUDO apt-get update -qq >&2
        "$@"
    fi
}

# newest PATTERN: print the path matching the glob PATTERN with the highest version (sort -V),
# or nothing when none matches.
newest() {
    local files
    # shellcheck disable=SC2206 # the pattern is meant to be expanded here
    files=($1)
    [ -e "${files[0]}" ] || return 0
    printf '%s\n' "${files[@]}" | sort -V | tail -n1
}
