#!/usr/bin/env python3
"""A udpmsg peer written from docs/PROTOCOL.md alone (standard library only).

The codec is section 10 of the document, unchanged; the rest is a small
command line around it, used by tests/python_peer.rs:

    pypeer.py send HOST PORT NAME TEXT...   send one Text (words joined by spaces)
    pypeer.py send-acked HOST PORT NAME WORD...
                                            send each word as an acknowledged Text
                                            (section 7), print the Acks (see send_acked())
    pypeer.py send-many HOST PORT NAME IDS bundle|plain WORD...
                                            send each word as the acknowledged Text seq i
                                            of IDS senders, all from one socket (with
                                            FLAG_BUNDLE or without), print each reply
                                            datagram (see send_many())
    pypeer.py listen HOST PORT [SECONDS]    print "listening on HOST:PORT", then
                                            wait for one Text and print "NAME: TEXT"
    pypeer.py listen-acked HOST PORT COUNT [SECONDS]
                                            the same, for COUNT acknowledged Texts,
                                            acknowledged as section 7 says (see listen())
    pypeer.py check                         read hex datagrams from stdin, one a line;
                                            print one verdict a line (see verdict())
    pypeer.py announce HOST PORT NAME LIFETIME_MS ROOM
                                            announce a listener on PORT (section 7,
                                            Presence): a Hello to HOST at PORT + 1,
                                            then, once stdin closes, a Goodbye;
                                            prints the instance id in hex

Every wait has a deadline: SECONDS (default 10; send-acked 20), then exit 1.
"""

import os
import socket
import struct
import sys
import time

# --- section 10 of docs/PROTOCOL.md -----------------------------------------

MAGIC, VERSION, MODE_OPEN, MODE_SEALED = b"UDPM", 2, 0, 1
HEADER = MAGIC + bytes([VERSION, MODE_OPEN])
TEXT, ACK, PROBE, ANSWER, PING, PONG, REFUSE, HELLO, GOODBYE, FILE_STATUS, ACKS = range(11)
KINDS = ["text", "ack", "probe", "answer", "ping", "pong", "refuse", "hello", "goodbye",
         "file_status", "acks"]
FLAG_ACK, FLAG_FILE, FLAG_BUNDLE = 0x01, 0x02, 0x04
OFFER, CHUNK, END, CANCEL = range(4)      # file records (section 4.10)
MAX_RANGES = 32
MAX_ENTRIES = 64              # of an Acks (4.11)
MAX_DATAGRAM = 65527          # IPv6; 65507 over IPv4
DEFAULT_PORT = 47474


class Malformed(Exception):
    pass


def _blob(b):                 # u64 LE length, then the bytes
    return struct.pack("<Q", len(b)) + b


def encode_text(sender, seq, base, flags, name, body):
    return (HEADER + struct.pack("<IQQQB", TEXT, sender, seq, base, flags)
            + _blob(name.encode("utf-8")) + _blob(body))


def encode_ack(instance, sender, next_, ranges=()):   # ranges: [(first, last)]
    pairs = b"".join(struct.pack("<QQ", a, b) for a, b in ranges)
    return HEADER + struct.pack("<IQQQ", ACK, instance, sender, next_) + _blob(pairs)


def encode_acks(instance, entries):      # entries: [(sender, next, ranges)]
    blob = b"".join(struct.pack("<QQ", sender, next_)
                    + _blob(b"".join(struct.pack("<QQ", a, b) for a, b in ranges))
                    for sender, next_, ranges in entries)
    return HEADER + struct.pack("<IQ", ACKS, instance) + _blob(blob)


def encode_refuse(instance, sender, seq, reason):
    return HEADER + struct.pack("<IQQQB", REFUSE, instance, sender, seq, reason)


def encode_probe(instance, token, pad):
    return HEADER + struct.pack("<IQQ", PROBE, instance, token) + _blob(pad)


def encode_answer(instance, token, port, version, name):
    return (HEADER + struct.pack("<IQQHB", ANSWER, instance, token, port, version)
            + _blob(name.encode("utf-8")))


def encode_ping(kind, sender, seq, stamp):      # kind: PING or PONG
    return HEADER + struct.pack("<IQQQ", kind, sender, seq, stamp)


def encode_hello(instance, port, version, lifetime_ms, name, room=""):
    return (HEADER + struct.pack("<IQHBI", HELLO, instance, port, version, lifetime_ms)
            + _blob(name.encode("utf-8")) + _blob(room.encode("utf-8")))


def encode_goodbye(instance):
    return HEADER + struct.pack("<IQ", GOODBYE, instance)


def encode_file_status(instance, sender, seq, status, detail):
    return HEADER + struct.pack("<IQQQBQ", FILE_STATUS, instance, sender, seq,
                                status, detail)


def encode_record(kind, *fields):    # the body of a Text with FLAG_FILE
    if kind == OFFER:                # fields: size, name
        return struct.pack("<IQ", OFFER, fields[0]) + _blob(fields[1].encode("utf-8"))
    if kind == CHUNK:                # fields: offset, data
        return struct.pack("<IQ", CHUNK, fields[0]) + _blob(fields[1])
    if kind == END:                  # fields: the 32-byte BLAKE3 hash
        return struct.pack("<I", END) + fields[0]
    return struct.pack("<I", CANCEL)


class _Reader:
    def __init__(self, data, pos):
        self.data, self.pos = data, pos

    def fixed(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise Malformed("truncated")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def blob(self):
        (length,) = self.fixed("<Q")
        if length > len(self.data) - self.pos:      # before slicing anything
            end = self.pos - len(HEADER) + length   # where it would end in the body
            raise Malformed("too-long" if end > MAX_DATAGRAM else "truncated")
        out = self.data[self.pos:self.pos + length]
        self.pos += length
        return out

    def name(self):
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("bad-utf8") from None


def decode(data):
    if data[:4] != MAGIC:
        return ("raw", data)
    if len(data) < 6:
        raise Malformed("truncated")
    if data[4] != VERSION:
        raise Malformed("unknown-version")
    if data[5] == MODE_SEALED:
        return ("sealed", data[6:])
    if data[5] != MODE_OPEN:
        raise Malformed("unknown-mode")
    r = _Reader(data, 6)
    (kind,) = r.fixed("<I")
    if kind == TEXT:
        sender, seq, base, flags = r.fixed("<QQQB")
        m = dict(sender=sender, seq=seq, base=base, flags=flags, name=r.name(),
                 body=r.blob())
    elif kind == ACK:
        instance, sender, next_ = r.fixed("<QQQ")
        pairs = r.blob()
        m = dict(instance=instance, sender=sender, next=next_, ranges=pairs)
    elif kind == PROBE:
        instance, token = r.fixed("<QQ")
        m = dict(instance=instance, token=token, pad=r.blob())
    elif kind == ANSWER:
        instance, token, port, version = r.fixed("<QQHB")
        m = dict(instance=instance, token=token, port=port, version=version,
                 name=r.name())
    elif kind in (PING, PONG):
        sender, seq, stamp = r.fixed("<QQQ")
        m = dict(sender=sender, seq=seq, stamp=stamp)
    elif kind == REFUSE:
        instance, sender, seq, reason = r.fixed("<QQQB")
        m = dict(instance=instance, sender=sender, seq=seq, reason=reason)
    elif kind == HELLO:
        instance, port, version, lifetime_ms = r.fixed("<QHBI")
        m = dict(instance=instance, port=port, version=version,
                 lifetime_ms=lifetime_ms, name=r.name(), room=r.name())
    elif kind == GOODBYE:
        (instance,) = r.fixed("<Q")
        m = dict(instance=instance)
    elif kind == FILE_STATUS:
        instance, sender, seq, status, detail = r.fixed("<QQQBQ")
        m = dict(instance=instance, sender=sender, seq=seq, status=status,
                 detail=detail)
    elif kind == ACKS:
        (instance,) = r.fixed("<Q")
        m = dict(instance=instance, entries=r.blob())
    else:
        raise Malformed("unknown-kind")
    if r.pos != len(data):
        raise Malformed("trailing-bytes")
    if kind == TEXT and (m["flags"] & ~(FLAG_ACK | FLAG_FILE | FLAG_BUNDLE)
                         or m["flags"] and not m["flags"] & FLAG_ACK
                         or m["base"] > m["seq"]
                         or m["flags"] & FLAG_ACK and m["seq"] == 2**64 - 1):
        raise Malformed("invalid")
    if kind == ACK:
        m["ranges"] = _ranges(m["next"], m["ranges"])
    if kind == ACKS:
        m["entries"] = _entries(m["entries"])
    return (KINDS[kind], m)


def decode_record(body):          # raises Malformed like decode()
    r = _Reader(body, 0)
    (kind,) = r.fixed("<I")
    if kind == OFFER:
        (size,) = r.fixed("<Q")
        record = ("offer", dict(size=size, name=r.name()))
    elif kind == CHUNK:
        (offset,) = r.fixed("<Q")
        record = ("chunk", dict(offset=offset, data=r.blob()))
    elif kind == END:
        record = ("end", dict(hash=bytes(r.fixed("<32B"))))
    elif kind == CANCEL:
        record = ("cancel", {})
    else:
        raise Malformed("unknown-kind")
    if r.pos != len(body):
        raise Malformed("trailing-bytes")
    return record


def _ranges(next_, pairs):
    if len(pairs) % 16 or len(pairs) > 16 * MAX_RANGES:
        raise Malformed("invalid")
    out, floor = [], next_
    for i in range(0, len(pairs), 16):
        first, last = struct.unpack_from("<QQ", pairs, i)
        if first <= floor or last < first or last == 2**64 - 1:
            raise Malformed("invalid")
        out.append((first, last))
        floor = last + 1
    return out


def _entries(blob):               # an Acks' entries: [dict(sender, next, ranges)]
    out, pos = [], 0
    while pos < len(blob):
        if len(blob) - pos < 24 or len(out) == MAX_ENTRIES:
            raise Malformed("invalid")
        sender, next_, length = struct.unpack_from("<QQQ", blob, pos)
        pos += 24
        if length > len(blob) - pos:
            raise Malformed("invalid")
        out.append(dict(sender=sender, next=next_,
                        ranges=_ranges(next_, blob[pos:pos + length])))
        pos += length
    if not out:
        raise Malformed("invalid")
    return out

# --- the command line ---------------------------------------------------------


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def random_id():
    return int.from_bytes(os.urandom(8), "little")


def send(host, port, name, words):
    # Without FLAG_ACK, base is at most seq and ignored: send seq, as udpmsg does.
    datagram = encode_text(random_id(), 0, 0, 0, name, " ".join(words).encode("utf-8"))
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.sendto(datagram, (host, port))
    return 0


def announce(host, port, name, lifetime_ms, room):
    # Section 7, Presence: to the presence port, with the listener's port.
    instance = random_id()
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.sendto(encode_hello(instance, port, VERSION, lifetime_ms, name, room),
                 (host, port + 1))
        print(f"{instance:016x}", flush=True)
        sys.stdin.read()
        s.sendto(encode_goodbye(instance), (host, port + 1))
    return 0


def receive(s, timeout):
    """The next datagram on socket `s` within `timeout` seconds, decoded;
    None when none came, the port was refused, or it was malformed."""
    s.settimeout(timeout)
    try:
        data = s.recv(MAX_DATAGRAM + 1)
    except (socket.timeout, ConnectionRefusedError):
        return None
    try:
        return decode(data)
    except Malformed:
        return None


def ranges_text(ranges):
    return ",".join(f"{first}-{last}" for first, last in ranges)


def send_acked(host, port, name, words, seconds):
    """Sends word i as the acknowledged Text seq i, as section 7 says a sender
    does, and prints every Ack ("ack next=N ranges=F-L,...") and Refuse
    ("refuse seq=S reason=R") that answers it. The Texts first go one at a
    time from the last to the first, each once, waiting for the Ack that
    shows it arrived (held, or below `next`), so the listener holds all but
    the first until the first arrives; then every Text neither confirmed nor
    held is sent again (base updated) until all are confirmed. Exit 0 when
    all are, 3 on a Refuse, 1 at the deadline."""
    deadline = time.monotonic() + seconds
    sender = random_id()
    bodies = [w.encode("utf-8") for w in words]
    confirmed = 0        # every seq below is confirmed: the base
    held = set()         # seqs the listener says it holds
    instance = None
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        # Connected: the kernel drops replies from anywhere but the listener.
        s.connect((host, port))

        def transmit(seq):
            s.send(encode_text(sender, seq, min(confirmed, seq), FLAG_ACK, name, bodies[seq]))

        def replies(done, wait):
            """Reads replies until done() or for `wait` seconds (never past
            the deadline); returns a Refuse's exit code, or None."""
            nonlocal confirmed, held, instance
            end = min(deadline, time.monotonic() + wait)
            while not done():
                left = end - time.monotonic()
                if left <= 0:
                    return None
                got = receive(s, left)
                if got is None:
                    continue
                kind, m = got
                if kind == "refuse" and m["sender"] == sender:
                    print(f"refuse seq={m['seq']} reason={m['reason']}", flush=True)
                    return 3
                if kind != "ack" or m["sender"] != sender:
                    continue
                print(f"ack next={m['next']} ranges={ranges_text(m['ranges'])}", flush=True)
                if instance is not None and m["instance"] != instance:
                    held = set()     # another listener process: it holds nothing
                instance = m["instance"]
                confirmed = max(confirmed, min(m["next"], len(bodies)))
                held = {seq for first, last in m["ranges"] for seq in range(first, last + 1)
                        if seq < len(bodies)}
            return None

        for seq in reversed(range(len(bodies))):
            transmit(seq)
            code = replies(lambda: seq in held or seq < confirmed, seconds)
            if code is not None:
                return code
        while confirmed < len(bodies):
            if time.monotonic() >= deadline:
                print(f"pypeer: {len(bodies) - confirmed} Texts unconfirmed", file=sys.stderr)
                return 1
            for seq in range(confirmed, len(bodies)):
                if seq not in held:
                    transmit(seq)
            code = replies(lambda: False, 0.3)
            if code is not None:
                return code
    return 0


def send_many(host, port, name, ids, bundle, words, seconds):
    """Sends word i as the acknowledged Text seq i of each of `ids` senders,
    round-robin from one socket, with FLAG_BUNDLE when `bundle`; prints
    "sent N" once all N are out, then every Ack ("ack I:NEXT", I the
    sender's index) and Acks ("acks I:NEXT I:NEXT ...", section 4.11) for
    these senders, a line per datagram. Texts not confirmed are sent again
    (base updated) every 5 seconds. Exit 0 once all are confirmed, 1 at the
    deadline."""
    deadline = time.monotonic() + seconds
    senders = [random_id() for _ in range(ids)]
    index = {sender: i for i, sender in enumerate(senders)}
    bodies = [w.encode("utf-8") for w in words]
    confirmed = [0] * ids
    flags = FLAG_ACK | (FLAG_BUNDLE if bundle else 0)
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.connect((host, port))

        def transmit_all():
            for seq in range(len(bodies)):
                for i, sender in enumerate(senders):
                    if seq >= confirmed[i]:
                        s.send(encode_text(sender, seq, confirmed[i], flags, name, bodies[seq]))

        transmit_all()
        print(f"sent {ids * len(bodies)}", flush=True)
        resend = time.monotonic() + 5.0
        while min(confirmed) < len(bodies):
            now = time.monotonic()
            if now >= deadline:
                print(f"pypeer: confirmed {confirmed} of {len(bodies)}", file=sys.stderr)
                return 1
            if now >= resend:
                transmit_all()
                resend = now + 5.0
            got = receive(s, min(deadline, resend) - now)
            if got is None:
                continue
            kind, m = got
            acks = {"ack": [m], "acks": m["entries"] if kind == "acks" else []}.get(kind, [])
            acks = [a for a in acks if a["sender"] in index]
            if not acks:
                continue
            print(kind + "".join(f" {index[a['sender']]}:{a['next']}" for a in acks), flush=True)
            for a in acks:
                i = index[a["sender"]]
                confirmed[i] = max(confirmed[i], min(a["next"], len(bodies)))
    return 0


def held_ranges(held):
    """The lowest MAX_RANGES runs of consecutive seqs in `held`."""
    ranges = []
    for seq in sorted(held):
        if ranges and ranges[-1][1] + 1 == seq:
            ranges[-1][1] = seq
        else:
            if len(ranges) == MAX_RANGES:
                break
            ranges.append([seq, seq])
    return [tuple(r) for r in ranges]


def show(fields):
    text = fields["body"].decode("utf-8", "replace")
    print(f"{fields['name']}: {text}", flush=True)


def listen(host, port, seconds, count=None):
    """Prints Texts as "NAME: TEXT". Without `count`: the first Text, then
    exit. With it: acknowledged Texts as section 7 says a listener shows
    them (per sender: from its base, in seq order, each once; later ones
    held; an Ack of `next` and the held ranges sent after the output is
    flushed), until `count` were shown and no datagram came for a second
    (the sender may still want the last Ack). Exit 1 at the deadline."""
    deadline = time.monotonic() + seconds
    instance = random_id()
    streams = {}              # sender -> {"next": seq, "held": {seq: fields}, "gaps": [...]}
    shown = 0
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.bind((host, port))
        print(f"listening on {host}:{s.getsockname()[1]}", flush=True)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"pypeer: {shown} Texts shown within {seconds}s", file=sys.stderr)
                return 1
            s.settimeout(min(left, 1.0) if count is not None and shown >= count else left)
            try:
                data, peer = s.recvfrom(MAX_DATAGRAM + 1)
            except socket.timeout:
                if count is not None and shown >= count:
                    return 0
                continue
            try:
                kind, fields = decode(data)
            except Malformed as e:
                print(f"pypeer: dropped malformed datagram from {peer}: {e}",
                      file=sys.stderr, flush=True)
                continue
            if kind != "text":
                print(f"pypeer: ignored {kind} from {peer}", file=sys.stderr, flush=True)
                continue
            if count is None:
                show(fields)
                return 0
            if not fields["flags"] & FLAG_ACK:
                show(fields)
                shown += 1
                continue
            sender, seq, base = fields["sender"], fields["seq"], fields["base"]
            st = streams.setdefault(sender, {"next": base, "held": {}, "gaps": []})
            if base > st["next"]:
                # The sender gave up st["next"] .. base - 1: show what is held
                # below base, report the rest missing, and expect base.
                for held_seq in sorted(k for k in st["held"] if k < base):
                    show(st["held"].pop(held_seq))
                    shown += 1
                print(f"pypeer: {sender:016x} gave up {st['next']}..{base - 1}",
                      file=sys.stderr, flush=True)
                st["gaps"].append((st["next"], base - 1))
                st["next"] = base
            if seq < st["next"] and any(a <= seq <= b for a, b in st["gaps"]):
                continue              # given up: never shown, not acknowledged
            if seq == st["next"]:
                show(fields)
                shown += 1
                st["next"] += 1
                while st["next"] in st["held"]:
                    show(st["held"].pop(st["next"]))
                    shown += 1
                    st["next"] += 1
            elif seq > st["next"]:
                if seq - st["next"] > 1024:
                    continue          # too far ahead: not acknowledged
                st["held"].setdefault(seq, fields)
            # Shown (and flushed, above), held, or a duplicate: acknowledge.
            pairs = held_ranges(st["held"])
            s.sendto(encode_ack(instance, sender, st["next"], pairs), peer)


def verdict(data):
    """One line: "raw", "sealed N", "reject LABEL", or the kind and its fields
    (bytes and names in hex, Ack ranges as first-last,...)."""
    try:
        kind, fields = decode(data)
    except Malformed as e:
        return f"reject {e}"
    if kind == "raw":
        return "raw"
    if kind == "sealed":
        return f"sealed {len(fields)}"
    parts = [kind]
    for key, value in fields.items():
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, str):
            value = value.encode("utf-8").hex()
        elif key == "entries":        # an Acks: sender/next/ranges;...
            value = ";".join(f"{e['sender']}/{e['next']}/{ranges_text(e['ranges'])}"
                             for e in value)
        elif isinstance(value, list):
            value = ranges_text(value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def check():
    for line in sys.stdin:
        print(verdict(bytes.fromhex(line.strip())))
    return 0


def main(argv):
    try:
        if argv[:1] == ["send"] and len(argv) >= 4:
            return send(argv[1], int(argv[2]), argv[3], argv[4:])
        if argv[:1] == ["send-acked"] and len(argv) >= 5:
            return send_acked(argv[1], int(argv[2]), argv[3], argv[4:], 20.0)
        if argv[:1] == ["send-many"] and len(argv) >= 7 and argv[5] in ("bundle", "plain"):
            return send_many(argv[1], int(argv[2]), argv[3], int(argv[4]),
                             argv[5] == "bundle", argv[6:], 20.0)
        if argv[:1] == ["listen"] and len(argv) in (3, 4):
            seconds = float(argv[3]) if len(argv) == 4 else 10.0
            return listen(argv[1], int(argv[2]), seconds)
        if argv[:1] == ["listen-acked"] and len(argv) in (4, 5):
            seconds = float(argv[4]) if len(argv) == 5 else 10.0
            return listen(argv[1], int(argv[2]), seconds, count=int(argv[3]))
        if argv == ["check"]:
            return check()
        if argv[:1] == ["announce"] and len(argv) == 6:
            return announce(argv[1], int(argv[2]), argv[3], int(argv[4]), argv[5])
    except ValueError as e:
        print(f"pypeer: {e}", file=sys.stderr)
        return 2
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
