#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# The Rust toolchain that rust-toolchain.toml names, with every target and component it lists.
#
#   scripts/rust-toolchain.sh           install whatever is missing, then check
#   scripts/rust-toolchain.sh --check   only check: exit 1 and name each missing piece
#
# Everything is installed by explicit rustup commands (toolchain install, target add, component
# add): rustup 1.28 stopped installing anything from `rustup show`, and the toolchain cargo
# installs on first use brings neither the file's targets nor its components. The check asks
# rustup for each piece by name, so a machine that has some targets but not others is caught.
# RUSTUP_HOME and CARGO_HOME are honoured (tests/integration/tests/prereqs.rs runs this against a
# throwaway RUSTUP_HOME to prove the install path from nothing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILE=$ROOT/rust-toolchain.toml
say() { printf '\033[1m[rust-toolchain]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# toml_string KEY / toml_list KEY: the [toolchain] table is flat, one `key = value` per line.
toml_string() { sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$FILE"; }
toml_list() {
    sed -n "s/^$1[[:space:]]*=[[:space:]]*\\[\\(.*\\)\\].*/\\1/p" "$FILE" | tr ',' '\n' |
        sed -n 's/^[[:space:]]*"\([^"]*\)"[[:space:]]*$/\1/p'
}

CHANNEL=$(toml_string channel)
PROFILE=$(toml_string profile)
mapfile -t TARGETS < <(toml_list targets)
mapfile -t COMPONENTS < <(toml_list components)
[ -n "$CHANNEL" ] || die "no channel in $FILE"
[ ${#TARGETS[@]} -gt 0 ] || die "no targets in $FILE"

check_only=0
[ "${1:-}" = --check ] && check_only=1

# Where rustup lives when it was installed for this user but is not on PATH yet.
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) PATH=$CARGO_BIN:$PATH ;; esac

if ! command -v rustup >/dev/null 2>&1; then
    [ $check_only = 1 ] && { echo "missing: rustup"; exit 1; }
    say "rustup not found: installing it from static.rust-lang.org (no default toolchain)"
    command -v curl >/dev/null || die "curl is needed to fetch rustup-init"
    arch=$(uname -m)
    tmp=$(mktemp -d)
    curl --proto '=https' --tlsv1.2 -sSf -o "$tmp/rustup-init" \
        "https://static.rust-lang.org/rustup/dist/$arch-unknown-linux-gnu/rustup-init"
    chmod +x "$tmp/rustup-init"
    "$tmp/rustup-init" -y --no-modify-path --profile minimal --default-toolchain none >&2
    rm -rf "$tmp"
    command -v rustup >/dev/null || die "rustup-init ran but rustup is not in $CARGO_BIN"
fi

# missing: one line per piece rustup does not have, e.g. "target aarch64-unknown-none-softfloat".
missing() {
    if ! rustup toolchain list 2>/dev/null | grep -q "^$CHANNEL-"; then
        echo "toolchain $CHANNEL"
        for t in "${TARGETS[@]}"; do echo "target $t"; done
        for c in "${COMPONENTS[@]}"; do echo "component $c"; done
        return
    fi
    local have_targets have_components t c
    have_targets=$(rustup target list --installed --toolchain "$CHANNEL" 2>/dev/null)
    have_components=$(rustup component list --installed --toolchain "$CHANNEL" 2>/dev/null)
    for t in "${TARGETS[@]}"; do
        grep -qx "$t" <<<"$have_targets" || echo "target $t"
    done
    # Installed components are listed with the host triple appended (clippy-x86_64-unknown-...).
    for c in "${COMPONENTS[@]}"; do
        grep -q "^$c-" <<<"$have_components" || echo "component $c"
    done
}

if [ $check_only = 1 ]; then
    gaps=$(missing)
    [ -z "$gaps" ] && exit 0
    sed 's/^/missing: /' <<<"$gaps"
    exit 1
fi

gaps=$(missing)
if [ -n "$gaps" ]; then
    say "installing Rust $CHANNEL: $(tr '\n' ' ' <<<"$gaps")"
    # --no-self-update: a throwaway RUSTUP_HOME has no rustup binary of its own to update.
    rustup toolchain install "$CHANNEL" --profile "${PROFILE:-minimal}" --no-self-update >&2
    rustup target add --toolchain "$CHANNEL" "${TARGETS[@]}" >&2
    [ ${#COMPONENTS[@]} -eq 0 ] || rustup component add --toolchain "$CHANNEL" "${COMPONENTS[@]}" >&2
fi
gaps=$(missing)
[ -z "$gaps" ] || die "still missing after installing: $(tr '\n' ' ' <<<"$gaps")"
say "Rust $CHANNEL with ${TARGETS[*]} and ${COMPONENTS[*]}: ok"
