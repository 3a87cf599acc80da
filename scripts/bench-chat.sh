#!/usr/bin/env bash
# Benchmarks `udpmsg chat` on a namespace LAN (scripts/lan.sh; run as root):
#   1. message latency between two members, from the line written to one
#      member's stdin to the line read from the other's stdout (p50/p99),
#      at 40 messages a second and far faster, next to `udpmsg ping`
#      between the same hosts in the same run; and a bot that writes 500
#      lines at once (how many arrive, in how long, with how many datagrams);
#   2. a room of 20 members: time until every other member shows one
#      message, and the CPU each member uses while idle (presence only).
# Usage: scripts/bench-chat.sh [BINARY] (default target/release/udpmsg).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/udpmsg}
# Owned by this script (its pid): see scripts/lan.sh prefix.
PREFIX=$(bash scripts/lan.sh prefix bch_ $$)
trap 'bash scripts/lan.sh down $PREFIX >/dev/null 2>&1 || true' EXIT
bash scripts/lan.sh up "$PREFIX" 20 >/dev/null
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(uname -r), binary $BIN"
BIN=$BIN PREFIX=$PREFIX python3 - <<'PY'
import json, os, queue, statistics, subprocess, threading, time

BIN, PREFIX = os.environ["BIN"], os.environ["PREFIX"]

class Member:
    def __init__(self, k, name):
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", f"{PREFIX}h{k}", BIN, "chat", "--json",
             "--name", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.q = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            self.q.put((time.monotonic(), json.loads(line)))

    def say(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def until(self, pred, limit=30):
        end = time.monotonic() + limit
        while True:
            at, v = self.q.get(timeout=max(0.001, end - time.monotonic()))
            if pred(v):
                return at, v

    def cpu_ticks(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def drain(self):
        while not self.q.empty():
            self.q.get()

    def stop(self):
        self.p.kill()
        self.p.wait()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

def udp_out(k):
    """Datagrams host k has sent (its namespace's /proc/net/snmp)."""
    snmp = subprocess.run(["ip", "netns", "exec", f"{PREFIX}h{k}", "cat", "/proc/net/snmp"],
                          capture_output=True, text=True, check=True).stdout
    names, values = [l.split() for l in snmp.splitlines() if l.startswith("Udp:")][:2]
    return int(values[names.index("OutDatagrams")])

# 1. Latency, two members: a message written when the last one was shown,
#    `gap` later (25 ms: 40 a second, what the room takes from a member; 5 ms:
#    far faster, so the sender waits for its turn, room::PACE).
a, b = Member(1, "a"), Member(2, "b")
for m, other in ((a, "b"), (b, "a")):
    m.until(lambda v, o=other: v["kind"] == "joined" and v["name"] == o)
def latency(tag, gap, n=300):
    lat = []
    for i in range(n):
        text = f"{tag}{i}"
        t0 = time.monotonic()
        a.say(text)
        at, _ = b.until(lambda v: v["kind"] == "message" and v.get("text") == text)
        lat.append((at - t0) * 1e3)
        time.sleep(gap)
    print(f"chat message, send to display, {n} messages {gap * 1e3:.0f} ms apart: "
          f"p50 {pct(lat, 50):.3f} ms, p99 {pct(lat, 99):.3f} ms, max {max(lat):.3f} ms")
latency("m", 0.025)
ping = subprocess.run(
    ["ip", "netns", "exec", f"{PREFIX}h1", BIN, "ping", "10.77.0.2", "-c", "300",
     "-i", "0.005", "--json"], capture_output=True, text=True, check=True)
summary = [json.loads(l) for l in ping.stdout.splitlines()][-1]
print(f"udpmsg ping (round trip), 300 pings: p50 {summary['p50_ms']:.3f} ms, "
      f"p99 {summary['p99_ms']:.3f} ms")
time.sleep(1.5)
latency("f", 0.005)
# A bot writes 500 lines at once (each retried for 4 s at most).
time.sleep(1.5)
a.drain(); b.drain()
lines, out0, t0 = 500, udp_out(1), time.monotonic()
a.p.stdin.write("".join(f"bot{i}\n" for i in range(lines)))
a.p.stdin.flush()
shown = last = 0
try:
    while shown < lines:
        last, _ = b.until(lambda v: v["kind"] == "message", limit=10)
        shown += 1
except queue.Empty:
    pass
outcomes = {"delivered": 0, "not_delivered": 0}
try:
    while sum(outcomes.values()) < lines:
        _, v = a.until(lambda v: v["kind"] in outcomes, limit=10)
        outcomes[v["kind"]] += 1
except queue.Empty:
    pass
print(f"a bot writes {lines} lines at once: {shown} shown (the last {last - t0:.2f} s after), "
      f"{outcomes['delivered']} delivered, {outcomes['not_delivered']} not; "
      f"{udp_out(1) - out0} datagrams sent")
a.stop(); b.stop()

# 2. A room of 20.
t0 = time.monotonic()
room = [Member(k, f"m{k}") for k in range(1, 21)]
joined_at = []
for m in room:
    for _ in range(19):
        at, _ = m.until(lambda v: v["kind"] == "joined")
    joined_at.append(at)
print(f"20 members: every member saw the 19 others join {max(joined_at) - t0:.3f} s after the first started")
time.sleep(1)
t0 = time.monotonic()
room[0].say("hello room")
shown = [m.until(lambda v: v["kind"] == "message")[0] for m in room[1:]]
done, _ = room[0].until(lambda v: v["kind"] in ("delivered", "not_delivered"))
print(f"one message to 19 members: shown by all {(max(shown) - t0) * 1e3:.3f} ms after it was written "
      f"(first {(min(shown) - t0) * 1e3:.3f} ms), confirmed by all (✓) {(done - t0) * 1e3:.3f} ms")
hz = os.sysconf("SC_CLK_TCK")
idle = 20.0
before = [m.cpu_ticks() for m in room]
time.sleep(idle)
after = [m.cpu_ticks() for m in room]
cpu = [(y - x) / hz / idle * 100 for x, y in zip(before, after)]
print(f"idle (presence only, hellos every 5 s), {idle:.0f} s: CPU per member mean {statistics.mean(cpu):.3f}%, "
      f"max {max(cpu):.3f}% (clock ticks of 1/{hz} s)")
for m in room:
    m.stop()
PY
