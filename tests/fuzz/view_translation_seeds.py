#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of the view_translation fuzz target: byte 0 picks
# the field (1 source, 0 destination), then an IPv4 packet as ntmd sees one
# between its TUN and a tunnel whose peer has a substitute address.
import os
import struct
import sys

ME, PEER, VIEW = 0x64400002, 0x64400002, 0x647E0001


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, l4, frag=0, total=None):
    n = 20 + len(l4) if total is None else total
    h = struct.pack("!BBHHHBBHII", 0x45, 0, n, 0x1234, frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def l4sum(src, dst, proto, l4, off):
    pseudo = struct.pack("!IIBBH", src, dst, 0, proto, len(l4))
    c = csum(pseudo + l4)
    if c == 0 and proto == 17:
        c = 0xFFFF
    return l4[:off] + struct.pack("!H", c) + l4[off + 2:]


def tcp(src, dst, payload=b"GET / HTTP/1.1\r\n\r\n"):
    l4 = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x18, 65535, 0, 0) + payload
    return ipv4(src, dst, 6, l4sum(src, dst, 6, l4, 16))


def udp(src, dst, payload=b"ping over the tunnel", checksum=True):
    l4 = struct.pack("!HHHH", 5353, 53, 8 + len(payload), 0) + payload
    if checksum:
        l4 = l4sum(src, dst, 17, l4, 6)
    return ipv4(src, dst, 17, l4)


def icmp(src, dst, typ, code, body):
    l4 = struct.pack("!BBHI", typ, code, 0, 0x004D0001 if typ == 8 else 0) + body
    l4 = l4[:2] + struct.pack("!H", csum(l4)) + l4[4:]
    return ipv4(src, dst, 1, l4)


seeds = {
    "tcp-out": b"\0" + tcp(ME, VIEW),
    "tcp-in": b"\1" + tcp(PEER, ME),
    "udp-out": b"\0" + udp(ME, VIEW),
    "udp-nocsum-out": b"\0" + udp(ME, VIEW, checksum=False),
    "icmp-echo-out": b"\0" + icmp(ME, VIEW, 8, 0, b"x" * 32),
    "icmp-error-in": b"\1" + icmp(PEER, ME, 3, 3, udp(ME, PEER)),
    "icmp-error-out": b"\0" + icmp(ME, VIEW, 11, 0, tcp(VIEW, ME)[:28]),
    "frag-first-out": b"\0" + ipv4(ME, VIEW, 17, udp(ME, VIEW, b"y" * 64)[20:52], frag=0x2000),
    "frag-later-out": b"\0" + ipv4(ME, VIEW, 6, b"z" * 40, frag=5),
    "tcp-tiny-first": b"\0" + ipv4(ME, VIEW, 6, b"t" * 12, frag=0x2000),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                         "view_translation")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
