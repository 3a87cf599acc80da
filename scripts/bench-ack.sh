#!/usr/bin/env bash
# Benchmarks `udpmsg ping` and `udpmsg send --ack`, as root, entirely inside
# network namespaces this script creates and removes (nothing touches a real
# interface):
#
#   1. loopback round trip: `udpmsg ping --interval 0 -c N` against
#      `udpmsg listen`, next to benches/pingpong.c (plain syscalls), p50/p99
#      and their ratio (goal: udpmsg p50 within 1.5x of C);
#   2. time to deliver LINES lines with `send --ack`: on loopback at 0% loss,
#      on a veth pair at 0% loss, and on the veth pair at 30% loss each way
#      plus 10% duplication (nftables; RUNS runs), checking each time that the
#      listener showed every line exactly once, in order, with no gap.
#
#   sudo scripts/bench-ack.sh
#   sudo PINGS=20000 ROUNDS=5 LINES=10000 RUNS=5 ACK_TIMEOUT=60s scripts/bench-ack.sh
#   sudo UDPMSG_BIN=target/bench-rev/target/release/udpmsg scripts/bench-ack.sh
#
# UDPMSG_BIN: benchmark this binary instead of building the working tree.
# Either way the script runs a private copy, so a build started by someone
# else while it runs cannot swap the binary.
#
# Every process runs under `timeout`; namespaces, processes and files are
# removed on exit, also on Ctrl-C or an error.
set -euo pipefail
cd "$(dirname "$0")/.."

PINGS=${PINGS:-5000}
ROUNDS=${ROUNDS:-3}
LINES=${LINES:-10000}
RUNS=${RUNS:-3}
LOSS=${LOSS:-30}
DUP=${DUP:-10}
ACK_TIMEOUT=${ACK_TIMEOUT:-30s}

if [ "$(id -u)" != 0 ]; then
    echo "bench-ack.sh: needs root (network namespaces, nftables)" >&2
    exit 1
fi
for cmd in ip nft cc cargo timeout awk; do
    command -v "$cmd" >/dev/null 2>&1 || {
        echo "bench-ack.sh: $cmd is not installed" >&2
        exit 1
    }
done

# Short prefix: interface names are limited to 15 characters.
P="ba$$"
NS_LO="${P}l"
NS_A="${P}a"
NS_B="${P}b"
NET=10.88.77
WORK=$(mktemp -d /tmp/bench-ack.XXXXXX)
PIDS=()

cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for ns in "$NS_LO" "$NS_A" "$NS_B"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIN=$WORK/udpmsg
if [ -n "${UDPMSG_BIN:-}" ]; then
    [ -x "$UDPMSG_BIN" ] || {
        echo "bench-ack.sh: UDPMSG_BIN=$UDPMSG_BIN is not an executable" >&2
        exit 1
    }
    cp "$UDPMSG_BIN" "$BIN"
    BUILT="binary $UDPMSG_BIN (UDPMSG_BIN; HEAD is $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
else
    echo "building..." >&2
    cargo build --release --quiet
    cp target/release/udpmsg "$BIN"
    dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
    BUILT="built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)${dirty:+ with uncommitted changes in: $dirty}"
fi
echo "udpmsg: $BUILT"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; kernel $(uname -r)"
PINGPONG=$WORK/pingpong
cc -O2 -Wall -o "$PINGPONG" benches/pingpong.c

# Namespaces: one with only lo; two joined by a veth pair.
ip netns add "$NS_LO"
ip -n "$NS_LO" link set lo up
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add "${P}va" type veth peer name "${P}vb" netns "$NS_B"
ip -n "$NS_A" addr add "$NET.1/24" dev "${P}va"
ip -n "$NS_B" addr add "$NET.2/24" dev "${P}vb"
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set "${P}va" up
ip -n "$NS_B" link set "${P}vb" up

# faults NS LOSS DUP: replaces NS's fault table (0 0: none).
faults() {
    ip netns exec "$1" nft delete table ip fault 2>/dev/null || true
    [ "$2" = 0 ] && [ "$3" = 0 ] && return
    ip netns exec "$1" nft -f - <<EOF
table ip fault {
  chain out { type filter hook output priority 0; ip daddr $NET.0/24 numgen random mod 100 < $3 dup to ip daddr; }
  chain in { type filter hook input priority 0; udp dport 1-65535 numgen random mod 100 < $2 drop; }
}
EOF
}

# start_listener NS ADDR PORT OUT: a JSON listener; waits until it is bound.
# PIN: an optional CPU-pinning command prefix (taskset -c N).
LISTENER=
PIN=()
start_listener() {
    ip netns exec "$1" "${PIN[@]}" timeout 600 "$BIN" listen --json --bind "$2" -p "$3" \
        >"$4" 2>"$4.err" &
    LISTENER=$!
    PIDS+=("$LISTENER")
    local _
    for _ in $(seq 1 100); do
        grep -q "listening on" "$4.err" 2>/dev/null && return
        sleep 0.05
    done
    echo "bench-ack.sh: listener in $1 did not start: $(cat "$4.err")" >&2
    exit 1
}

stop_listener() {
    kill "$LISTENER" 2>/dev/null || true
    wait "$LISTENER" 2>/dev/null || true
}

# ---------------------------------------------------------------- ping ----
field() { sed -n "s/.*[\"]*$1[\"]*[:=]\([0-9.]*\).*/\1/p" <<<"$2"; }
# A JSON `_ms` field (milliseconds, to the microsecond) as whole microseconds.
field_us() { awk -v m="$(field "$1" "$2")" 'BEGIN { if (m != "") printf "%d\n", m * 1000 + 0.5 }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
PING_ROWS=()

# ping_compare LABEL SERVER_CPU CLIENT_CPU PORT: udpmsg ping/listen and the
# C ping-pong with the same CPU placement, alternated ROUNDS times; medians.
ping_compare() {
    local label=$1 scpu=$2 ccpu=$3 port=$4 cport=$(($4 + 1))
    local spin=() cpin=()
    if [ "$scpu" != - ]; then
        spin=(taskset -c "$scpu")
        cpin=(taskset -c "$ccpu")
    fi
    PIN=("${spin[@]}")
    start_listener "$NS_LO" 127.0.0.1 "$port" "$WORK/ping.$port.out"
    PIN=()
    ip netns exec "$NS_LO" "${spin[@]}" timeout 300 "$PINGPONG" server "$cport" 127.0.0.1 &
    local server=$!
    PIDS+=("$server")
    sleep 0.1
    # Warm up both: page faults, caches, CPU frequency.
    ip netns exec "$NS_LO" "${cpin[@]}" timeout 60 "$BIN" ping 127.0.0.1 -p "$port" -i 0 -c 500 \
        --json >/dev/null || true
    ip netns exec "$NS_LO" "${cpin[@]}" timeout 60 "$PINGPONG" client 127.0.0.1 "$cport" 500 \
        >/dev/null || true
    local u50s='' u99s='' c50s='' c99s='' urx=0 crx=0 u c n _
    for _ in $(seq 1 "$ROUNDS"); do
        # To a file, not a pipe: a reader waking per reply would compete for CPU.
        ip netns exec "$NS_LO" "${cpin[@]}" timeout 120 "$BIN" ping 127.0.0.1 -p "$port" \
            --interval 0 -c "$PINGS" --json >"$WORK/ping.json" || true
        u=$(tail -n 1 "$WORK/ping.json")
        c=$(ip netns exec "$NS_LO" "${cpin[@]}" timeout 120 "$PINGPONG" client 127.0.0.1 "$cport" \
            "$PINGS") || true
        u50s+=" $(field_us p50_ms "$u")" u99s+=" $(field_us p99_ms "$u")"
        c50s+=" $(field p50_us "$c")" c99s+=" $(field p99_us "$c")"
        n=$(field received "$u")
        urx=$((urx + ${n:-0}))
        n=$(field received "$c")
        crx=$((crx + ${n:-0}))
    done
    stop_listener
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    local u50 u99 c50 c99 total=$((ROUNDS * PINGS))
    u50=$(median <<<"$u50s") u99=$(median <<<"$u99s")
    c50=$(median <<<"$c50s") c99=$(median <<<"$c99s")
    PING_ROWS+=("$(printf '%-22s %-20s %13s %6s %6s   %s' "$label" "udpmsg ping/listen" "$urx/$total" "$u50" "$u99" "$u50s")")
    PING_ROWS+=("$(printf '%-22s %-20s %13s %6s %6s   %s' "" "pingpong.c" "$crx/$total" "$c50" "$c99" "$c50s")")
    PING_ROWS+=("$(awk -v u50="$u50" -v c50="$c50" -v u99="$u99" -v c99="$c99" 'BEGIN {
        r50 = c50 > 0 ? u50 / c50 : 0; r99 = c99 > 0 ? u99 / c99 : 0
        printf "%-22s %-20s %13s %5.2fx %5.2fx   goal p50 <= 1.50x: %s", "", "ratio udpmsg / C", "",
            r50, r99, (r50 <= 1.5 ? "met" : "NOT met")
    }')")
}

echo "running ping: $ROUNDS rounds of $PINGS..." >&2
if command -v taskset >/dev/null 2>&1; then
    # Where the two ends run matters more than anything else on loopback:
    # a wake-up on the same CPU is cheaper than one across CPUs.
    ping_compare "same CPU (0)" 0 0 47001
    if [ "$(nproc)" -ge 2 ]; then
        ping_compare "two CPUs (0, 1)" 0 1 47003
    fi
else
    ping_compare "unpinned" - - 47001
fi
echo
echo "Round trip on loopback: $ROUNDS rounds of $PINGS pings back to back each; median of the rounds (microseconds)"
printf '%-22s %-20s %13s %6s %6s   %s\n' placement tool replies p50 p99 "p50 of each round"
printf '%s\n' "${PING_ROWS[@]}"

# ------------------------------------------------------------ send --ack ----
EXPECT=$WORK/expect
seq 1 "$LINES" >"$EXPECT"
ROWS=()

# deliver LABEL NS_LISTEN NS_SEND ADDR PORT: one timed `send --ack` of
# LINES lines and a check of what the listener showed.
deliver() {
    local label=$1 nsl=$2 nss=$3 addr=$4 port=$5 out=$WORK/ack.$5.out
    start_listener "$nsl" "$addr" "$port" "$out"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    ip netns exec "$nss" timeout 300 "$BIN" send --ack "$addr" -p "$port" \
        --timeout "$ACK_TIMEOUT" <"$EXPECT" 2>"$WORK/send.err" || rc=$?
    t1=$(date +%s%N)
    # Confirmed messages are shown or held; give held ones a moment.
    local shown _
    for _ in $(seq 1 100); do
        shown=$(grep -c '"kind":"text"' "$out" || true)
        [ "$shown" -ge "$LINES" ] && break
        sleep 0.05
    done
    stop_listener
    local gaps check
    gaps=$(grep -c '"kind":"gap"' "$out" || true)
    sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$out" >"$out.texts"
    if cmp -s "$out.texts" "$EXPECT" && [ "$gaps" = 0 ]; then
        check="ok: all once, in order"
    elif head -n "$shown" "$EXPECT" | cmp -s - "$out.texts"; then
        check="FAILED: incomplete (the first $shown once, in order)"
    else
        check="FAILED: lines missing, repeated or out of order"
    fi
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    ROWS+=("$(printf '%-38s %4s %8s %7s %5s  %s' "$label" "$rc" "$secs" "$shown" "$gaps" "$check")")
    if [ -s "$WORK/send.err" ]; then
        ROWS+=("$(printf '%-38s %s' "" "$(head -c 200 "$WORK/send.err")")")
    fi
}

echo "running send --ack: $LINES lines, timeout $ACK_TIMEOUT..." >&2
deliver "loopback, 0% loss" "$NS_LO" "$NS_LO" 127.0.0.1 47010
deliver "veth, 0% loss" "$NS_B" "$NS_A" "$NET.2" 47011
faults "$NS_A" "$LOSS" "$DUP"
faults "$NS_B" "$LOSS" "$DUP"
for run in $(seq 1 "$RUNS"); do
    deliver "veth, $LOSS% loss each way + $DUP% dup #$run" "$NS_B" "$NS_A" "$NET.2" $((47020 + run))
done

echo
echo "send --ack of $LINES lines (exit 0: all confirmed; 4: some not)"
printf '%-38s %4s %8s %7s %5s  %s\n' scenario exit seconds shown gaps check
printf '%s\n' "${ROWS[@]}"
