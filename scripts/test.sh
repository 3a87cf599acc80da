#!/usr/bin/env bash
# Runs every test: unit, wire golden vectors, and the real binary on real
# sockets inside private network namespaces. As root it first installs what
# the namespace tests need (iproute2, nftables); not as root, those tests are
# skipped with a loud message.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    need=()
    command -v ip >/dev/null 2>&1 || need+=(iproute2)
    command -v nft >/dev/null 2>&1 || need+=(nftables)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
else
    echo "*** not root: tests that need network namespaces will be SKIPPED ***" >&2
fi
cargo test --locked "$@"
