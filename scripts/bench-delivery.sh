#!/usr/bin/env bash
# The goals of issue #13 (confirmed delivery, many senders, latency, big
# messages, discovery under loss) measured side by side in one run, with
# REPS interleaved repetitions, printed as one Markdown table: the median,
# every run's value, the goal and the verdict. Needs root: everything runs
# inside network namespaces this script creates and removes.
#
#   sudo scripts/bench-delivery.sh                    # about 5 minutes on a quiet machine
#   sudo REPS=3 scripts/bench-delivery.sh --only loss,cost
#   sudo UDPMSG_BIN=target/bench-rev/target/release/udpmsg scripts/bench-delivery.sh
#   sudo REPS=1 scripts/bench-delivery.sh --only many,big --profile
#
# What each repetition does (sections, in this order; --only picks some):
#   loss   LINES (200,000) lines `send --ack` from namespace A to a listener
#          in B over a veth pair, nftables dropping LOSSES percent (0 1 5 10
#          30, order alternating by repetition) on the input of BOTH ends
#          (0%: the rule is there with `< 0`, so its cost is in the
#          baseline); listener text output to a file, checked against the
#          input (every line once, in order). Goodput = lines / sender wall
#          time, relative to 0%. Spurious resends at 0% = the listener's
#          "duplicates suppressed" / lines.
#   stall  the same 0% delivery (no nft table), with the listener stopped
#          (SIGSTOP) for STALL_MS (30) ms once it has shown 5% of the lines,
#          as a busy machine may deschedule it: the listener's "duplicates
#          suppressed" / lines, next to an undisturbed run (no goal of #13;
#          it shows what the retransmission timer does after a stall).
#   cost   the same lines over the same veth, no nft table: `send -` and
#          `send --ack -` (order alternating): sender wall time, and the
#          listener's CPU per datagram it read (/proc/PID/schedstat, ns).
#   many   (a) ONESHOTS (10,000) one-shot `send --ack` processes one after
#          the other against one listener, all must exit 0 and be shown
#          once; (b) scripts/bench-delivery.py gen: IDS (10,000) sender ids
#          x PER_ID (20) acknowledged Texts from one socket, round-robin,
#          with FLAG_BUNDLE (GEN_ACKS=plain: without, so one Ack per id and
#          batch), then 1 id x the same total (order alternating): all
#          acked, each shown once in order, listener CPU per datagram.
#   ping   in a loopback-only namespace: `ping -i 1ms -c PINGS` (2000) p50 /
#          p99 with the listener idle, and while benches/pace.c streams RATE
#          (200,000) 64-byte datagrams a second at it (order alternating);
#          the listener's CPU per datagram of that stream (output /dev/null).
#   big    BIG_BODY (60,000)-byte Texts, queue pre-filled while the receiver
#          is stopped (as scripts/bench.sh's pre-filled row, no sender
#          running): udpmsg listen (text) vs benches/recv.c, CPU per byte
#          (wait4), order alternating; both writing to a file (the goal),
#          then both writing to /dev/null (their own processing alone).
# After the repetitions, once:
#   discover  scripts/bench-discover.sh with LOSS=30 (nftables on every
#          host's input, IPv4 and IPv6): DISCOVER_RUNS (30) runs of
#          `discover -t 3s` and DISCOVER_DEFAULT_RUNS (10) at the default
#          timeout, 50 listeners; listeners missed per run.
#
# Environment: UDPMSG_BIN (benchmark this binary; default: build the working
# tree with cargo build --release), REPS (5), LINES, LOSSES, ONESHOTS, IDS,
# PER_ID, GEN_ACKS (bundle), PINGS, RATE, BIG_BODY, BIG_CHUNKS (40), BIG_PER_CHUNK (50),
# DISCOVER_RUNS, DISCOVER_DEFAULT_RUNS, QUIET_LOAD (e.g. 1.0: before each
# repetition and the discovery runs, wait until the 1-minute load average is
# below it, at most QUIET_WAIT seconds, default 300; on a machine others
# share, the load moves every figure here). Options: --only SECTIONS (comma
# list of the names above), --keep (keep the work directory: raw records
# in *.res, listener outputs, stderr files), --profile (after the table:
# where the listener's CPU goes, by perf record, for the 10,000-id
# generator (many) and for big messages written to /dev/null (big)).
#
# Safety: namespaces ${P}a, ${P}b (veth pair, 10.88.79.0/24) and ${P}l
# (lo only), P = bd<pid>; nothing is sent anywhere else. Every process has
# a time limit of its own (listeners --timeout, others under `timeout` or
# the helper's limits), every wait and loop is bounded, and on exit, error
# or Ctrl-C every process started is stopped and the namespaces deleted.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

SELF=$(realpath "$0")
ROOT=$(dirname "$(dirname "$SELF")")
HELPER=$ROOT/scripts/bench-delivery.py

KEEP=0
PROFILE=0
ONLY=loss,stall,cost,many,ping,big,discover
while [ $# -gt 0 ]; do
    case $1 in
        --keep) KEEP=1 ;;
        --profile) PROFILE=1 ;;
        --only)
            [ $# -ge 2 ] || {
                echo "bench-delivery.sh: --only needs a list" >&2
                exit 2
            }
            ONLY=$2
            shift
            ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"
            exit 0
            ;;
        *)
            echo "bench-delivery.sh: unknown argument '$1' (try --help)" >&2
            exit 2
            ;;
    esac
    shift
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }

REPS=${REPS:-5}
LINES=${LINES:-200000}
LOSSES=${LOSSES:-0 1 5 10 30}
ONESHOTS=${ONESHOTS:-10000}
IDS=${IDS:-10000}
PER_ID=${PER_ID:-20}
GEN_ACKS=${GEN_ACKS:-bundle}
PINGS=${PINGS:-2000}
RATE=${RATE:-200000}
STALL_MS=${STALL_MS:-30}
BIG_BODY=${BIG_BODY:-60000}
BIG_CHUNKS=${BIG_CHUNKS:-40}
BIG_PER_CHUNK=${BIG_PER_CHUNK:-50}
DISCOVER_RUNS=${DISCOVER_RUNS:-30}
DISCOVER_DEFAULT_RUNS=${DISCOVER_DEFAULT_RUNS:-10}
QUIET_LOAD=${QUIET_LOAD:-}
QUIET_WAIT=${QUIET_WAIT:-300}
for v in REPS LINES STALL_MS ONESHOTS IDS PER_ID PINGS RATE BIG_BODY BIG_CHUNKS BIG_PER_CHUNK \
    DISCOVER_RUNS DISCOVER_DEFAULT_RUNS QUIET_WAIT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || {
        echo "bench-delivery.sh: $v must be a number, not '${!v}'" >&2
        exit 2
    }
done
case $GEN_ACKS in bundle | plain) ;; *)
    echo "bench-delivery.sh: GEN_ACKS must be bundle or plain, not '$GEN_ACKS'" >&2
    exit 2
    ;;
esac
if [ -n "$QUIET_LOAD" ] && ! [[ $QUIET_LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "bench-delivery.sh: QUIET_LOAD must be a load average like 1.0, not '$QUIET_LOAD'" >&2
    exit 2
fi
for v in $LOSSES; do
    if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -gt 99 ]; then
        echo "bench-delivery.sh: LOSSES must be percentages 0..99 separated by spaces, not '$LOSSES'" >&2
        exit 2
    fi
done

if [ "$(id -u)" != 0 ]; then
    echo "bench-delivery.sh: needs root (network namespaces, nftables)" >&2
    exit 1
fi
for cmd in ip nft cc cargo python3 timeout awk git; do
    command -v "$cmd" >/dev/null 2>&1 || {
        echo "bench-delivery.sh: $cmd is not installed" >&2
        exit 1
    }
done

# Short prefix: interface names are limited to 15 characters.
P="bd$$"
NS_A="${P}a"
NS_B="${P}b"
NS_L="${P}l"
NET=10.88.79
WORK=$(mktemp -d /tmp/bench-delivery.XXXXXX)
PIDS=()

# stop_pid PID: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid ns pids
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # Anything else still inside our own namespaces (a helper's child).
    for ns in "$NS_A" "$NS_B" "$NS_L"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086 # a list of pids
            kill -KILL $pids 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for ns in "$NS_A" "$NS_B" "$NS_L"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ "$KEEP" = 1 ]; then
        echo "bench-delivery.sh: results kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    [ "$rc" = 0 ] || echo "bench-delivery.sh: stopped (exit $rc); namespaces removed" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "bench-delivery: $*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# quiet: with QUIET_LOAD, waits (at most QUIET_WAIT s) for the 1-minute load
# average to drop below it.
quiet() {
    [ -n "$QUIET_LOAD" ] || return 0
    local end=$((SECONDS + QUIET_WAIT))
    while awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l >= q) }'; do
        if [ "$SECONDS" -ge "$end" ]; then
            log "load still $(load1) after ${QUIET_WAIT} s; going on"
            return 0
        fi
        sleep 5
    done
}
# cpu_ns PID: CPU time the process used so far, in nanoseconds.
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
# summary ERRFILE WORDS: the number before WORDS in a listener's summary
# line ("... 200000 received, ... 12 duplicates suppressed, ..."), or 0.
summary() {
    grep 'udpmsg listen:' "$1" | tail -n 1 | sed -n "s/.* \([0-9][0-9]*\) $2[,]*.*/\1/p" | grep . || echo 0
}
helper() { python3 "$HELPER" "$@"; }

# --- the binary and the C programs -----------------------------------------
BIN=$WORK/udpmsg
if [ -n "${UDPMSG_BIN:-}" ]; then
    [ -x "$UDPMSG_BIN" ] || {
        echo "bench-delivery.sh: UDPMSG_BIN=$UDPMSG_BIN is not an executable" >&2
        exit 1
    }
    cp "$UDPMSG_BIN" "$BIN"
    BUILT="binary $UDPMSG_BIN (UDPMSG_BIN; $($BIN --version)); HEAD is $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
else
    log "building the working tree (cargo build --release)"
    (cd "$ROOT" && cargo build --release --locked --quiet)
    # A private copy: a build started by someone else cannot swap it mid-run.
    cp "$ROOT/target/release/udpmsg" "$BIN"
    dirty=$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
    BUILT="built from commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    BUILT+=" (src/, Cargo.* last changed in $(git -C "$ROOT" log -1 --format=%h -- src Cargo.toml Cargo.lock build.rs 2>/dev/null || echo unknown))"
    BUILT+="${dirty:+ with uncommitted changes in: $dirty}"
fi
cc -O2 -Wall -o "$WORK/pace" "$ROOT/benches/pace.c"
cc -O2 -Wall -o "$WORK/recv" "$ROOT/benches/recv.c"
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$SECONDS

# --- namespaces ---------------------------------------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
ip netns add "$NS_L"
ip -n "$NS_A" link add "${P}va" type veth peer name "${P}vb" netns "$NS_B"
ip -n "$NS_A" addr add "$NET.1/24" dev "${P}va"
ip -n "$NS_B" addr add "$NET.2/24" dev "${P}vb"
for ns in "$NS_A" "$NS_B" "$NS_L"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set "${P}va" up
ip -n "$NS_B" link set "${P}vb" up

# faults NS LOSS: LOSS percent of UDP datagrams arriving in NS dropped
# (nftables, input hook, IPv4 and IPv6); LOSS "none": no table at all.
faults() {
    ip netns exec "$1" nft delete table inet fault 2>/dev/null || true
    [ "$2" = none ] && return
    ip netns exec "$1" nft -f - <<EOF
table inet fault {
  chain in { type filter hook input priority 0; meta l4proto udp numgen random mod 100 < $2 drop; }
}
EOF
}

# start_listener NS ADDR PORT OUT ERR: a text listener (it ends by itself
# after 600 s); LISTENER is its pid (ip netns exec execs it).
LISTENER=
start_listener() {
    ip netns exec "$1" "$BIN" listen --bind "$2" -p "$3" --timeout 600s </dev/null >"$4" 2>"$5" &
    LISTENER=$!
    PIDS+=("$LISTENER")
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "listening on" "$5" 2>/dev/null && return 0
        kill -0 "$LISTENER" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-delivery.sh: listener in $1 did not start: $(cat "$5")" >&2
    exit 1
}

# settle FILE WANT: until FILE has WANT lines, or has not grown for 0.5 s
# (at most 10 s in all).
settle() {
    local file=$1 want=$2 last=-1 now still=0 i
    for ((i = 0; i < 200; i++)); do
        now=$(wc -l <"$file")
        [ "$now" -ge "$want" ] && return 0
        if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
        [ "$still" -ge 10 ] && return 0
        last=$now
        sleep 0.05
    done
}

PORT=47100
EXPECT=$WORK/expect
seq 1 "$LINES" >"$EXPECT"

# --- 1. loss goodput ----------------------------------------------------------
run_loss() {
    local rep=$1 loss=$2 out=$WORK/loss.out err=$WORK/loss.err
    PORT=$((PORT + 1))
    faults "$NS_A" "$loss"
    faults "$NS_B" "$loss"
    start_listener "$NS_B" "$NET.2" "$PORT" "$out" "$err"
    local load
    load=$(load1)
    ip netns exec "$NS_A" python3 "$HELPER" timed "$WORK/t.json" 300 \
        "$BIN" send --ack "$NET.2" -p "$PORT" --timeout 60s - <"$EXPECT" 2>"$WORK/send.err"
    settle "$out" "$LINES"
    local cpu
    cpu=$(cpu_ns "$LISTENER")
    stop_pid "$LISTENER"
    local shown ok=false why=""
    shown=$(wc -l <"$out")
    if awk '{ print $NF }' "$out" | cmp -s - "$EXPECT"; then
        ok=true
    else
        why="shown $shown, distinct $(awk '{ print $NF }' "$out" | sort -u | wc -l) of $LINES"
        [ -s "$WORK/send.err" ] && why+="; send: $(head -c 150 "$WORK/send.err" | tr '\n"' ' ')"
    fi
    helper record "$WORK/loss.res" "@$WORK/t.json" rep="$rep" loss="$loss" lines="$LINES" \
        shown="$shown" ok="$ok" why="$why" dups="$(summary "$err" 'duplicates suppressed')" \
        received="$(summary "$err" received)" cpu_ns="$cpu" load="$load"
    faults "$NS_A" none
    faults "$NS_B" none
}

# --- 1b. a listener stalled mid-stream ------------------------------------------
run_stall() {
    local rep=$1 mode=$2 out=$WORK/stall.out err=$WORK/stall.err
    PORT=$((PORT + 1))
    start_listener "$NS_B" "$NET.2" "$PORT" "$out" "$err"
    local load sender
    load=$(load1)
    ip netns exec "$NS_A" python3 "$HELPER" timed "$WORK/t.json" 300 \
        "$BIN" send --ack "$NET.2" -p "$PORT" --timeout 60s - <"$EXPECT" 2>"$WORK/send.err" &
    sender=$!
    PIDS+=("$sender")
    if [ "$mode" = stalled ]; then
        # Mid-stream: once it has shown a twentieth of the lines (at most 5 s).
        local i
        for ((i = 0; i < 1000; i++)); do
            [ "$(wc -l <"$out")" -ge $((LINES / 20)) ] && break
            sleep 0.005
        done
        kill -STOP "$LISTENER"
        sleep "$(awk -v ms="$STALL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
        kill -CONT "$LISTENER"
    fi
    wait "$sender" || true
    settle "$out" "$LINES"
    stop_pid "$LISTENER"
    local ok=false
    awk '{ print $NF }' "$out" | cmp -s - "$EXPECT" && ok=true
    helper record "$WORK/stall.res" "@$WORK/t.json" rep="$rep" mode="$mode" stall_ms="$STALL_MS" \
        lines="$LINES" ok="$ok" dups="$(summary "$err" 'duplicates suppressed')" load="$load"
}

# --- 2. ack cost --------------------------------------------------------------
run_cost() {
    local rep=$1 mode=$2 out=$WORK/cost.out err=$WORK/cost.err
    local -a flag=()
    [ "$mode" = ack ] && flag=(--ack --timeout 60s)
    PORT=$((PORT + 1))
    start_listener "$NS_B" "$NET.2" "$PORT" "$out" "$err"
    local load
    load=$(load1)
    ip netns exec "$NS_A" python3 "$HELPER" timed "$WORK/t.json" 300 \
        "$BIN" send "${flag[@]}" "$NET.2" -p "$PORT" - <"$EXPECT" 2>"$WORK/send.err"
    settle "$out" "$LINES"
    local cpu
    cpu=$(cpu_ns "$LISTENER")
    stop_pid "$LISTENER"
    local received dups
    received=$(summary "$err" received)
    dups=$(summary "$err" 'duplicates suppressed')
    helper record "$WORK/cost.res" "@$WORK/t.json" rep="$rep" mode="$mode" lines="$LINES" \
        shown="$(wc -l <"$out")" dgrams=$((received + dups)) dups="$dups" \
        acks="$(summary "$err" 'acks sent')" drops="$(summary "$err" 'dropped by the kernel')" \
        cpu_ns="$cpu" load="$load"
}

# --- 3a. one-shot senders -----------------------------------------------------
run_oneshots() {
    local rep=$1 out=$WORK/shots.out err=$WORK/shots.err
    PORT=$((PORT + 1))
    start_listener "$NS_B" "$NET.2" "$PORT" "$out" "$err"
    local load
    load=$(load1)
    : >"$WORK/shots.json.stderr"
    ip netns exec "$NS_A" python3 "$HELPER" oneshots "$WORK/shots.json" "$ONESHOTS" 500 \
        "$BIN" send --ack "$NET.2" -p "$PORT" --timeout 5s
    settle "$out" "$ONESHOTS"
    stop_pid "$LISTENER"
    local ok=false why=""
    if awk '{ print $NF }' "$out" | sort -n | cmp -s - <(seq 1 "$ONESHOTS"); then
        ok=true
    else
        why="listener showed $(wc -l <"$out") lines, $(awk '{ print $NF }' "$out" | sort -u | wc -l) distinct, of $ONESHOTS"
    fi
    [ -s "$WORK/shots.json.stderr" ] && why+="${why:+; }sender stderr: $(head -c 150 "$WORK/shots.json.stderr" | tr '\n"' ' ')"
    helper record "$WORK/oneshots.res" "@$WORK/shots.json" rep="$rep" shown_ok="$ok" \
        shown_why="$why" load="$load"
}

# --- 3b. many concurrent senders ----------------------------------------------
run_gen() {
    local rep=$1 ids=$2 per=$3 out=$WORK/gen.out err=$WORK/gen.err
    PORT=$((PORT + 1))
    start_listener "$NS_B" "$NET.2" "$PORT" "$out" "$err"
    local load
    load=$(load1)
    ip netns exec "$NS_A" timeout 200 python3 "$HELPER" gen "$WORK/g.json" "$NET.2" "$PORT" \
        "$ids" "$per" 8000 120 "$GEN_ACKS"
    settle "$out" $((ids * per))
    local cpu
    cpu=$(cpu_ns "$LISTENER")
    stop_pid "$LISTENER"
    helper check-gen "$out" "$ids" "$per" >"$WORK/check.json"
    local received dups
    received=$(summary "$err" received)
    dups=$(summary "$err" 'duplicates suppressed')
    helper record "$WORK/gen.res" "@$WORK/g.json" "@$WORK/check.json" rep="$rep" \
        dgrams=$((received + dups)) dups="$dups" acks_sent="$(summary "$err" 'acks sent')" \
        cpu_ns="$cpu" load="$load"
}

# --- 4. latency under load -----------------------------------------------------
# ping_once PHASE: one ping run at the listener on $PORT; its summary in
# PING_P50 PING_P99 PING_RECEIVED PING_SENT.
ping_once() {
    ip netns exec "$NS_L" timeout 60 "$BIN" ping 127.0.0.1 -p "$PORT" -i 1ms -c "$PINGS" --json \
        2>>"$WORK/ping.err" | tail -n 1 >"$WORK/ping.json" || true
    read -r PING_P50 PING_P99 PING_RECEIVED PING_SENT < <(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    # docs/JSON.md: times in milliseconds, to the microsecond.
    us = lambda ms: round(ms * 1000)
    print(us(d["p50_ms"]), us(d["p99_ms"]), d["received"], d["sent"])
except Exception:
    print(0, 0, 0, 0)' "$WORK/ping.json")
}

run_ping() {
    local rep=$1 order=$2 err=$WORK/ping-listen.err phase
    PORT=$((PORT + 1))
    start_listener "$NS_L" 127.0.0.1 "$PORT" /dev/null "$err"
    local count=$((RATE * (PINGS / 1000 + 2))) load c0 c1 pace
    local l50=0 l99=0 lrx=0 ltx=0 lload=0
    for phase in $order; do
        load=$(load1)
        if [ "$phase" = idle ]; then
            ping_once
            helper record "$WORK/ping.res" rep="$rep" phase=idle p50="$PING_P50" p99="$PING_P99" \
                received="$PING_RECEIVED" sent="$PING_SENT" pings="$PINGS" load="$load"
            continue
        fi
        c0=$(cpu_ns "$LISTENER")
        ip netns exec "$NS_L" timeout 60 "$WORK/pace" 127.0.0.1 "$PORT" "$count" 64 "$RATE" \
            2>"$WORK/pace.err" &
        pace=$!
        PIDS+=("$pace")
        sleep 0.5
        ping_once
        l50=$PING_P50 l99=$PING_P99 lrx=$PING_RECEIVED ltx=$PING_SENT lload=$load
        wait "$pace" || true
        sleep 0.2
        c1=$(cpu_ns "$LISTENER")
    done
    stop_pid "$LISTENER"
    local sent secs
    read -r sent secs < <(sed -n 's/^pace: \([0-9]*\) sent in \([0-9.]*\) s.*/\1 \2/p' "$WORK/pace.err")
    helper record "$WORK/ping.res" rep="$rep" phase=load p50="$l50" p99="$l99" received="$lrx" \
        sent="$ltx" pings="$PINGS" stream_rate="$RATE" cpu_ns=$((c1 - c0)) dgrams="$(summary "$err" raw)" \
        drops="$(summary "$err" 'dropped by the kernel')" \
        rate="$(awk -v n="${sent:-0}" -v s="${secs:-0}" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }')" \
        load="$lload"
}

# --- 5. big messages ----------------------------------------------------------
run_big() {
    local rep=$1 kind=$2 dest=$3
    PORT=$((PORT + 1))
    local -a cmd
    if [ "$kind" = udpmsg ]; then
        cmd=("$BIN" listen -p "$PORT" --timeout 300s)
    else
        cmd=("$WORK/recv" "$PORT" $((BIG_CHUNKS * BIG_PER_CHUNK)) 300000 -)
    fi
    local load
    load=$(load1)
    ip netns exec "$NS_L" timeout 300 python3 "$HELPER" prefill "$WORK/b.json" "$PORT" \
        "$BIG_CHUNKS" "$BIG_PER_CHUNK" "$BIG_BODY" "$dest" "${cmd[@]}"
    helper record "$WORK/big.res" "@$WORK/b.json" rep="$rep" tag="$kind" dest="$dest" load="$load"
}

# --- the repetitions ------------------------------------------------------------
log "udpmsg: $BUILT"
log "$REPS repetitions of: $ONLY"
# A warm-up pass, not recorded: page cache, CPU frequency, lazy kernel state.
if want loss || want stall || want cost; then
    start_listener "$NS_B" "$NET.2" 47099 /dev/null "$WORK/warm.err"
    ip netns exec "$NS_A" timeout 60 "$BIN" send --ack "$NET.2" -p 47099 - <"$EXPECT" || true
    stop_pid "$LISTENER"
fi
REP_LOADS=""
for ((rep = 1; rep <= REPS; rep++)); do
    quiet
    log "repetition $rep/$REPS (load $(load1))"
    REP_LOADS+="${REP_LOADS:+, }$rep: $(cut -d' ' -f1-3 /proc/loadavg)"
    if ((rep % 2)); then
        losses=$LOSSES stalls="calm stalled" cost="plain ack" gens="many one" pings="idle load" bigs="udpmsg c"
    else
        losses=$(tr ' ' '\n' <<<"$LOSSES" | grep . | tac | tr '\n' ' ')
        stalls="stalled calm" cost="ack plain" gens="one many" pings="load idle" bigs="c udpmsg"
    fi
    if want loss; then
        for loss in $losses; do
            log "  loss $loss%"
            run_loss "$rep" "$loss"
        done
    fi
    if want stall; then
        for mode in $stalls; do
            log "  stall: $mode"
            run_stall "$rep" "$mode"
        done
    fi
    if want cost; then
        for mode in $cost; do
            log "  cost: $mode"
            run_cost "$rep" "$mode"
        done
    fi
    if want many; then
        log "  $ONESHOTS one-shot senders"
        run_oneshots "$rep"
        for g in $gens; do
            log "  generator: $g"
            if [ "$g" = many ]; then
                run_gen "$rep" "$IDS" "$PER_ID"
            else
                run_gen "$rep" 1 $((IDS * PER_ID))
            fi
        done
    fi
    if want ping; then
        log "  ping, $pings"
        run_ping "$rep" "$pings"
    fi
    if want big; then
        for dest in file null; do
            for kind in $bigs; do
                log "  big messages: $kind, output to $dest"
                run_big "$rep" "$kind" "$dest"
            done
        done
    fi
done

# --- 6. discovery under loss --------------------------------------------------------
# run_discover RUNS TIMEOUT: bench-discover.sh on its own LAN (it removes it).
run_discover() {
    local runs=$1 timeout=$2 load0
    quiet
    load0=$(load1)
    log "discovery: $runs runs of discover -t $timeout, 30% loss on every host's input"
    # --foreground: in our process group, so Ctrl-C reaches it (it cleans up).
    if ! LOSS=30 RUNS=$runs DISCOVER_TIMEOUT=$timeout EXPECT=0 UDPMSG_BIN=$BIN \
        timeout --foreground 900 bash "$ROOT/scripts/bench-discover.sh" \
        >"$WORK/discover.out" 2>"$WORK/discover.err"; then
        log "bench-discover.sh failed: $(tail -n 3 "$WORK/discover.err")"
        return 0
    fi
    local missed
    missed=$(awk '$1 ~ /^[0-9]+$/ && NF >= 3 { printf "%s%d", sep, $3; sep = "," }' "$WORK/discover.out")
    python3 - "$WORK/discover.res" "$timeout" "$missed" "load $load0 at the start, $(load1) at the end" <<'EOF'
import json, sys
dest, timeout, found, load = sys.argv[1:]
found = [int(x) for x in found.split(",") if x]
with open(dest, "a") as f:
    f.write(json.dumps({"timeout": timeout, "listeners": 50, "missed": [50 - x for x in found],
                        "load": load}) + "\n")
EOF
}
if want discover; then
    run_discover "$DISCOVER_RUNS" 3s
    run_discover "$DISCOVER_DEFAULT_RUNS" default
fi

# --- profiles (--profile) -------------------------------------------------------------
# profile_listener NAME NS: perf record of the listener started in NS with
# the arguments after NAME ("$@" from the third on), until PROFILE_STOP
# (a pid) ends; the report's top symbols go to $WORK/profile-NAME.txt.
perf_top() {
    {
        echo "### Where the listener's CPU goes: $2"
        echo
        echo '```'
        echo "self time by symbol (perf record -g, cpu-clock):"
        perf report -i "$1" --stdio --no-children --sort dso,symbol -g none --percent-limit 1.5 2>/dev/null |
            grep -v '^#' | grep -v '^$' | awk '{ $NF = ""; $(NF - 1) = ""; print }' | head -n 16
        echo "inclusive (children) of the main steps:"
        perf report -i "$1" --stdio --children --sort symbol -g none 2>/dev/null |
            grep -E '__x64_sys_(sendmmsg|recvmmsg|write|epoll_wait) |net_rx_action|veth_xmit|__udp4_lib_rcv|Handler::send_acks|Listener::run|escape_into|from_utf8' |
            awk '{ printf "  %s %s\n", $1, $NF == "-" ? $(NF - 2) : $NF }' | head -n 12
        echo '```'
        echo
    } >>"$WORK/profile.md"
}
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null 2>&1; then
    log "perf not found: no profiles"
elif [ "$PROFILE" = 1 ]; then
    if want many; then
        log "profile: the listener under the $IDS-id generator"
        PORT=$((PORT + 1))
        ip netns exec "$NS_B" timeout 120 perf record -q -F 10000 -g -o "$WORK/many.perf" -- \
            "$BIN" listen --bind "$NET.2" -p "$PORT" --timeout 60s >/dev/null 2>"$WORK/perf-many.err" &
        perfpid=$!
        PIDS+=("$perfpid")
        sleep 1
        ip netns exec "$NS_A" timeout 200 python3 "$HELPER" gen "$WORK/g.json" "$NET.2" "$PORT" \
            "$IDS" "$PER_ID" 8000 120 "$GEN_ACKS" || true
        # The listener is perf's child (timeout's grandchild): stop it by its pid.
        for pid in $(ip netns pids "$NS_B"); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = udpmsg ] && kill -TERM "$pid" 2>/dev/null
        done
        wait "$perfpid" || true
        perf_top "$WORK/many.perf" "$IDS sender ids x $PER_ID (generator), output /dev/null"
    fi
    if want big; then
        log "profile: the listener reading $BIG_BODY-byte Texts"
        PORT=$((PORT + 1))
        # prefill stops perf, not the listener, so the queue is read as it
        # fills: the same work in another rhythm, for a profile only.
        ip netns exec "$NS_L" timeout 300 python3 "$HELPER" prefill "$WORK/b.json" "$PORT" \
            "$BIG_CHUNKS" "$BIG_PER_CHUNK" "$BIG_BODY" null \
            "$(command -v perf)" record -q -F 10000 -g -o "$WORK/big.perf" -- \
            "$BIN" listen -p "$PORT" --timeout 300s || true
        perf_top "$WORK/big.perf" "$BIG_BODY-byte Texts, output /dev/null"
    fi
fi

# --- report -----------------------------------------------------------------------
echo "date: $START_DATE; $((SECONDS - T0)) s"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
echo "udpmsg: $BUILT"
echo "load average (1, 5, 15 min): at the start $START_LOAD; at the start of each repetition $REP_LOADS; at the end $(cut -d' ' -f1-3 /proc/loadavg); each row's notes give the range of the 1-minute figure over its runs"
echo "parameters: QUIET_LOAD=${QUIET_LOAD:-none} REPS=$REPS LINES=$LINES LOSSES='$LOSSES' ONESHOTS=$ONESHOTS IDS=$IDS PER_ID=$PER_ID GEN_ACKS=$GEN_ACKS PINGS=$PINGS RATE=$RATE BIG_BODY=$BIG_BODY BIG_CHUNKS=$BIG_CHUNKS BIG_PER_CHUNK=$BIG_PER_CHUNK DISCOVER_RUNS=$DISCOVER_RUNS DISCOVER_DEFAULT_RUNS=$DISCOVER_DEFAULT_RUNS"
echo
helper report "$WORK"
if [ -f "$WORK/profile.md" ]; then
    echo
    cat "$WORK/profile.md"
fi
