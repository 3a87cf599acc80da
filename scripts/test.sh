#!/usr/bin/env bash
# Runs every test: unit, wire golden vectors, and the real binary on real
# sockets inside private network namespaces. As root it first installs, when
# missing, the tools the tests use (iproute2, nftables, socat, OpenBSD nc,
# tmux, man-db and groff for the manual page, python3 with PyNaCl and
# blake3). Not as root, the
# tests that need a network namespace FAIL, unless UDPMSG_SKIP_NETNS=1 is
# set: then each prints a SKIPPED line and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package, and a command that shows it is there where dpkg is not.
packages=(iproute2:ip nftables:nft socat:socat netcat-openbsd:nc tmux:tmux man-db:man groff-base:groff)

installed() {
    local pkg=$1 cmd=$2
    if command -v dpkg-query >/dev/null 2>&1; then
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ]
    else
        command -v "$cmd" >/dev/null 2>&1
    fi
}

if [ "$(id -u)" = 0 ]; then
    need=()
    for entry in "${packages[@]}"; do
        installed "${entry%%:*}" "${entry#*:}" || need+=("${entry%%:*}")
    done
    # Any python3 will do (the peer tests use only its standard library).
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing ${need[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    # PyNaCl and blake3: the sealing example of docs/PROTOCOL.md section 9
    # is run against the binary (tests/unix.rs). Pinned, from PyPI.
    if ! python3 -c 'import nacl, blake3' 2>/dev/null; then
        echo "installing PyNaCl and blake3 for python3" >&2
        python3 -m pip install -q --disable-pip-version-check pynacl==1.6.2 blake3==1.0.11 ||
            python3 -m pip install -q --disable-pip-version-check --break-system-packages \
                pynacl==1.6.2 blake3==1.0.11
    fi
elif [ "${UDPMSG_SKIP_NETNS:-}" = 1 ]; then
    echo "*** not root, UDPMSG_SKIP_NETNS=1: tests that need a network namespace will be SKIPPED ***" >&2
else
    echo "*** not root: tests that need a network namespace will FAIL; run as root, or set UDPMSG_SKIP_NETNS=1 to skip them ***" >&2
fi
cargo test --locked "$@"
