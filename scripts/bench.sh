#!/usr/bin/env bash
# Benchmarks udpmsg against minimal C programs doing the same job with plain
# syscalls, side by side in one run, and prints a Markdown table with the
# ratios against the targets. See BENCHMARKS.md for the method.
#
#   sudo scripts/bench.sh              # the table (about a minute)
#   sudo scripts/bench.sh --profile    # also perf-profile the listener
#   sudo scripts/bench.sh --keep       # keep the work directory (raw results)
#
# Environment: BENCH_N (datagrams per stream, default 300000), BENCH_REPS
# (repetitions of the main pairs, default 5), BENCH_PIN=1 (pin receiver to
# CPU 1 and sender to CPU 0), BENCH_REV (e.g. HEAD: build that commit from a
# snapshot under target/bench-rev instead of the working tree, so edits made
# while the benchmark runs cannot leak in), BENCH_STATIC=0 (skip the
# statically linked build and its one-shot row).
#
# The one-shot send is also timed for a second build of udpmsg, linked
# statically (-C target-feature=+crt-static, x86_64 glibc only, in its own
# target directory), after checking that it still resolves `localhost` and
# the service name `echo`.
#
# Safety: everything runs inside a private network namespace (`unshare -n`)
# whose only interface is lo; the script refuses to run if it sees any other.
# Every wait is bounded, every background process is killed on exit.
set -euo pipefail

SELF=$(realpath "$0")
ROOT=$(dirname "$(dirname "$SELF")")

PROFILE=0
KEEP=0
for arg in "$@"; do
    case $arg in
        --profile) PROFILE=1 ;;
        --keep) KEEP=1 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"
            exit 0
            ;;
        *)
            echo "bench.sh: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

# --- into a private network namespace ------------------------------------
if [ "${UDPMSG_BENCH_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench.sh: needs root (it runs inside its own network namespace via unshare -n)" >&2
        exit 1
    fi
    export UDPMSG_BENCH_NETNS=1
    exec unshare -n -- bash "$SELF" "$@"
fi
ip link set lo up
if ip -o link show | awk -F': ' '{print $2}' | grep -qv '^lo$'; then
    echo "bench.sh: this namespace has interfaces other than lo; refusing to run" >&2
    ip -o link show >&2
    exit 1
fi

N=${BENCH_N:-300000}
REPS=${BENCH_REPS:-5}
PIN=${BENCH_PIN:-0}
REV=${BENCH_REV:-}
STATIC=${BENCH_STATIC:-1}
cd "$ROOT"

WORK=$(mktemp -d /tmp/udpmsg-bench.XXXXXX)
cleanup() {
    local pid
    # Our background jobs still running (not pids that may have been reused).
    for pid in $(jobs -p); do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # Children of the measuring wrappers, by the pid files they wrote.
    local file
    for file in "$WORK"/*.pid; do
        [ -f "$file" ] || continue
        read -r pid <"$file" || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    if [ "$KEEP" = 1 ]; then
        echo "bench.sh: results kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

# --- build ------------------------------------------------------------------
# SRC is the tree that is built: the working tree, or with BENCH_REV a
# snapshot of that commit (extracted once per commit; its mtimes are the
# commit's, so a second run rebuilds nothing).
if [ -n "$REV" ]; then
    if ! BUILT_COMMIT=$(git -C "$ROOT" rev-parse --short "$REV^{commit}" 2>/dev/null); then
        log "BENCH_REV=$REV is not a commit"
        exit 1
    fi
    SRC=$ROOT/target/bench-rev/src-$BUILT_COMMIT
    if [ ! -e "$SRC/.complete" ]; then
        rm -rf "$SRC"
        mkdir -p "$SRC"
        git -C "$ROOT" archive "$BUILT_COMMIT" | tar -x -C "$SRC"
        touch "$SRC/.complete"
    fi
    TARGET_DIR=$ROOT/target/bench-rev/target
    STATIC_TARGET_DIR=$ROOT/target/bench-rev/static
else
    SRC=$ROOT
    TARGET_DIR=$ROOT/target
    STATIC_TARGET_DIR=$ROOT/target/static
fi
log "building $SRC (cargo build --release; cc -O2)"
# --offline: there is no network in here anyway; say so clearly if a crate
# is missing (run `cargo fetch` outside first).
(cd "$SRC" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --offline --quiet)
# A private copy: someone else's build must not swap the binary mid-run.
UDPMSG=$WORK/udpmsg
cp "$TARGET_DIR/release/udpmsg" "$UDPMSG"
# What was built: other people may commit or edit while the benchmark runs.
if [ -z "$REV" ]; then
    BUILT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    BUILT_DIRTY=$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
else
    BUILT_DIRTY=""
fi

# The same source linked statically (glibc's libc.a): process start-up without
# the dynamic loader. RUSTFLAGS with an explicit --target reach only the
# target's crates (not build scripts or proc-macros), and the separate target
# directory keeps the normal build's artifacts untouched. The one-shot section
# below checks that it still resolves host and service names (NSS).
UDPMSG_STATIC=""
STATIC_NOTE=""
if [ "$STATIC" = 0 ]; then
    STATIC_NOTE="skipped (BENCH_STATIC=0)"
elif [ "$(uname -m)" != x86_64 ] || ! getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
    STATIC_NOTE="skipped: only built on x86_64 with glibc (this is $(uname -m), $(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'not glibc'))"
else
    log "building the static variant (+crt-static) into $STATIC_TARGET_DIR"
    if (cd "$SRC" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$STATIC_TARGET_DIR \
        cargo build --release --locked --offline --quiet --target x86_64-unknown-linux-gnu) \
        2>"$WORK/static-build.err"; then
        UDPMSG_STATIC=$WORK/udpmsg-static
        cp "$STATIC_TARGET_DIR/x86_64-unknown-linux-gnu/release/udpmsg" "$UDPMSG_STATIC"
        if command -v readelf >/dev/null 2>&1 && readelf -d "$UDPMSG_STATIC" 2>/dev/null | grep -q NEEDED; then
            STATIC_NOTE="skipped: the +crt-static build still needs shared libraries"
            UDPMSG_STATIC=""
        fi
    else
        STATIC_NOTE="skipped: the static build failed ($(grep -m 1 -i error "$WORK/static-build.err" || head -n 1 "$WORK/static-build.err"))"
        log "$STATIC_NOTE"
    fi
fi

for prog in recv send oneshot; do
    cc -O2 -Wall -Wextra -o "$WORK/$prog" "$SRC/benches/$prog.c"
done
# The floor for the one-shot send: a Rust program that does nothing, built
# like the release profile (dynamically linked, panic=abort).
EMPTY_RUST=""
if rustc -C opt-level=3 -C panic=abort -o "$WORK/empty" "$SRC/benches/empty.rs" 2>"$WORK/empty.err"; then
    EMPTY_RUST=$WORK/empty
else
    log "benches/empty.rs does not compile; the Rust start-up floor row is skipped"
fi
HAVE_PINGPONG=0
if [ -f "$SRC/benches/pingpong.c" ]; then
    if cc -O2 -Wall -o "$WORK/pingpong" "$SRC/benches/pingpong.c"; then
        HAVE_PINGPONG=1
    else
        log "benches/pingpong.c does not compile; round-trip baseline skipped"
    fi
fi

# --- helpers ----------------------------------------------------------------

# measure RESULT TAG LIMIT_S SAMPLE_RSS CMD...: runs CMD as a child and appends
# one JSON record to RESULT: wall time from spawn to exit, the child's user and
# system CPU (wait4 rusage, microseconds), and its peak RSS (VmHWM of its own
# address space, sampled every 20 ms; ru_maxrss would include the Python
# parent's pages at fork). Writes the child's pid to RESULT.pid, forwards
# SIGTERM/SIGINT, and SIGKILLs the child after LIMIT_S seconds.
read -r -d '' MEASURE_PY <<'EOF' || true
import json, os, signal, sys, time
out, tag, limit, sample = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
cmd = sys.argv[5:]
t0 = time.monotonic()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
with open(out + ".pid", "w") as f:
    f.write(f"{pid}\n")
def forward(sig, _frame):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
def vmhwm():
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
peak, killed = 0, False
if sample:
    deadline = t0 + limit
    while True:
        w, status, ru = os.wait4(pid, os.WNOHANG)
        if w:
            break
        peak = max(peak, vmhwm())
        if not killed and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.02)
else:
    def expire(_sig, _frame):
        global killed
        killed = True
        os.kill(pid, signal.SIGKILL)
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    _, status, ru = os.wait4(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
wall = time.monotonic() - t0
os.unlink(out + ".pid")
with open(out, "a") as f:
    f.write(json.dumps({"tag": tag, "wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
                        "hwm_kb": peak, "rc": os.waitstatus_to_exitcode(status),
                        "killed": killed}) + "\n")
EOF

measure() {
    python3 -c "$MEASURE_PY" "$@"
}

# on_cpu CPU: the command prefix that pins to CPU when BENCH_PIN=1 (none
# otherwise), in the array ON_CPU.
on_cpu() {
    ON_CPU=()
    if [ "$PIN" = 1 ]; then
        ON_CPU=(taskset -c "$1")
    fi
}

# wait_bound PORT: until some UDP socket is bound to PORT (at most 5 s).
wait_bound() {
    local hex i
    hex=$(printf ':%04X ' "$1")
    for ((i = 0; i < 100; i++)); do
        if grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    log "nothing bound to port $1 after 5 s"
    return 1
}

# cpu_ticks PID: user+system clock ticks so far, or "gone".
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo gone
}

# finish_receiver WRAPPER_PID PIDFILE: lets a receiver end by itself (its
# count reached); once it has used no CPU for 0.5 s (datagrams were lost, so
# the count never comes) sends it SIGTERM. At most 10 s, then SIGKILL.
finish_receiver() {
    local wrapper=$1 pidfile=$2 child last="" now idle=0 i
    child=$(cat "$pidfile" 2>/dev/null || echo "")
    for ((i = 0; i < 100; i++)); do
        kill -0 "$wrapper" 2>/dev/null || break
        [ -n "$child" ] || break
        now=$(cpu_ticks "$child")
        if [ "$now" = "$last" ]; then idle=$((idle + 1)); else idle=0; fi
        last=$now
        if [ "$idle" -ge 5 ]; then
            kill -TERM "$child" 2>/dev/null || true
        fi
        sleep 0.1
    done
    if kill -0 "$wrapper" 2>/dev/null && [ -n "$child" ]; then
        kill -KILL "$child" 2>/dev/null || true
    fi
    wait "$wrapper" || true
}

PORT=40000

# run_pair TAG SENDER RECEIVER: one stream of N datagrams from SENDER
# (udpmsg | c | c-nl) to RECEIVER (udpmsg | udpmsg-text | c | socat |
# socat-rcvbuf | nc); records both sides and the lines the receiver wrote.
run_pair() {
    local tag=$1 sender=$2 receiver=$3 out wrapper
    PORT=$((PORT + 1))
    out=$WORK/$tag.out
    local -a rcmd scmd
    case $receiver in
        udpmsg) rcmd=("$UDPMSG" listen --json --port "$PORT" --count "$N" --timeout 60s) ;;
        udpmsg-text) rcmd=("$UDPMSG" listen --port "$PORT" --count "$N" --timeout 60s) ;;
        c) rcmd=("$WORK/recv" "$PORT" "$N" 60000 -) ;;
        socat) rcmd=(socat -u "UDP-RECV:$PORT" -) ;;
        socat-rcvbuf) rcmd=(socat -u "UDP-RECV:$PORT,rcvbuf=8388608" -) ;;
        nc) rcmd=(nc -u -l -d -W "$N" 127.0.0.1 "$PORT") ;;
    esac
    case $sender in
        udpmsg) scmd=("$UDPMSG" send "127.0.0.1:$PORT" -) ;;
        c) scmd=("$WORK/send" 127.0.0.1 "$PORT" "$N" "$SIZE") ;;
        c-nl) scmd=("$WORK/send" 127.0.0.1 "$PORT" "$N" "$SIZE" nl) ;;
    esac
    on_cpu 1
    measure "$WORK/recv.res" "$tag" 90 1 "${ON_CPU[@]}" "${rcmd[@]}" \
        </dev/null >"$out" 2>"$WORK/$tag.recv.err" &
    wrapper=$!
    wait_bound "$PORT"
    on_cpu 0
    measure "$WORK/send.res" "$tag" 60 0 "${ON_CPU[@]}" "${scmd[@]}" \
        <"$WORK/lines.txt" >/dev/null 2>"$WORK/$tag.send.err"
    finish_receiver "$wrapper" "$WORK/recv.res.pid"
    # udpmsg datagrams are binary (they may hold newline bytes): the C
    # receiver's own count is the one to trust; the others write text lines.
    local got
    if [ "$receiver" = c ]; then
        got=$(sed -n 's/^recv: \([0-9]*\) datagrams.*/\1/p' "$WORK/$tag.recv.err")
    else
        got=$(wc -l <"$out")
    fi
    printf '{"tag": "%s", "lines": %d}\n' "$tag" "${got:-0}" >>"$WORK/lines.res"
    rm -f "$out"
}

# --- input ------------------------------------------------------------------
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++)
    printf "bench %07d abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP\n", i }' \
    >"$WORK/lines.txt"

# The C sender sends datagrams of the size udpmsg's sender puts on the wire
# for these lines (header + host name + body): catch one and measure it.
PORT=$((PORT + 1))
"$WORK/recv" "$PORT" 1 5000 /dev/null 2>"$WORK/size.err" &
size_pid=$!
wait_bound "$PORT"
head -n 1 "$WORK/lines.txt" | "$UDPMSG" send "127.0.0.1:$PORT" -
wait "$size_pid" || true
SIZE=$(sed -n 's/.*max size \([0-9]*\).*/\1/p' "$WORK/size.err")
if [ -z "$SIZE" ] || [ "$SIZE" -lt 12 ]; then
    log "could not measure udpmsg's datagram size"
    cat "$WORK/size.err" >&2
    exit 1
fi
log "N=$N datagrams of $SIZE bytes per stream; $REPS repetitions of the main pairs"

# --- 1, 2, 5: streams -------------------------------------------------------
# One unrecorded pass first: page cache, CPU frequency, lazy kernel state.
log "streams, warm-up"
run_pair warmup-udpmsg udpmsg udpmsg
run_pair warmup-c c c
for ((rep = 1; rep <= REPS; rep++)); do
    log "streams, repetition $rep/$REPS"
    run_pair udpmsg udpmsg udpmsg
    run_pair c c c
    run_pair c-to-udpmsg c udpmsg
    run_pair udpmsg-to-c udpmsg c
done
log "streams into other receivers"
run_pair c-to-udpmsg-text c udpmsg-text
if command -v socat >/dev/null 2>&1; then
    run_pair socat c-nl socat
    run_pair socat-rcvbuf c-nl socat-rcvbuf
else
    log "socat not installed: its rows are skipped"
fi
# -W (stop after N packets) is OpenBSD netcat's.
if command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-W recvlimit'; then
    run_pair nc c-nl nc
else
    log "OpenBSD nc not installed: its row is skipped"
fi

# --- 1b: the same cost without a sender running --------------------------------
# The streaming numbers above move with scheduling on a shared machine: how
# often the receiver catches up and sleeps (one epoll_wait, one empty read and,
# for udpmsg, one flush each time) depends on the sender's speed. Here the
# receiver is stopped (SIGSTOP) while the C sender queues 10,000 datagrams,
# then continued until its queue is empty, N/10,000 times; nothing else runs
# meanwhile, so its CPU time is its own processing at full batching.
read -r -d '' PREFILL_PY <<'EOF' || true
import json, os, signal, sys, time
work, udpmsg, n, size, port, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
CHUNK = 10000
def queue(hexport):
    # Sum over every socket on the port: a listener has one per family.
    total, found = 0, False
    for table in ("/proc/net/udp6", "/proc/net/udp"):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if f[1].endswith(hexport):
                total += int(f[4].split(":")[1], 16)
                found = True
    return total if found else None
def run(kind):
    global port
    port += 1
    hexport = ":%04X" % port
    out_path = os.path.join(work, "prefill.out")
    if kind == "c":
        argv = [os.path.join(work, "recv"), str(port), str(n), "60000", "-"]
    else:
        argv = [udpmsg, "listen", "--json", "--port", str(port), "--count", str(n), "--timeout", "60s"]
    actions = [(os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    try:
        for _ in range(100):
            if queue(hexport) is not None:
                break
            time.sleep(0.05)
        for _ in range(n // CHUNK):
            os.kill(pid, signal.SIGSTOP)
            sender = os.posix_spawn(os.path.join(work, "send"),
                                    ["send", "127.0.0.1", str(port), str(CHUNK), size], os.environ,
                                    file_actions=[(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
            os.waitpid(sender, 0)
            os.kill(pid, signal.SIGCONT)
            for _ in range(500):
                if not queue(hexport):
                    break
                time.sleep(0.005)
        deadline, term = time.monotonic() + 5, False
        while True:
            w, _, ru = os.wait4(pid, os.WNOHANG)
            if w:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL if term else signal.SIGTERM)
                deadline, term = time.monotonic() + 5, True
            time.sleep(0.01)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    got = sum(1 for _ in open(out_path, "rb"))
    os.unlink(out_path)
    sent = (n // CHUNK) * CHUNK
    print(json.dumps({"tag": kind, "cpu_us": (ru.ru_utime + ru.ru_stime) / max(got, 1) * 1e6,
                      "user_us": ru.ru_utime / max(got, 1) * 1e6, "sys_us": ru.ru_stime / max(got, 1) * 1e6,
                      "lost": sent - got}), flush=True)
for _ in range(reps):
    for kind in ("udpmsg", "c"):
        run(kind)
EOF
log "receive cost with the queue pre-filled (no sender running), $REPS repetitions"
PORT=$((PORT + 1))
python3 -c "$PREFILL_PY" "$WORK" "$UDPMSG" "$N" "$SIZE" "$PORT" "$REPS" >"$WORK/prefill.res"
PORT=$((PORT + 2 * REPS + 1))

# --- 3: one-shot send ---------------------------------------------------------
# First the name resolution of each build: `send localhost -p echo` must
# reach a receiver on port 7 (the echo service) in this namespace. glibc
# linked statically still loads the NSS modules (libnss_files) at run time,
# so this can break where the dynamic build works.
: >"$WORK/resolve.txt"
for variant in dynamic static; do
    if [ "$variant" = dynamic ]; then bin=$UDPMSG; else bin=$UDPMSG_STATIC; fi
    [ -n "$bin" ] || continue
    "$WORK/recv" 7 1 5000 "$WORK/echo.out" 2>"$WORK/echo.err" &
    echo_pid=$!
    rc=0
    if wait_bound 7; then
        timeout 5 "$bin" send localhost -p echo hi 2>"$WORK/echo.send.err" || rc=$?
    else
        rc=bind
    fi
    wait "$echo_pid" || true
    if [ "$rc" = 0 ] && grep -q '^recv: 1 datagrams' "$WORK/echo.err" && grep -aq 'hi$' "$WORK/echo.out"; then
        echo "$variant ok" >>"$WORK/resolve.txt"
    else
        echo "$variant FAILED (exit $rc: $(head -c 150 "$WORK/echo.send.err" | tr '\n' ' '))" >>"$WORK/resolve.txt"
        log "udpmsg ($variant build) send localhost -p echo hi: FAILED (exit $rc)"
    fi
done

log "one-shot send, about 200 runs each, interleaved"
PORT=$((PORT + 1))
"$WORK/recv" "$PORT" 1000000 120000 /dev/null 2>/dev/null &
sink=$!
wait_bound "$PORT"
# Interleaved so that a burst of load from another process on this machine
# hits all commands alike: hyperfine in rounds, each round in another order
# (see ORDERS below); without hyperfine, a fork/exec loop alternating run by
# run. Either way $WORK/oneshot.times gets "NAME SECONDS" lines, NAME one of
# udpmsg, c, static, empty.
ONESHOT_NAMES=(udpmsg c)
ONESHOT_CMDS=("$UDPMSG send 127.0.0.1:$PORT hi" "$WORK/oneshot 127.0.0.1 $PORT hi")
if [ -n "$UDPMSG_STATIC" ]; then
    ONESHOT_NAMES+=(static)
    ONESHOT_CMDS+=("$UDPMSG_STATIC send 127.0.0.1:$PORT hi")
fi
if [ -n "$EMPTY_RUST" ]; then
    ONESHOT_NAMES+=(empty)
    ONESHOT_CMDS+=("$EMPTY_RUST")
fi
# 2n rounds for n commands: each rotation of the list, forwards and
# backwards, so each command goes first equally often (with three commands,
# every permutation once), about 204 runs of each in all.
ORDERS=()
n=${#ONESHOT_CMDS[@]}
ROUND_RUNS=$(((204 + 2 * n - 1) / (2 * n)))
for ((r = 0; r < 2 * n; r++)); do
    order=""
    for ((k = 0; k < n; k++)); do
        if ((r % 2 == 0)); then
            order+="$(((r / 2 + k) % n)) "
        else
            order+="$(((r / 2 + n - 1 - k) % n)) "
        fi
    done
    ORDERS+=("$order")
done
: >"$WORK/oneshot.times"
if command -v hyperfine >/dev/null 2>&1; then
    ONESHOT_TOOL=hyperfine
    round=0
    for order in "${ORDERS[@]}"; do
        round=$((round + 1))
        cmds=() names=""
        for i in $order; do
            cmds+=("${ONESHOT_CMDS[i]}")
            names+="${ONESHOT_NAMES[i]} "
        done
        timeout 300 hyperfine -N --runs "$ROUND_RUNS" --warmup 5 --style none \
            --export-json "$WORK/oneshot.$round.json" "${cmds[@]}" >/dev/null 2>>"$WORK/hyperfine.err"
        python3 - "$WORK/oneshot.$round.json" "$names" >>"$WORK/oneshot.times" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for name, result in zip(sys.argv[2].split(), results):
    for t in result["times"]:
        print(name, t)
EOF
    done
else
    ONESHOT_TOOL=python3
    for i in "${!ONESHOT_NAMES[@]}"; do
        printf '%s %s\n' "${ONESHOT_NAMES[i]}" "${ONESHOT_CMDS[i]}"
    done >"$WORK/oneshot.cmds"
    timeout 300 python3 - "$WORK/oneshot.cmds" >>"$WORK/oneshot.times" <<'EOF'
import os, sys, time
commands = {}
for line in open(sys.argv[1]):
    name, cmd = line.split(" ", 1)
    commands[name] = cmd.split()
for i in range(220):
    for name, argv in commands.items():
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ)
        os.waitpid(pid, 0)
        if i >= 20:
            print(name, time.perf_counter() - t0)
EOF
fi
kill -TERM "$sink" 2>/dev/null || true
wait "$sink" || true
echo "$STATIC_NOTE" >"$WORK/static.note"

# --- 4: round trip ------------------------------------------------------------
# udpmsg ping → udpmsg listen against the C ping-pong (benches/pingpong.c,
# maintained separately: `server PORT [ADDR]` echoes until 30 s idle; `client
# HOST PORT N [SIZE]` prints "sent=.. received=.. min_us=.. p50_us=..
# p99_us=.. max_us=.."; its default size, 34 bytes, is that of a udpmsg ping).
# In a VM a wake-up on another CPU costs an IPI, so where the scheduler puts
# the two ends moves the RTT by 2x: both servers run on CPU 1 and each client
# runs on CPU 0 ("cross") and on CPU 1 ("same"); unpinned ("any") when there
# is one CPU or no taskset. 3 rounds per placement, alternating udpmsg and C;
# each appends "PLACEMENT udpmsg|c P50 P99 RECEIVED SENT" to ping.txt.
log "round trip, 3 rounds of 5000 pings per placement"
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    placements="cross same"
    server_cpu=(taskset -c 1)
else
    placements="any"
    server_cpu=()
fi
PORT=$((PORT + 1))
ping_port=$PORT
"${server_cpu[@]}" "$UDPMSG" listen --port "$ping_port" --timeout 120s >/dev/null 2>&1 &
pinger=$!
wait_bound "$ping_port"
if [ "$HAVE_PINGPONG" = 1 ]; then
    PORT=$((PORT + 1))
    pong_port=$PORT
    "${server_cpu[@]}" "$WORK/pingpong" server "$pong_port" 127.0.0.1 >/dev/null 2>&1 &
    ppserver=$!
    wait_bound "$pong_port" || HAVE_PINGPONG=0
fi
: >"$WORK/ping.txt"
for placement in $placements; do
    case $placement in
        cross) client_cpu=(taskset -c 0) ;;
        same) client_cpu=(taskset -c 1) ;;
        *) client_cpu=() ;;
    esac
    for round in 1 2 3; do
        timeout 60 "${client_cpu[@]}" "$UDPMSG" ping "127.0.0.1:$ping_port" --interval 0 -c 5000 --json \
            2>>"$WORK/ping.err" | tail -n 1 >"$WORK/ping.json" || true
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(sys.argv[2], "udpmsg", round(d["p50_ms"] * 1000), round(d["p99_ms"] * 1000), d["received"], d["sent"])' \
            "$WORK/ping.json" "$placement" >>"$WORK/ping.txt" 2>>"$WORK/ping.err" || true
        if [ "$HAVE_PINGPONG" = 1 ]; then
            timeout 60 "${client_cpu[@]}" "$WORK/pingpong" client 127.0.0.1 "$pong_port" 5000 2>>"$WORK/ping.err" |
                sed -n "s/.*received=\([0-9]*\).*p50_us=\([0-9]*\) p99_us=\([0-9]*\).*/$placement c \2 \3 \1 5000/p" \
                >>"$WORK/ping.txt" || true
        fi
    done
done
kill -TERM "$pinger" 2>/dev/null || true
wait "$pinger" || true
if [ "$HAVE_PINGPONG" = 1 ]; then
    kill -TERM "$ppserver" 2>/dev/null || true
    wait "$ppserver" || true
fi

# --- profile (optional) --------------------------------------------------------
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null 2>&1; then
    log "perf not found: no profile (apt-get install linux-perf)"
elif [ "$PROFILE" = 1 ]; then
    log "profiling the listener (perf record, cpu-clock, DWARF call graphs)"
    # stop_perf_child PERF_PID: waits up to 10 s for the listener under perf to
    # reach its count; if datagrams were lost, stops the listener (by its pid,
    # perf's child) so that perf still writes its results.
    stop_perf_child() {
        local perf=$1 child i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$perf" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$perf" 2>/dev/null; then
            for child in $(pgrep -P "$perf"); do
                kill -TERM "$child" 2>/dev/null || true
            done
            sleep 1
            kill -TERM "$perf" 2>/dev/null || true
        fi
        wait "$perf" || true
    }
    PORT=$((PORT + 1))
    perf record -q -e cpu-clock -F 4999 --call-graph dwarf,16384 -o "$WORK/perf.data" -- \
        "$UDPMSG" listen --json --port "$PORT" --count "$N" --timeout 60s \
        >/dev/null 2>"$WORK/perf.err" &
    perfpid=$!
    wait_bound "$PORT"
    "$UDPMSG" send "127.0.0.1:$PORT" - <"$WORK/lines.txt"
    stop_perf_child "$perfpid"
    # Syscalls per datagram (tracepoint counts), fed by each sender.
    events=syscalls:sys_enter_recvmsg,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait
    for feed in udpmsg c; do
        PORT=$((PORT + 1))
        perf stat -x, -e "$events" -o "$WORK/syscalls.$feed.csv" -- \
            "$UDPMSG" listen --json --port "$PORT" --count "$N" --timeout 60s \
            >/dev/null 2>/dev/null &
        perfpid=$!
        wait_bound "$PORT"
        if [ "$feed" = udpmsg ]; then
            "$UDPMSG" send "127.0.0.1:$PORT" - <"$WORK/lines.txt"
        else
            "$WORK/send" 127.0.0.1 "$PORT" "$N" "$SIZE" 2>/dev/null
        fi
        stop_perf_child "$perfpid"
    done
    {
        echo "## Listener syscalls per datagram (perf stat tracepoints)"
        for feed in udpmsg c; do
            awk -F, -v n="$N" -v feed="$feed" '
                /sys_enter_/ { sub(/.*sys_enter_/, "", $3); out = out sprintf(" %s %.3f", $3, $1 / n) }
                END { print "fed by the " feed " sender:" (out == "" ? " (tracepoints unavailable)" : out) }' \
                "$WORK/syscalls.$feed.csv" 2>/dev/null || true
        done
        echo
        echo "## Where the listener's CPU goes (perf, self time by binary)"
        perf report -i "$WORK/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -n 6
        echo
        echo "## Inclusive time of the main steps (children)"
        perf report -i "$WORK/perf.data" --stdio --children --sort symbol -g none 2>/dev/null |
            grep -E 'Listener::run|Sink>::event|recv_with_local|RecvBatch::recv|__x64_sys_(recvmmsg|recvmsg|write|epoll_wait) |serde_json::ser::format_escaped_str_contents|Rfc3339Timestamp|LowerHex>::fmt|wire::classify|decode_body|__vdso_clock_gettime|EventLoop::wait' |
            awk '{ $NF=""; $(NF-1)=""; print }' | head -n 20
        echo
        echo "## Top self time by symbol"
        perf report -i "$WORK/perf.data" --stdio --no-children --sort symbol -g none --percent-limit 1 2>/dev/null |
            grep -v '^#' | grep -v '^$' | awk '{ $NF=""; $(NF-1)=""; print }' | head -n 25
    } >"$WORK/profile.txt"
fi

# --- report -------------------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "udpmsg: built from commit $BUILT_COMMIT${BUILT_DIRTY:+ with uncommitted changes in: $BUILT_DIRTY}"
    echo "tools: $(cc --version | head -n 1); $(rustc --version 2>/dev/null || echo rustc unknown)"
} >"$WORK/header.txt"
cat "$WORK/header.txt"
python3 - "$WORK" "$N" "$SIZE" "$REPS" "$ONESHOT_TOOL" "$PIN" <<'EOF'
import json, os, statistics, sys
work, n, size, reps, oneshot_tool, pin = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

def records(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]

recv, send, lines = {}, {}, {}
for r in records("recv.res"):
    recv.setdefault(r["tag"], []).append(r)
for r in records("send.res"):
    send.setdefault(r["tag"], []).append(r)
for r in records("lines.res"):
    lines.setdefault(r["tag"], []).append(r["lines"])

def runs(tag):
    return list(zip(recv.get(tag, []), send.get(tag, []), lines.get(tag, [])))

def cpu_values(tag):
    return [(r["user"] + r["sys"]) / max(l, 1) * 1e6 for r, _, l in runs(tag)]

def cpu_us(tag):
    v = cpu_values(tag)
    return statistics.median(v) if v else None

def lost(tag):
    v = [n - l for _, _, l in runs(tag)]
    return max(v) if v else None

def lost_text(tag):
    v = [n - l for _, _, l in runs(tag)]
    if not v:
        return "n/a"
    bad = sum(1 for x in v if x > 0)
    return f"{max(v)}" + (f" ({bad} of {len(v)} runs lost some)" if bad else "")

def rate_values(tag):
    return [n / s["wall"] for _, s, _ in runs(tag)]

def rate(tag):
    v = rate_values(tag)
    return statistics.median(v) if v else None

def spread(values, spec):
    """Median with the range of the runs: the noise is part of the result."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return format(values[0], spec)
    return f"{format(statistics.median(values), spec)} ({format(min(values), spec)}–{format(max(values), spec)})"

def hwm_mib(tag):
    v = [r["hwm_kb"] / 1024 for r, _, _ in runs(tag)]
    return max(v) if v else None

def split(tag):
    u = statistics.median([r["user"] / max(l, 1) * 1e6 for r, _, l in runs(tag)])
    s = statistics.median([r["sys"] / max(l, 1) * 1e6 for r, _, l in runs(tag)])
    return u, s

def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)

def fmtx(x):
    return "n/a" if x is None else f"{x:.2f}x"

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")

rows = []
def row(what, ours, base, r, target, ok):
    rows.append(f"| {what} | {ours} | {base} | {r} | {target} | {verdict(ok)} |")

u, c = cpu_us("udpmsg"), cpu_us("c")
r = ratio(u, c)
row("listener CPU per datagram, µs (udpmsg send → listen --json; C recv ← C send)",
    spread(cpu_values("udpmsg"), ".2f"), spread(cpu_values("c"), ".2f"),
    fmtx(r), "≤ 1.5x", None if r is None else r <= 1.5)
prefill = {}
for r in records("prefill.res"):
    prefill.setdefault(r["tag"], []).append(r)
pu = [r["cpu_us"] for r in prefill.get("udpmsg", [])]
pc = [r["cpu_us"] for r in prefill.get("c", [])]
rpf = ratio(statistics.median(pu), statistics.median(pc)) if pu and pc else None
u2 = cpu_us("c-to-udpmsg")
r2 = ratio(u2, c)
row("listener CPU per datagram, µs (both fed by the C sender)",
    spread(cpu_values("c-to-udpmsg"), ".2f"), spread(cpu_values("c"), ".2f"),
    fmtx(r2), "≤ 1.5x", None if r2 is None else r2 <= 1.5)
row("listener CPU per datagram, µs (queue pre-filled, no sender running)",
    spread(pu, ".2f"), spread(pc, ".2f"), fmtx(rpf), "≤ 1.5x", None if rpf is None else rpf <= 1.5)
lu, lc, lx, ly = lost("udpmsg"), lost("c"), lost("c-to-udpmsg"), lost("udpmsg-to-c")
row(f"datagrams lost of {n}, worst run", f"udpmsg pair: {lost_text('udpmsg')}; C send → udpmsg: {lost_text('c-to-udpmsg')}",
    f"C pair: {lost_text('c')}; udpmsg send → C: {lost_text('udpmsg-to-c')}", "", "0",
    None if lu is None else (lu == 0 and lx == 0))
su, sc = rate("udpmsg"), rate("c")
rs = ratio(su, sc)
row("send rate, datagrams/s (sender wall time; each into its own receiver)",
    spread(rate_values("udpmsg"), ",.0f"), spread(rate_values("c"), ",.0f"),
    fmtx(rs), "≥ 0.9x", None if rs is None else rs >= 0.9)
su2 = rate("udpmsg-to-c")
rs2 = ratio(su2, sc)
row("send rate, datagrams/s (both into the C receiver)",
    spread(rate_values("udpmsg-to-c"), ",.0f"), spread(rate_values("c"), ",.0f"),
    fmtx(rs2), "≥ 0.9x", None if rs2 is None else rs2 >= 0.9)
times = {"udpmsg": [], "c": [], "static": []}
for line in open(os.path.join(work, "oneshot.times")):
    name, t = line.split()
    times.setdefault(name, []).append(float(t) * 1e3)
def shot(name):
    v = times.get(name, [])
    return (statistics.median(v), min(v), len(v)) if v else (None, None, 0)
ou, oumin, oun = shot("udpmsg")
oc, ocmin, ocn = shot("c")
ro = ratio(ou, oc)
row(f"one-shot send, whole process, ms (median of {oun}; min; {oneshot_tool}, interleaved)",
    f"{fmt(ou, '.3f')} (min {fmt(oumin, '.3f')})", f"{fmt(oc, '.3f')} (min {fmt(ocmin, '.3f')})",
    fmtx(ro), "≤ 1.2x", None if ro is None else ro <= 1.2)
# The statically linked build, timed in the same rounds. It only counts if it
# still resolved `localhost` and the service `echo`.
resolve = dict(l.split(" ", 1) for l in open(os.path.join(work, "resolve.txt")).read().splitlines() if l)
static_note = open(os.path.join(work, "static.note")).read().strip()
osx, osxmin, osxn = shot("static")
if osx is None:
    row("one-shot send, static build (+crt-static), ms", static_note or "did not run",
        f"{fmt(oc, '.3f')} (min {fmt(ocmin, '.3f')})", "n/a", "≤ 1.2x", None)
else:
    rsx = ratio(osx, oc)
    resolves = resolve.get("static", "not checked")
    row(f"one-shot send, static build (+crt-static), ms (median of {osxn}; min; same rounds; "
        f"`send localhost -p echo`: {resolves}; {fmtx(ratio(osx, ou))} of the dynamic build)",
        f"{fmt(osx, '.3f')} (min {fmt(osxmin, '.3f')})", f"{fmt(oc, '.3f')} (min {fmt(ocmin, '.3f')})",
        fmtx(rsx), "≤ 1.2x", None if rsx is None else (rsx <= 1.2 and resolves == "ok"))
# What an ordinary dynamically linked Rust program (Rust's own main) costs
# to start and exit, for comparison: no verdict, it is not udpmsg.
oe, oemin, oen = shot("empty")
if oe is not None:
    row(f"reference: an ordinary Rust program that does nothing (benches/empty.rs: fn main, "
        f"dynamic), ms (median of {oen}; same rounds)",
        f"{fmt(oe, '.3f')} (min {fmt(oemin, '.3f')})", f"{fmt(oc, '.3f')} (min {fmt(ocmin, '.3f')})",
        fmtx(ratio(oe, oc)), "(reference)", None)
pings = {}
for line in open(os.path.join(work, "ping.txt")):
    placement, name, p50_, p99_, got, sent = line.split()
    pings.setdefault((placement, name), []).append((float(p50_), float(p99_), int(got), int(sent)))
def ping_stats(placement, name):
    v = pings.get((placement, name), [])
    if not v:
        return None, None, ""
    return (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
            f"{sum(x[2] for x in v)}/{sum(x[3] for x in v)} replies")
where = {"cross": "client and server on different CPUs", "same": "client and server on one CPU",
         "any": "unpinned"}
for placement in [p for p in ("cross", "same", "any") if any(k[0] == p for k in pings)]:
    p50, p99, ping_note = ping_stats(placement, "udpmsg")
    c50, c99, _ = ping_stats(placement, "c")
    if c50 is None:
        base = "skipped: benches/pingpong.c " + ("did not run" if os.path.exists(os.path.join(work, "pingpong")) else "not present")
    else:
        base = f"{c50:.0f} / {c99:.0f}"
    rp = ratio(p50, c50)
    row(f"round trip p50 / p99, µs, {where[placement]} (ping --interval 0 -c 5000, median of 3 rounds; {ping_note or 'ping failed'})",
        f"{fmt(p50, '.0f')} / {fmt(p99, '.0f')}", base, "n/a" if rp is None else f"{rp:.2f}x (p50)", "p50 ≤ 1.5x",
        None if rp is None else rp <= 1.5)
mu, mc = hwm_mib("udpmsg"), hwm_mib("c")
row("listener peak RSS, MiB (VmHWM during the stream)", fmt(mu, ".1f"), fmt(mc, ".1f"), fmtx(ratio(mu, mc)),
    "≤ 8 MiB", None if mu is None else mu <= 8)

print(f"\nudpmsg vs minimal C, N={n} datagrams of {size} bytes per stream, "
      f"median (range) of {reps} runs{', pinned' if pin == '1' else ''}\n")
print("| measure | udpmsg | C baseline | ratio | target | verdict |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print("\nName resolution (`udpmsg send localhost -p echo hi` to a receiver on port 7): "
      + ", ".join(f"{k} build {v}" for k, v in resolve.items()))

print("\nReceivers fed by the C sender (same datagrams), CPU per datagram received:\n")
print("| receiver | CPU µs/datagram | user / sys µs | lost of N | peak RSS MiB |")
print("|---|---|---|---|---|")
for tag, name in [("c", "C recvfrom loop (8 MiB rcvbuf, FILE* 64 KiB)"),
                  ("c-to-udpmsg", "udpmsg listen --json"),
                  ("c-to-udpmsg-text", "udpmsg listen (text)"),
                  ("socat", "socat -u UDP-RECV:P - (default rcvbuf)"),
                  ("socat-rcvbuf", "socat -u UDP-RECV:P,rcvbuf=8388608 -"),
                  ("nc", "nc -u -l (default rcvbuf)")]:
    if not runs(tag):
        print(f"| {name} | did not run | | | |")
        continue
    us, ss = split(tag)
    print(f"| {name} | {fmt(cpu_us(tag), '.2f')} | {us:.2f} / {ss:.2f} | {lost(tag)} | {fmt(hwm_mib(tag), '.1f')} |")

failed = [t for t in recv if any(r["killed"] for r in recv[t])]
if failed:
    print(f"\nwarning: receivers killed at their time limit: {', '.join(failed)}")
EOF

if [ -f "$WORK/profile.txt" ]; then
    echo
    cat "$WORK/profile.txt"
fi
