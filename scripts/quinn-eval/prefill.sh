#!/bin/bash
# Interleaved pre-filled receive cost: A, B, B2 (udpmsg listen --json) and C recv,
# each: SIGSTOP, C sender queues 10,000, SIGCONT, until empty; 30 times.
set -euo pipefail
if [ "${PF_NETNS:-}" != 1 ]; then export PF_NETNS=1; exec unshare -n -- bash "$0" "$@"; fi
ip link set lo up
if ip -o link show | awk -F': ' '{print $2}' | grep -qv '^lo$'; then echo "other interfaces: refusing" >&2; exit 1; fi
REPS=${1:-6}
python3 - "$REPS" <<'PY'
import json, os, signal, sys, time
reps=int(sys.argv[1]); n=300000; size="111"; port=46000; CHUNK=10000
Q=os.environ.get('QDIR', '/tmp/qbench')
kinds={'A':[f'{Q}/udpmsg-A'],'B':[f'{Q}/udpmsg-B'],'B2':[f'{Q}/udpmsg-B2'],'C':[f'{Q}/recv']}
def queue(hexport):
    total, found = 0, False
    for table in ("/proc/net/udp6", "/proc/net/udp"):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if f[1].endswith(hexport):
                total += int(f[4].split(":")[1], 16); found = True
    return total if found else None
def run(kind):
    global port
    port += 1
    hexport = ":%04X" % port
    out_path = f'{Q}/pf.out'
    if kind == 'C':
        argv = [kinds[kind][0], str(port), str(n), "60000", "-"]
    else:
        argv = [kinds[kind][0], "listen", "--json", "--port", str(port), "--count", str(n), "--timeout", "60s"]
    actions = [(os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    load=open('/proc/loadavg').read().split()[0]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    for _ in range(100):
        if queue(hexport) is not None: break
        time.sleep(0.05)
    for _ in range(n // CHUNK):
        os.kill(pid, signal.SIGSTOP)
        s = os.posix_spawn(f'{Q}/send', ["send", "127.0.0.1", str(port), str(CHUNK), size], os.environ,
                           file_actions=[(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
        os.waitpid(s, 0)
        os.kill(pid, signal.SIGCONT)
        for _ in range(500):
            if not queue(hexport): break
            time.sleep(0.005)
    deadline, term = time.monotonic() + 5, False
    while True:
        w, _, ru = os.wait4(pid, os.WNOHANG)
        if w: break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL if term else signal.SIGTERM)
            deadline, term = time.monotonic() + 5, True
        time.sleep(0.01)
    got = sum(1 for _ in open(out_path, "rb"))
    print(json.dumps({"kind": kind, "cpu_us": (ru.ru_utime + ru.ru_stime) / max(got, 1) * 1e6,
        "user_us": ru.ru_utime / max(got, 1) * 1e6, "sys_us": ru.ru_stime / max(got, 1) * 1e6,
        "lost": n - got, "load": load}), flush=True)
order=['A','B','B2','C']
for r in range(reps):
    o = order[r % 4:] + order[:r % 4]
    if r % 2: o = o[::-1]
    for k in o: run(k)
PY
