#!/usr/bin/env python3
"""A udpmsg peer written from docs/PROTOCOL.md alone (standard library only).

The codec is section 10 of the document, unchanged; the rest is a small
command line around it, used by tests/python_peer.rs:

    pypeer.py send HOST PORT NAME TEXT...   send one Text (words joined by spaces)
    pypeer.py listen HOST PORT [SECONDS]    print "listening on HOST:PORT", then
                                            wait for one Text and print "NAME: TEXT"
    pypeer.py check                         read hex datagrams from stdin, one a line;
                                            print one verdict a line (see verdict())

Every wait has a deadline: listen gives up after SECONDS (default 10), exit 1.
"""

import os
import socket
import struct
import sys
import time

# --- section 10 of docs/PROTOCOL.md -----------------------------------------

MAGIC, VERSION, MODE_OPEN, MODE_SEALED = b"UDPM", 1, 0, 1
HEADER = MAGIC + bytes([VERSION, MODE_OPEN])
TEXT, ACK, PROBE, ANSWER, PING, PONG = range(6)
KINDS = ["text", "ack", "probe", "answer", "ping", "pong"]
FLAG_ACK = 0x01
MAX_DATAGRAM = 65527          # IPv6; 65507 over IPv4
DEFAULT_PORT = 47474


class Malformed(Exception):
    pass


def _blob(b):                 # u64 LE length, then the bytes
    return struct.pack("<Q", len(b)) + b


def encode_text(sender, seq, flags, name, body):
    return (HEADER + struct.pack("<IQQB", TEXT, sender, seq, flags)
            + _blob(name.encode("utf-8")) + _blob(body))


def encode_ack(sender, seq):
    return HEADER + struct.pack("<IQQ", ACK, sender, seq)


def encode_probe(instance, token, pad):
    return HEADER + struct.pack("<IQQ", PROBE, instance, token) + _blob(pad)


def encode_answer(instance, token, port, version, name):
    return (HEADER + struct.pack("<IQQHB", ANSWER, instance, token, port, version)
            + _blob(name.encode("utf-8")))


def encode_ping(kind, sender, seq, stamp):      # kind: PING or PONG
    return HEADER + struct.pack("<IQQQ", kind, sender, seq, stamp)


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
        sender, seq, flags = r.fixed("<QQB")
        m = dict(sender=sender, seq=seq, flags=flags, name=r.name(), body=r.blob())
    elif kind == ACK:
        sender, seq = r.fixed("<QQ")
        m = dict(sender=sender, seq=seq)
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
    else:
        raise Malformed("unknown-kind")
    if r.pos != len(data):
        raise Malformed("trailing-bytes")
    if kind == TEXT and m["flags"] & ~FLAG_ACK:
        raise Malformed("invalid")
    return (KINDS[kind], m)

# --- the command line ---------------------------------------------------------


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def send(host, port, name, words):
    sender = int.from_bytes(os.urandom(8), "little")
    datagram = encode_text(sender, 0, 0, name, " ".join(words).encode("utf-8"))
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.sendto(datagram, (host, port))
    return 0


def listen(host, port, seconds):
    deadline = time.monotonic() + seconds
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.bind((host, port))
        print(f"listening on {host}:{s.getsockname()[1]}", flush=True)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"pypeer: no Text within {seconds}s", file=sys.stderr)
                return 1
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(MAX_DATAGRAM + 1)
            except socket.timeout:
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
            text = fields["body"].decode("utf-8", "replace")
            print(f"{fields['name']}: {text}", flush=True)
            return 0


def verdict(data):
    """One line: "raw", "sealed N", "reject LABEL", or the kind and its fields."""
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
        if argv[:1] == ["listen"] and len(argv) in (3, 4):
            seconds = float(argv[3]) if len(argv) == 4 else 10.0
            return listen(argv[1], int(argv[2]), seconds)
        if argv == ["check"]:
            return check()
    except ValueError as e:
        print(f"pypeer: {e}", file=sys.stderr)
        return 2
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
