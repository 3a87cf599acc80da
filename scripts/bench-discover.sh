#!/usr/bin/env bash
# Discovery benchmark on a namespace LAN (scripts/lan.sh, tag bdsc_): 51
# hosts, `udpmsg listen --name hK` on hosts 2..51, then from host 1 RUNS x
# `udpmsg discover --expect 50 --timeout 3s --json`, each timed from start to
# exit (which includes the few ms of `ip netns exec`). Prints one row per run
# (run, ms, found), then the median and worst time and the listeners missed
# over all runs. Goal: all 50 found every run, median < 100 ms.
#
# Needs root and iproute2. Nothing touches a real interface: every socket is
# inside the LAN's namespaces, which are deleted on exit, failure or Ctrl-C.
#
#   sudo scripts/bench-discover.sh              # 20 runs back to back
#   sudo RUNS=50 PAUSE=0.2 scripts/bench-discover.sh
#   sudo UDPMSG_BIN=target/bench-rev/target/release/udpmsg scripts/bench-discover.sh
#
# UDPMSG_BIN: benchmark this binary instead of building the working tree
# (either way a private copy runs, so a concurrent build cannot swap it).
#
# LOSS (percent, default 0): nftables drops that share of the UDP datagrams
# arriving at every host (input hook, IPv4 and IPv6; the prober's answers
# as well as the listeners' probes). DISCOVER_TIMEOUT (default 3s; the word
# "default" gives no --timeout, discover's own default) and EXPECT (default
# 1; 0 runs without --expect, so each run lasts its whole timeout, as a
# user's plain `discover -t 3s` does) shape the discover command. With loss
# the goal is only "none missed".
#
#   sudo LOSS=30 EXPECT=0 RUNS=30 scripts/bench-discover.sh
#
# PAUSE (seconds between runs, default 0) matters: a listener answers one
# source address at most 30 times a second (burst 30, src/listen.rs
# ANSWERS_PER_SOURCE), and a scan costs one answer per round it lasts and
# address family (each family has its own source address), so scans faster
# than about 30 a second, or long ones, can be rate limited.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

HOSTS=51
LISTENERS=$((HOSTS - 1))
RUNS=${RUNS:-20}
PAUSE=${PAUSE:-0}
LOSS=${LOSS:-0}
DISCOVER_TIMEOUT=${DISCOVER_TIMEOUT:-3s}
EXPECT=${EXPECT:-1}
READY_TIMEOUT_S=15
# Safety net: a listener ends by itself even if this script is SIGKILLed.
LISTEN_LIFETIME=900s

die() {
    echo "bench-discover.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || die "needs ip (iproute2)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ $PAUSE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PAUSE must be a number of seconds, not '$PAUSE'"
if ! [[ $LOSS =~ ^[0-9]+$ ]] || [ "$LOSS" -gt 99 ]; then
    die "LOSS must be a percentage 0..99, not '$LOSS'"
fi
[[ $EXPECT =~ ^[01]$ ]] || die "EXPECT must be 0 or 1, not '$EXPECT'"
# The discover command, and a time limit for one run (its timeout + 10 s).
DISCOVER_ARGS=(discover --json)
[ "$EXPECT" = 1 ] && DISCOVER_ARGS+=(--expect "$LISTENERS")
RUN_LIMIT=10
case $DISCOVER_TIMEOUT in
    default) ;;
    *[0-9]ms) DISCOVER_ARGS+=(--timeout "$DISCOVER_TIMEOUT") ;;
    *[0-9]s) DISCOVER_ARGS+=(--timeout "$DISCOVER_TIMEOUT") RUN_LIMIT=$((${DISCOVER_TIMEOUT%s} + 10)) ;;
    *) die "DISCOVER_TIMEOUT must be like 3s, 500ms or 'default', not '$DISCOVER_TIMEOUT'" ;;
esac
[ "$LOSS" = 0 ] || command -v nft >/dev/null 2>&1 || die "LOSS needs nft (nftables)"

cd "$(dirname "$0")/.."
ROOT=$PWD
LAN="$ROOT/scripts/lan.sh"
# Owned by this script (its pid): a concurrent run or test gets a LAN of its
# own, and if this script is killed, the next lan.sh up deletes the leftover.
PREFIX=$(bash "$LAN" prefix bdsc_ $$)
BIN="$ROOT/target/release/udpmsg"

TMP=
LISTENER_PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${LISTENER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${LISTENER_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    # Also kills anything still inside the namespaces.
    bash "$LAN" down "$PREFIX" || echo "bench-discover.sh: lan.sh down $PREFIX failed" >&2
    [ -n "$TMP" ] && rm -rf "$TMP"
    [ "$rc" = 0 ] || echo "bench-discover.sh: stopped (exit $rc); LAN $PREFIX removed" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d)
if [ -n "${UDPMSG_BIN:-}" ]; then
    [ -x "$UDPMSG_BIN" ] || die "UDPMSG_BIN=$UDPMSG_BIN is not an executable"
    cp "$UDPMSG_BIN" "$TMP/udpmsg"
    BUILT="binary $UDPMSG_BIN (UDPMSG_BIN; HEAD is $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
else
    cargo build --release --quiet
    [ -x "$BIN" ] || die "no binary at $BIN after cargo build --release"
    cp "$BIN" "$TMP/udpmsg"
    dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
    BUILT="built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty:+ with uncommitted changes in: $dirty}"
fi
BIN=$TMP/udpmsg
echo "udpmsg: $BUILT"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; kernel $(uname -r)"

echo "LAN: $HOSTS hosts (prefix $PREFIX)" >&2
bash "$LAN" up "$PREFIX" "$HOSTS" >"$TMP/hosts"
if [ "$LOSS" != 0 ]; then
    for ((k = 1; k <= HOSTS; k++)); do
        ip netns exec "${PREFIX}h$k" nft -f - <<EOF
table inet fault {
  chain in { type filter hook input priority 0; meta l4proto udp numgen random mod 100 < $LOSS drop; }
}
EOF
    done
    echo "$LOSS% of UDP datagrams dropped on every host's input" >&2
fi

for ((k = 2; k <= HOSTS; k++)); do
    ip netns exec "${PREFIX}h$k" "$BIN" listen --name "h$k" --timeout "$LISTEN_LIFETIME" \
        </dev/null >/dev/null 2>"$TMP/listen$k.err" &
    LISTENER_PIDS+=($!)
done

# Every listener must have reported its bound address.
deadline=$((SECONDS + READY_TIMEOUT_S))
while :; do
    pending=0
    for ((k = 2; k <= HOSTS; k++)); do
        grep -q 'listening on' "$TMP/listen$k.err" 2>/dev/null || pending=$((pending + 1))
    done
    [ "$pending" = 0 ] && break
    for ((k = 2; k <= HOSTS; k++)); do
        pid=${LISTENER_PIDS[k - 2]}
        if ! kill -0 "$pid" 2>/dev/null; then
            die "listener h$k exited early: $(cat "$TMP/listen$k.err")"
        fi
    done
    [ "$SECONDS" -lt "$deadline" ] || die "$pending listener(s) not bound within ${READY_TIMEOUT_S}s"
    sleep 0.05
done
echo "$LISTENERS listeners bound; $RUNS runs of: ${DISCOVER_ARGS[*]}" >&2

# The expected names, one per line, sorted.
for ((k = 2; k <= HOSTS; k++)); do echo "h$k"; done | sort >"$TMP/expected"

times=()
missed_total=0
printf '%5s %8s %6s\n' run ms found
for ((run = 1; run <= RUNS; run++)); do
    out="$TMP/run$run.json"
    start=$(date +%s%N)
    rc=0
    # --foreground: stay in our process group, so Ctrl-C reaches discover.
    timeout --foreground "$RUN_LIMIT" ip netns exec "${PREFIX}h1" "$BIN" "${DISCOVER_ARGS[@]}" \
        </dev/null >"$out" 2>"$TMP/run$run.err" || rc=$?
    end=$(date +%s%N)
    ms=$(((end - start) / 1000000))
    # 6: --expect N and fewer answered (counted below as missed).
    [ "$rc" = 0 ] || { [ "$rc" = 6 ] && [ "$EXPECT" = 1 ]; } ||
        die "run $run: discover exited $rc: $(cat "$TMP/run$run.err")"
    # Distinct expected names found (a peer listed twice counts once).
    found=$({ grep -o '"name":"h[0-9]*"' "$out" || true; } | cut -d'"' -f4 | sort -u |
        comm -12 - "$TMP/expected" | wc -l)
    peers=$(wc -l <"$out")
    missed_total=$((missed_total + LISTENERS - found))
    times+=("$ms")
    note=""
    [ "$peers" = "$found" ] || note="  ($peers peers listed)"
    printf '%5d %8d %6d%s\n' "$run" "$ms" "$found" "$note"
    for ((k = 2; k <= HOSTS; k++)); do
        kill -0 "${LISTENER_PIDS[k - 2]}" 2>/dev/null || die "listener h$k exited during the runs"
    done
    [ "$PAUSE" = 0 ] || sleep "$PAUSE"
done

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
worst=$(tail -n 1 <<<"$sorted")
echo "median ${median} ms, worst ${worst} ms, missed ${missed_total} of $((RUNS * LISTENERS)) (runs $RUNS, listeners $LISTENERS)"
if [ "$LOSS" != 0 ]; then
    if [ "$missed_total" = 0 ]; then
        echo "goal met: all $LISTENERS found every run (with $LOSS% loss)"
    else
        echo "goal NOT met: want all $LISTENERS found every run (with $LOSS% loss)"
    fi
elif [ "$missed_total" = 0 ] && [ "$median" -lt 100 ]; then
    echo "goal met: all $LISTENERS found every run, median < 100 ms"
else
    echo "goal NOT met: want all $LISTENERS found every run and median < 100 ms"
fi
