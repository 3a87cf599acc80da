#!/usr/bin/env bash
# Presence benchmark on a namespace LAN (scripts/lan.sh, tag bprs_): a
# watcher (`udpmsg discover --watch --json`) on host 1 and LISTENERS
# announcing listeners (`udpmsg listen --announce`), one per host 2..N+1,
# started one after another (STAGGER apart). Measures, from the watcher's
# own line timestamps against the script's clock:
#   - from each listener's start (just before `ip netns exec`) to its `up`
#     line: p50 and max;
#   - the watcher's CPU time per minute with all of them up (CPU_SECONDS
#     of steady state: their hellos every EVERY, its probes every INTERVAL);
#   - from each listener's SIGTERM to its `down` line: p50 and max.
#
# Needs root, iproute2 and GNU date. Nothing touches a real interface: every
# socket is inside the LAN's namespaces, which are deleted on exit, failure
# or Ctrl-C.
#
#   sudo scripts/bench-presence.sh
#   sudo LISTENERS=20 CPU_SECONDS=10 scripts/bench-presence.sh
#   sudo UDPMSG_BIN=target/bench-rev/target/release/udpmsg scripts/bench-presence.sh
#
# UDPMSG_BIN: benchmark this binary instead of building the working tree
# (either way a private copy runs, so a concurrent build cannot swap it).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

LISTENERS=${LISTENERS:-100}
HOSTS=$((LISTENERS + 1))
EVERY=${EVERY:-30s}
INTERVAL=${INTERVAL:-10s}
CPU_SECONDS=${CPU_SECONDS:-60}
STAGGER=${STAGGER:-0.05}
READY_TIMEOUT_S=30
# Safety net: every process ends by itself even if this script is SIGKILLed.
LIFETIME=900s

die() {
    echo "bench-presence.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || die "needs ip (iproute2)"
if ! [[ $LISTENERS =~ ^[1-9][0-9]*$ ]] || [ "$LISTENERS" -gt 999 ]; then
    die "LISTENERS must be 1..999, not '$LISTENERS'"
fi
[[ $CPU_SECONDS =~ ^[1-9][0-9]*$ ]] || die "CPU_SECONDS must be a positive integer"
[[ $STAGGER =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "STAGGER must be a number of seconds"

cd "$(dirname "$0")/.."
ROOT=$PWD
LAN="$ROOT/scripts/lan.sh"
# Owned by this script (its pid): a concurrent run or test gets a LAN of its
# own, and if this script is killed, the next lan.sh up deletes the leftover.
PREFIX=$(bash "$LAN" prefix bprs_ $$)
BIN="$ROOT/target/release/udpmsg"

TMP=
PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Also kills anything still inside the namespaces.
    bash "$LAN" down "$PREFIX" || echo "bench-presence.sh: lan.sh down $PREFIX failed" >&2
    [ -n "$TMP" ] && rm -rf "$TMP"
    [ "$rc" = 0 ] || echo "bench-presence.sh: stopped (exit $rc); LAN $PREFIX removed" >&2
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
echo "listeners: $LISTENERS, --announce-every $EVERY, started $STAGGER s apart; watcher --interval $INTERVAL"

echo "LAN: $HOSTS hosts (prefix $PREFIX)" >&2
bash "$LAN" up "$PREFIX" "$HOSTS" >"$TMP/hosts"

# Milliseconds since the epoch, now / of an RFC 3339 time.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ts_ms() { date -d "$1" +%s%3N; }

# Waits until file $1 holds $2 lines matching $3, or dies naming $4.
wait_lines() {
    local file=$1 want=$2 pattern=$3 what=$4 deadline=$((SECONDS + READY_TIMEOUT_S)) have
    while :; do
        have=$({ grep -c -- "$pattern" "$file" 2>/dev/null || true; })
        [ "$have" -ge "$want" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || die "$what: $have of $want within ${READY_TIMEOUT_S}s"
        kill -0 "$WATCHER" 2>/dev/null || die "the watcher exited: $(cat "$TMP/watch.err")"
        sleep 0.05
    done
}

# "p50 max" of the numbers on stdin.
stats() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
        print v[int((NR + 1) / 2)], v[NR] }'
}

ip netns exec "${PREFIX}h1" "$BIN" discover --watch --json --interval "$INTERVAL" \
    --timeout "$LIFETIME" </dev/null >"$TMP/watch.json" 2>"$TMP/watch.err" &
WATCHER=$!
PIDS+=("$WATCHER")
wait_lines "$TMP/watch.err" 1 "watching for listeners" "the watcher's start"

# Listeners, one after another; each start time, then the up lines.
: >"$TMP/starts"
for ((k = 2; k <= HOSTS; k++)); do
    echo "h$k $(now_ms)" >>"$TMP/starts"
    ip netns exec "${PREFIX}h$k" "$BIN" listen --name "h$k" --announce --announce-every "$EVERY" \
        --timeout "$LIFETIME" </dev/null >/dev/null 2>"$TMP/listen$k.err" &
    PIDS+=($!)
    sleep "$STAGGER"
done
wait_lines "$TMP/watch.json" "$LISTENERS" '"kind":"up"' "listeners up"

# The first up line of each listener against its start.
while read -r name start; do
    line=$(grep -m1 "\"kind\":\"up\".*\"name\":\"$name\"" "$TMP/watch.json" ||
        grep -m1 "\"name\":\"$name\".*\"kind\":\"up\"" "$TMP/watch.json" || true)
    [ -n "$line" ] || die "no up line for $name"
    ts=$(grep -o '"ts":"[^"]*"' <<<"$line" | cut -d'"' -f4)
    echo $(($(ts_ms "$ts") - start))
done <"$TMP/starts" >"$TMP/up_ms"
read -r up_p50 up_max < <(stats <"$TMP/up_ms")

# The watcher's CPU time in steady state: nanoseconds on a CPU from
# schedstat where the kernel has it, else user + system clock ticks.
if [ -r "/proc/$WATCHER/schedstat" ]; then
    cpu_ns() { awk '{ print $1 }' "/proc/$WATCHER/schedstat"; }
else
    clk=$(getconf CLK_TCK)
    cpu_ns() { awk -v clk="$clk" '{ printf "%d\n", ($14 + $15) * 1e9 / clk }' "/proc/$WATCHER/stat"; }
fi
before=$(cpu_ns)
sleep "$CPU_SECONDS"
after=$(cpu_ns)
cpu_ms_per_min=$(awk -v d=$((after - before)) -v s="$CPU_SECONDS" 'BEGIN { printf "%.1f", d / 1e6 * 60 / s }')
downs_meanwhile=$({ grep -c '"kind":"down"' "$TMP/watch.json" || true; })

# SIGTERM each listener, one after another; then the down lines.
: >"$TMP/stops"
for ((k = 2; k <= HOSTS; k++)); do
    echo "h$k $(now_ms)" >>"$TMP/stops"
    kill -TERM "${PIDS[k - 1]}"
    sleep "$STAGGER"
done
wait_lines "$TMP/watch.json" "$LISTENERS" '"kind":"down"' "listeners down"
goodbyes=$({ grep -c '"reason":"goodbye"' "$TMP/watch.json" || true; })
while read -r name start; do
    line=$(grep "\"kind\":\"down\"" "$TMP/watch.json" | grep -m1 "\"name\":\"$name\"" || true)
    [ -n "$line" ] || die "no down line for $name"
    ts=$(grep -o '"ts":"[^"]*"' <<<"$line" | cut -d'"' -f4)
    echo $(($(ts_ms "$ts") - start))
done <"$TMP/stops" >"$TMP/down_ms"
read -r down_p50 down_max < <(stats <"$TMP/down_ms")

kill -TERM "$WATCHER"
wait "$WATCHER" || true
summary=$(tail -n 1 "$TMP/watch.err")

echo
printf '%-44s %8s %8s\n' measure p50 max
printf '%-44s %6s ms %6s ms\n' "listener start -> its up line" "$up_p50" "$up_max"
printf '%-44s %6s ms %6s ms\n' "SIGTERM -> its down line" "$down_p50" "$down_max"
printf '%-44s %6s ms\n' "watcher CPU per minute ($LISTENERS up, ${CPU_SECONDS}s)" "$cpu_ms_per_min"
echo "downs while all were up: $downs_meanwhile; downs by goodbye: $goodbyes of $LISTENERS"
echo "watcher: $summary"
