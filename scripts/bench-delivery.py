#!/usr/bin/env python3
"""Measuring helpers for scripts/bench-delivery.sh (standard library only).

The shell script builds the namespaces and decides what runs when; these
subcommands do what needs a clock, a wait4 or a socket, each bounded in
time. Each measuring subcommand writes one JSON object to OUT (replacing
it); `record` appends it, with the script's own fields, to a results file.

  timed OUT LIMIT_S CMD...
      runs CMD: {"wall", "user", "sys", "rc", "killed"} (wall from spawn to
      exit; CPU from wait4); SIGKILL after LIMIT_S.
  oneshots OUT N LIMIT_S CMD...
      runs `CMD "one-shot I"` for I = 1..N one after the other, as fast as
      they start: {"n", "ran", "ok", "failed", "rcs", "seconds", "p50_ms",
      "p99_ms", "max_ms"}; each run is killed after 10 s, and no new run
      starts after LIMIT_S.
  gen OUT HOST PORT IDS PER WINDOW LIMIT_S [bundle|plain]
      many senders from one socket: IDS acknowledged-mode sender ids, PER
      Texts each ("I SEQ"), sent round-robin over the ids (encoded as
      docs/PROTOCOL.md section 4.1 says; with FLAG_BUNDLE unless "plain",
      so their acks may come together in Acks datagrams, 4.11), at most
      WINDOW unconfirmed per id, acks read as they come, unconfirmed Texts
      not held resent after 200 ms: {"ids", "per", "bundle", "sent",
      "resent", "acks", "replies", "refused", "all_acked", "confirmed",
      "seconds"} ("acks": entries, "replies": datagrams).
  check-gen OUTPUT IDS PER
      checks a listener's text output of `gen`: every "I SEQ" once, and per
      I in SEQ order; prints {"shown_lines", "shown_ok", "shown_why"}.
  prefill OUT PORT CHUNKS PER_CHUNK BODY DEST CMD...
      the receive cost of big messages with no sender running: starts the
      receiver CMD (stdout to the file OUT.data, deleted after, with DEST
      "file"; else to /dev/null), then CHUNKS times stops it
      (SIGSTOP), queues PER_CHUNK udpmsg Texts (no ack, BODY bytes of body,
      each its own seq) on 127.0.0.1:PORT, continues it and waits until its
      queue is empty; then SIGTERM (both receivers flush and exit):
      {"cpu_s", "user", "sys", "datagrams", "bytes", "size", "queued"}.
  record DEST [@FILE | KEY=VALUE]...
      appends one JSON line to DEST: FILE's object merged with the pairs.
  report WORK
      reads WORK/*.res and prints the Markdown table of goals.
"""

import json
import os
import random
import re
import select
import signal
import socket
import statistics
import struct
import sys
import time

# --- protocol v2, from docs/PROTOCOL.md sections 2 and 4 -------------------
HEADER = b"UDPM\x02\x00"
TEXT, ACK, REFUSE, ACKS = 0, 1, 6, 10
FLAG_ACK, FLAG_BUNDLE = 0x01, 0x04


def encode_text(sender, seq, base, flags, name, body):
    """Section 4.1: header, tag, sender, seq, base, flags, name, body."""
    return (HEADER + struct.pack("<IQQQB", TEXT, sender, seq, base, flags)
            + struct.pack("<Q", len(name)) + name + struct.pack("<Q", len(body)) + body)


def decode_replies(data):
    """The Acks (4.2, and each entry of an Acks, 4.11) in a reply, as
    ("ack", sender, next, [(first, last)]), or its Refuse (4.6) as
    ("refuse", sender, seq, reason); [] for anything else."""
    if len(data) < 10 or data[:6] != HEADER:
        return []
    (tag,) = struct.unpack_from("<I", data, 6)
    if tag == ACK and len(data) >= 42:
        entry = decode_entry(data, 18)
        return [entry[0]] if entry and entry[1] == len(data) else []
    if tag == ACKS and len(data) >= 26:
        (elen,) = struct.unpack_from("<Q", data, 18)
        if 26 + elen != len(data):
            return []
        out, pos = [], 26
        while pos < len(data):
            entry = decode_entry(data, pos)
            if entry is None:
                return []
            out.append(entry[0])
            pos = entry[1]
        return out
    if tag == REFUSE and len(data) == 35:
        _instance, sender, seq, reason = struct.unpack_from("<QQQB", data, 10)
        return [("refuse", sender, seq, reason)]
    return []


def decode_entry(data, pos):
    """An Ack's sender, next and ranges at `pos`: (the ack, where it ends)."""
    if len(data) < pos + 24:
        return None
    sender, nxt, rlen = struct.unpack_from("<QQQ", data, pos)
    pos += 24
    if rlen % 16 or pos + rlen > len(data):
        return None
    ranges = [struct.unpack_from("<QQ", data, pos + 16 * k) for k in range(rlen // 16)]
    return ("ack", sender, nxt, ranges), pos + rlen


def put(path, record):
    """Writes one measurement (replacing the last): `record` files it."""
    with open(path, "w") as f:
        f.write(json.dumps(record) + "\n")


def value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def cmd_record(dest, *items):
    """Appends one JSON line to DEST: the objects of @FILE items merged with
    the KEY=VALUE items (numbers and true/false typed)."""
    record = {}
    for item in items:
        if item.startswith("@"):
            with open(item[1:]) as f:
                record.update(json.loads(f.read()))
        else:
            key, _, text = item.partition("=")
            record[key] = value(text)
    with open(dest, "a") as f:
        f.write(json.dumps(record) + "\n")


def devnull_actions(stdout="/dev/null", stderr="/dev/null"):
    return [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)]


# --- timed -------------------------------------------------------------------
def cmd_timed(out, limit, *cmd):
    limit = float(limit)
    t0 = time.monotonic()
    pid = os.posix_spawnp(cmd[0], list(cmd), os.environ)

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    killed = False

    def expire(_sig, _frame):
        nonlocal killed
        killed = True
        forward(signal.SIGKILL, None)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    _, status, ru = os.wait4(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    wall = time.monotonic() - t0
    put(out, {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
                 "rc": os.waitstatus_to_exitcode(status), "killed": killed})


# --- oneshots ----------------------------------------------------------------
def cmd_oneshots(out, n, limit, *cmd):
    n, limit = int(n), float(limit)
    err = out + ".stderr"
    times, rcs = [], {}
    current = [0]

    def expire(_sig, _frame):
        if current[0]:
            try:
                os.kill(current[0], signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(_sig, _frame):
        expire(None, None)
        sys.exit(130)

    signal.signal(signal.SIGALRM, expire)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    actions = devnull_actions(stderr=err)
    start = time.monotonic()
    for i in range(1, n + 1):
        if time.monotonic() - start > limit:
            break
        argv = list(cmd) + [f"one-shot {i}"]
        t0 = time.monotonic()
        current[0] = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        signal.setitimer(signal.ITIMER_REAL, 10.0)
        _, status = os.waitpid(current[0], 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        current[0] = 0
        times.append(time.monotonic() - t0)
        rc = os.waitstatus_to_exitcode(status)
        rcs[str(rc)] = rcs.get(str(rc), 0) + 1
    seconds = time.monotonic() - start
    times.sort()
    ms = [t * 1e3 for t in times]
    put(out, {"n": n, "ran": len(times), "ok": rcs.get("0", 0),
                 "failed": len(times) - rcs.get("0", 0), "rcs": rcs, "seconds": seconds,
                 "p50_ms": ms[len(ms) // 2] if ms else None,
                 "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else None,
                 "max_ms": ms[-1] if ms else None})


# --- gen: many senders from one socket ---------------------------------------
def cmd_gen(out, host, port, ids, per, window, limit, mode="bundle"):
    nids, per, window, limit = int(ids), int(per), int(window), float(limit)
    if mode not in ("bundle", "plain"):
        sys.exit(f"gen: {mode!r} is neither bundle nor plain")
    flags = FLAG_ACK | (FLAG_BUNDLE if mode == "bundle" else 0)
    rto = 0.2  # no loss is expected on a bare veth; this only covers drops
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):  # *BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, 32 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, 32 << 20)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    rng = random.SystemRandom()
    senders, seen = [], set()
    while len(senders) < nids:
        s = rng.getrandbits(64)
        if s not in seen:
            seen.add(s)
            senders.append(s)
    index = {s: i for i, s in enumerate(senders)}
    name = b"gen"
    acked = [0] * nids          # the listener's `next` for each id
    nxt = [0] * nids            # next new seq to send
    held = [()] * nids          # held ranges from the latest ack
    last = [0.0] * nids         # last send or progress
    refused = [False] * nids
    done = 0
    stats = {"sent": 0, "resent": 0, "acks": 0, "replies": 0, "refused": 0}

    def send(i, seq):
        data = encode_text(senders[i], seq, acked[i], flags, name, f"{i} {seq}".encode())
        for _ in range(10000):
            try:
                sock.send(data)
                return
            except (BlockingIOError, InterruptedError):
                select.select([], [sock], [], 0.01)
            except ConnectionRefusedError:
                sys.exit("gen: nothing listens on the port")
        sys.exit("gen: the socket stayed full for 100 s")

    def drain():
        nonlocal done
        while True:
            try:
                data = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                sys.exit("gen: nothing listens on the port")
            replies = decode_replies(data)
            stats["replies"] += 1 if replies else 0
            for reply in replies:
                i = index.get(reply[1])
                if i is None:
                    continue
                if reply[0] == "refuse":
                    if not refused[i]:
                        refused[i] = True
                        stats["refused"] += 1
                        done += 1
                    continue
                stats["acks"] += 1
                if refused[i] or acked[i] >= per:
                    continue
                if reply[2] > acked[i]:
                    acked[i] = reply[2]
                    last[i] = time.monotonic()
                    if acked[i] >= per:
                        done += 1
                held[i] = reply[3]

    start = time.monotonic()
    deadline = start + limit
    burst = max(1, 256 // nids)
    sends_since_drain = 0
    last_scan = start
    while done < nids and time.monotonic() < deadline:
        progressed = False
        for i in range(nids):
            if refused[i]:
                continue
            top = min(per, acked[i] + window)
            k = 0
            while nxt[i] < top and k < burst:
                send(i, nxt[i])
                nxt[i] += 1
                k += 1
            if k:
                stats["sent"] += k
                last[i] = time.monotonic()
                progressed = True
                sends_since_drain += k
                if sends_since_drain >= 256:
                    drain()
                    sends_since_drain = 0
        drain()
        now = time.monotonic()
        if now - last_scan >= 0.02:
            last_scan = now
            for i in range(nids):
                if refused[i] or acked[i] >= nxt[i] or now - last[i] < rto:
                    continue
                hranges = held[i]
                for seq in range(acked[i], min(nxt[i], acked[i] + 256)):
                    if any(a <= seq <= b for a, b in hranges):
                        continue
                    send(i, seq)
                    stats["resent"] += 1
                last[i] = now
                progressed = True
        if not progressed and done < nids:
            select.select([sock], [], [], 0.002)
    seconds = time.monotonic() - start
    put(out, {"ids": nids, "per": per, "bundle": mode == "bundle", **stats, "seconds": seconds,
                 "all_acked": done == nids and stats["refused"] == 0,
                 "confirmed": sum(min(a, per) for a in acked)})


def cmd_check_gen(output, ids, per):
    nids, per = int(ids), int(per)
    want = [0] * nids
    lines, why = 0, ""
    with open(output, "rb") as f:
        for line in f:
            lines += 1
            parts = line.split()
            try:
                i, seq = int(parts[-2]), int(parts[-1])
            except (IndexError, ValueError):
                why = why or f"line {lines} is not 'I SEQ': {line[:80]!r}"
                continue
            if not 0 <= i < nids or seq != want[i]:
                why = why or f"line {lines}: id {i} seq {seq}, expected seq {want[i] if 0 <= i < nids else '?'}"
                continue
            want[i] += 1
    if not why and any(w != per for w in want):
        short = sum(1 for w in want if w != per)
        why = f"{short} ids did not show all {per}"
    print(json.dumps({"shown_lines": lines, "shown_ok": not why, "shown_why": why}))


# --- prefill: receive cost of big messages ----------------------------------
def rx_queue(port):
    """Bytes queued on the UDP sockets bound to PORT (this namespace), or None."""
    hexport, total, found = ":%04X" % port, 0, False
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[1].endswith(hexport):
                total += int(f[4].split(":")[1], 16)
                found = True
    return total if found else None


def cmd_prefill(out, port, chunks, per_chunk, body, dest, *cmd):
    port, chunks, per_chunk, body = int(port), int(chunks), int(per_chunk), int(body)
    data = out + ".data" if dest == "file" else "/dev/null"
    if os.path.exists(out + ".err"):
        os.unlink(out + ".err")
    pid = os.posix_spawn(cmd[0], list(cmd), os.environ,
                         file_actions=devnull_actions(stdout=data, stderr=out + ".err"))
    queued = 0
    try:
        for _ in range(200):
            if rx_queue(port) is not None:
                break
            time.sleep(0.025)
        else:
            sys.exit(f"prefill: nothing bound to port {port} after 5 s")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        sender = random.getrandbits(64)
        payload = b"x" * body
        seq = 0
        for _ in range(chunks):
            os.kill(pid, signal.SIGSTOP)
            for _ in range(per_chunk):
                sock.send(encode_text(sender, seq, seq, 0, b"big", payload))
                seq += 1
            queued += per_chunk
            os.kill(pid, signal.SIGCONT)
            for _ in range(2000):
                if not rx_queue(port):
                    break
                time.sleep(0.002)
        size = len(encode_text(sender, 0, 0, 0, b"big", payload))
        # Let it write what it read, then stop it (both receivers flush on SIGTERM).
        time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)
        deadline, killed = time.monotonic() + 10, False
        while True:
            w, _status, ru = os.wait4(pid, os.WNOHANG)
            if w:
                break
            if not killed and time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                killed = True
            time.sleep(0.01)
    except BaseException:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    # How many it showed, as it says on stderr: benches/recv.c "recv: N
    # datagrams", udpmsg's summary "N received" (Texts shown).
    err = open(out + ".err", "rb").read()
    said = re.search(rb"^recv: (\d+) datagrams", err, re.M) or re.search(rb" (\d+) received", err)
    datagrams = int(said.group(1)) if said else 0
    if data != "/dev/null" and os.path.exists(data):
        os.unlink(data)
    put(out, {"cpu_s": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime,
                 "sys": ru.ru_stime, "datagrams": datagrams, "bytes": datagrams * size,
                 "size": size, "queued": queued, "killed": killed})


# --- report -------------------------------------------------------------------
def records(work, name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(x, spec=".2f"):
    return "n/a" if x is None else format(x, spec)


def runs_text(values, spec):
    return ", ".join(fmt(v, spec) for v in values)


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def loads(recs):
    v = [r["load"] for r in recs if r.get("load") is not None]
    return f"load {min(v):.2f}–{max(v):.2f}" if v else ""


def cmd_report(work):
    rows = []

    def row(goal, figure, per_run, target, ok, note=""):
        rows.append(f"| {goal} | {figure} | {per_run} | {target} | {verdict(ok)} | {note} |")

    # 1. loss goodput
    loss = records(work, "loss.res")
    if loss:
        by = {}
        for r in loss:
            by.setdefault(r["loss"], []).append(r)
        def rate(r):
            return r["lines"] / r["wall"] if r["wall"] > 0 and r["rc"] == 0 and r["ok"] else 0.0
        base = med([rate(r) for r in by.get(0, [])])
        goals = {1: 0.9, 5: 0.7, 10: 0.5, 30: 0.2}
        for pct in sorted(by):
            recs = by[pct]
            rates = [rate(r) for r in recs]
            m = med(rates)
            bad = [r for r in recs if not (r["rc"] == 0 and r["ok"])]
            checks = "all shown once, in order" if not bad else \
                f"{len(bad)} of {len(recs)} runs FAILED ({'; '.join(r['why'] for r in bad[:2])})"
            if pct == 0:
                row(f"1. goodput of {recs[0]['lines']:,} lines `send --ack`, 0% loss (nft rule `< 0` on both inputs), lines/s",
                    fmt(m, ",.0f"), runs_text(rates, ",.0f"), "baseline",
                    None if bad == [] else False, f"{checks}; {loads(recs)}")
                dups = [r["dups"] / r["lines"] * 100 for r in recs]
                md = med(dups)
                row("1. spurious resends at 0% loss (listener's duplicates suppressed / lines), %",
                    fmt(md, ".3f"), runs_text(dups, ".3f"), "< 1%",
                    None if md is None else max(dups) < 1.0, "worst run counts")
                continue
            ratios = [x / base if base else None for x in rates]
            mr = m / base if base and m is not None else None
            goal = goals.get(pct)
            row(f"1. goodput at {pct}% loss on both inputs, relative to 0%",
                f"{fmt(mr, '.2f')}x ({fmt(m, ',.0f')}/s)", runs_text(ratios, ".2f") + "x",
                f"≥ {goal}x" if goal else "(record)",
                None if goal is None or mr is None else (mr >= goal and not bad),
                f"{checks}; dups/line {fmt(med([r['dups'] / r['lines'] for r in recs]), '.2f')}; {loads(recs)}")

    # 1b. a stalled listener
    stall = records(work, "stall.res")
    if stall:
        calm = [r for r in stall if r["mode"] == "calm"]
        hit = [r for r in stall if r["mode"] == "stalled"]
        bad = [r for r in stall if not (r["rc"] == 0 and r["ok"])]
        def pct(recs):
            return [r["dups"] / r["lines"] * 100 for r in recs]
        row(f"1b. resends after the listener is stopped {hit[0]['stall_ms'] if hit else '?'} ms mid-stream "
            "(duplicates suppressed / lines, %; undisturbed in brackets)",
            f"{fmt(med(pct(hit)), '.2f')} ({fmt(med(pct(calm)), '.2f')})",
            runs_text(pct(hit), ".2f") + " (" + runs_text(pct(calm), ".2f") + ")", "(record)", None,
            ("all shown once, in order" if not bad else f"{len(bad)} runs FAILED the check")
            + f"; {loads(stall)}")

    # 2. ack cost
    cost = records(work, "cost.res")
    if cost:
        plain = [r for r in cost if r["mode"] == "plain"]
        ack = [r for r in cost if r["mode"] == "ack"]
        pr = [r["lines"] / r["wall"] for r in plain]
        ar = [r["lines"] / r["wall"] if r["rc"] == 0 else 0.0 for r in ack]
        ratios = [a / p for a, p in zip(ar, pr)]
        m = med(ar) / med(pr) if med(pr) else None
        shown = f"plain shown {min(r['shown'] for r in plain)}–{max(r['shown'] for r in plain)} of {plain[0]['lines']}"
        row(f"2. sender throughput, `send --ack -` / `send -` ({plain[0]['lines']:,} lines, veth, no loss)",
            f"{fmt(m, '.2f')}x ({fmt(med(ar), ',.0f')} vs {fmt(med(pr), ',.0f')} lines/s)",
            runs_text(ratios, ".2f") + "x (pairwise)", "≥ 0.8x", None if m is None else m >= 0.8,
            f"{shown}; {loads(cost)}")
        pc = [r["cpu_ns"] / 1e3 / max(r["dgrams"], 1) for r in plain]
        ac = [r["cpu_ns"] / 1e3 / max(r["dgrams"], 1) for r in ack]
        m = med(ac) / med(pc) if med(pc) else None
        row("2. listener CPU per datagram, ack / plain (µs: /proc/PID/schedstat)",
            f"{fmt(m, '.2f')}x ({fmt(med(ac), '.2f')} vs {fmt(med(pc), '.2f')} µs)",
            runs_text([a / p for a, p in zip(ac, pc)], ".2f") + "x (pairwise)", "≤ 1.5x",
            None if m is None else m <= 1.5,
            f"ack: {fmt(med([r['acks'] / max(r['dgrams'], 1) for r in ack]), '.3f')} acks/datagram")

    # 3a. one-shot senders
    shots = records(work, "oneshots.res")
    if shots:
        ok = all(r["failed"] == 0 and r["ran"] == r["n"] and r.get("shown_ok") for r in shots)
        rates = [r["ran"] / r["seconds"] for r in shots]
        row(f"3a. {shots[0]['n']:,} one-shot `send --ack` in a row, one listener: all exit 0 (runs/s)",
            f"{sum(r['ok'] for r in shots)}/{sum(r['ran'] for r in shots)} exit 0; "
            f"{fmt(med([r['seconds'] for r in shots]), '.1f')} s, {fmt(med(rates), ',.0f')}/s",
            runs_text(rates, ",.0f") + " /s; p50 " + runs_text([r["p50_ms"] for r in shots], ".2f")
            + " ms; max " + runs_text([r["max_ms"] for r in shots], ".0f") + " ms",
            "all exit 0", ok,
            "; ".join(sorted({r.get("shown_why", "") for r in shots} - {""})) or
            f"listener showed each once; {loads(shots)}")

    # 3b. many concurrent senders
    gen = records(work, "gen.res")
    if gen:
        many = [r for r in gen if r["ids"] > 1]
        one = [r for r in gen if r["ids"] == 1]
        allok = all(r["all_acked"] and r["shown_ok"] for r in many)
        how = "one socket, FLAG_BUNDLE" if many[0].get("bundle") else "one socket, no FLAG_BUNDLE"
        row(f"3b. {many[0]['ids']:,} concurrent sender ids × {many[0]['per']} ({how}): all acked",
            f"{sum(1 for r in many if r['all_acked'] and r['shown_ok'])}/{len(many)} runs; "
            f"{fmt(med([r['seconds'] for r in many]), '.1f')} s",
            "resent " + runs_text([r["resent"] for r in many], "d") + "; refused "
            + runs_text([r["refused"] for r in many], "d"),
            "all acked", allok,
            "; ".join(sorted({r.get("shown_why", "") for r in many} - {""})) or "listener showed each once, in order")
        mc = [r["cpu_ns"] / 1e3 / max(r["dgrams"], 1) for r in many]
        oc = [r["cpu_ns"] / 1e3 / max(r["dgrams"], 1) for r in one]
        m = med(mc) / med(oc) if med(oc) else None
        row(f"3b. listener CPU per datagram, {many[0]['ids']:,} ids / 1 id sending the same total",
            f"{fmt(m, '.2f')}x ({fmt(med(mc), '.2f')} vs {fmt(med(oc), '.2f')} µs)",
            runs_text([a / b for a, b in zip(mc, oc)], ".2f") + "x (pairwise)", "≤ 1.5x",
            None if m is None else m <= 1.5,
            f"ack datagrams/datagram {fmt(med([r['acks_sent'] / max(r['dgrams'], 1) for r in many]), '.3f')} vs "
            f"{fmt(med([r['acks_sent'] / max(r['dgrams'], 1) for r in one]), '.3f')}; {loads(gen)}")

    # 4. latency under load
    ping = records(work, "ping.res")
    if ping:
        idle = [r for r in ping if r["phase"] == "idle"]
        load = [r for r in ping if r["phase"] == "load"]
        i50, i99 = med([r["p50"] for r in idle]), med([r["p99"] for r in idle])
        l50, l99 = med([r["p50"] for r in load]), med([r["p99"] for r in load])
        m = l99 / i99 if i99 else None
        row(f"4. `ping -i 1ms -c {idle[0]['pings']}` p99 under a {load[0]['stream_rate']:,}/s stream "
            "of 64-byte datagrams / idle (µs p50/p99)",
            f"{fmt(m, '.2f')}x (idle {fmt(i50, '.0f')}/{fmt(i99, '.0f')}, load {fmt(l50, '.0f')}/{fmt(l99, '.0f')})",
            "idle p99 " + runs_text([r["p99"] for r in idle], ".0f") + "; load p99 "
            + runs_text([r["p99"] for r in load], ".0f"), "≤ 3x", None if m is None else m <= 3,
            f"replies {sum(r['received'] for r in load)}/{sum(r['sent'] for r in load)} under load; {loads(ping)}")
        stream = [r for r in load if r.get("dgrams")]
        sc = [r["cpu_ns"] / 1e3 / r["dgrams"] for r in stream]
        row("4. listener CPU per datagram of that stream (64 B raw, output /dev/null), µs",
            fmt(med(sc), ".2f"), runs_text(sc, ".2f"), "(record)", None,
            f"kernel drops {runs_text([r['drops'] for r in stream], 'd')}; stream rate "
            + runs_text([r['rate'] for r in stream], ",.0f") + "/s")

    # 5. big messages
    big = records(work, "big.res")
    for dest in ("file", "null"):
        recs = [r for r in big if r.get("dest", "file") == dest]
        if not recs:
            continue
        u = [r["cpu_s"] / max(r["bytes"], 1) * 1e9 for r in recs if r["tag"] == "udpmsg"]
        c = [r["cpu_s"] / max(r["bytes"], 1) * 1e9 for r in recs if r["tag"] == "c"]
        m = med(u) / med(c) if med(c) else None
        size = recs[0]["size"]
        lost = [r["queued"] - r["datagrams"] for r in recs]
        if dest == "file":
            what = "both writing to a file"
        else:
            what = "both writing to /dev/null: the processing alone"
        row(f"5. listener CPU per byte, {size:,}-byte Texts, `udpmsg listen` / benches/recv.c, {what} (ns/KB)",
            f"{fmt(m, '.2f')}x ({fmt(med(u) * 1024 if u else None, '.0f')} vs {fmt(med(c) * 1024 if c else None, '.0f')} ns/KB)",
            runs_text([a / b for a, b in zip(u, c)], ".2f") + "x (pairwise)",
            "≤ 1.2x" if dest == "file" else "(record)",
            None if m is None or dest != "file" else m <= 1.2,
            f"queue pre-filled, no sender running; not shown: {max(lost)} worst run; {loads(recs)}")

    # 6. discovery under loss
    disc = records(work, "discover.res")
    for r in disc:
        missed = r["missed"]
        bad = sum(1 for x in missed if x)
        goal = r["timeout"] == "3s"
        row(f"6. `discover -t {r['timeout']}`, {r['listeners']} listeners, 30% loss on every host's input: "
            f"listeners missed per run",
            f"{sum(missed)} missed in {len(missed)} runs ({bad} runs missed some)",
            " ".join(str(x) for x in missed), "0 in 30 runs" if goal else "(record)",
            (sum(missed) == 0) if goal else None, r.get("load", ""))

    print("| goal | result (median) | per run | target | verdict | notes |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {"timed": cmd_timed, "oneshots": cmd_oneshots, "gen": cmd_gen,
             "check-gen": cmd_check_gen, "prefill": cmd_prefill, "record": cmd_record,
             "report": cmd_report}
    if cmd not in table:
        sys.exit(__doc__)
    table[cmd](*args)


if __name__ == "__main__":
    main()
