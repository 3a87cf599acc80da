#!/usr/bin/env bash
# Measures how long `udpmsg send --ack` takes to end once its listener dies
# mid-stream: `seq 1 LINES | udpmsg send --ack HOST -` to a listener that is
# killed (SIGKILL) once it has shown FIRST lines; the time from the kill to
# the sender's exit, its exit code and its last words, RUNS times. As root,
# entirely inside a private network namespace (`unshare -n`, only lo).
#
#   sudo scripts/bench-gone.sh
#   sudo RUNS=5 LINES=50000 FIRST=500 scripts/bench-gone.sh
#   sudo UDPMSG_BIN=/tmp/udpmsg-old SEND_LIMIT=400 scripts/bench-gone.sh
#
# UDPMSG_BIN: measure this binary instead of building the working tree.
# Either way the script runs a private copy. Every sender runs under
# `timeout SEND_LIMIT` (exit 124: it was still going then); the whole
# script under `timeout`; listeners and files are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
LINES=${LINES:-50000}
FIRST=${FIRST:-500}
SEND_LIMIT=${SEND_LIMIT:-90}

if [ "${1:-}" != --in-netns ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench-gone.sh: needs root (a network namespace)" >&2
        exit 1
    fi
    for cmd in unshare ip timeout seq; do
        command -v "$cmd" >/dev/null 2>&1 || {
            echo "bench-gone.sh: $cmd is not installed" >&2
            exit 1
        }
    done
    WORK=$(mktemp -d /tmp/bench-gone.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    if [ -n "${UDPMSG_BIN:-}" ]; then
        cp "$UDPMSG_BIN" "$WORK/udpmsg"
        BUILT="binary $UDPMSG_BIN (UDPMSG_BIN; HEAD is $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
    else
        echo "building..." >&2
        cargo build --release --quiet
        cp target/release/udpmsg "$WORK/udpmsg"
        BUILT="built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    fi
    echo "udpmsg: $BUILT"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; kernel $(uname -r)"
    echo "runs: $RUNS; $LINES lines, the listener killed after $FIRST shown; sender limit ${SEND_LIMIT}s"
    # Bounded as a whole: every run is at most SEND_LIMIT plus a few seconds.
    timeout $(((SEND_LIMIT + 15) * RUNS + 30)) \
        unshare -n env RUNS="$RUNS" LINES="$LINES" FIRST="$FIRST" SEND_LIMIT="$SEND_LIMIT" \
        "$0" --in-netns "$WORK"
    exit
fi

# Inside the namespace: only lo, nothing reaches a real interface.
WORK=$2
BIN=$WORK/udpmsg
ip link set lo up
LISTENER=
SENDER=
cleanup() {
    for pid in $LISTENER $SENDER; do
        kill -9 "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

now() { date +%s.%N; }

for run in $(seq 1 "$RUNS"); do
    out=$WORK/out.$run
    err=$WORK/err.$run
    port=$((47100 + run))
    # Not under `timeout`: the kill must reach the listener itself.
    "$BIN" listen --bind 127.0.0.1 --port "$port" >"$out" 2>"$out.err" &
    LISTENER=$!
    for _ in $(seq 1 200); do
        grep -q "listening on" "$out.err" 2>/dev/null && break
        sleep 0.05
    done
    seq 1 "$LINES" | timeout "$SEND_LIMIT" "$BIN" send --ack "127.0.0.1:$port" - 2>"$err" &
    SENDER=$!
    for _ in $(seq 1 5000); do
        [ "$(wc -l <"$out")" -ge "$FIRST" ] && break
        sleep 0.002
    done
    kill -9 "$LISTENER"
    t0=$(now)
    wait "$LISTENER" 2>/dev/null || true
    LISTENER=
    shown=$(wc -l <"$out")
    rc=0
    wait "$SENDER" || rc=$?
    t1=$(now)
    SENDER=
    awk -v run="$run" -v shown="$shown" -v rc="$rc" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "run %d: %d shown when killed; exit %d; death to exit %.3f s\n", run, shown, rc, t1 - t0 }'
    sed 's/^/    /' "$err"
done
