#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the seeds of fuzz_txt_response (tests/fuzz/corpus/txt_response):
# DNS responses for cn.b.test's TXT, byte by byte from RFC 1035 §4: a
# marker, split strings, a CNAME chain, NXDOMAIN and NODATA with an SOA,
# SERVFAIL, truncated, compressed names, other TXT only.
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "txt_response")
os.makedirs(out, exist_ok=True)


def name(n):
    b = b""
    for label in n.split("."):
        b += bytes([len(label)]) + label.encode()
    return b + b"\0"


def rr(owner, rtype, rdata, ttl=300):
    o = owner if isinstance(owner, bytes) else name(owner)
    return o + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def txt(*strings):
    return b"".join(bytes([len(s)]) + s.encode() for s in strings)


def soa(zone, minimum):
    return name("ns." + zone) + name("hostmaster." + zone) + struct.pack(">IIIII", 1, 3600, 600, 86400, minimum)


def msg(qid, rcode, answers=(), authority=(), flags=0x8180, qname="cn.b.test"):
    h = struct.pack(">HHHHHH", qid, flags | rcode, 1, len(answers), len(authority), 0)
    return h + name(qname) + struct.pack(">HH", 16, 1) + b"".join(answers) + b"".join(authority)


seeds = {
    "marker": msg(0x1234, 0, [rr("cn.b.test", 16, txt("v=ntm1 dc=192.0.2.1:4510"), 0)]),
    "marker_v6": msg(0x0101, 0, [rr("cn.b.test", 16, txt("v=ntm1 dc=[2001:db8::1]:4510"))]),
    "split_strings": msg(0x2222, 0, [rr("cn.b.test", 16, txt("v=ntm1 ", "dc=192.0.2.1:4510"))]),
    "other_txt": msg(0x3333, 0, [rr("cn.b.test", 16, txt("v=spf1 -all")), rr("cn.b.test", 16, txt("hello"))]),
    "cname_chain": msg(0x4444, 0, [rr("cn.b.test", 5, name("x.b.test"), 60),
                                   rr("x.b.test", 5, name("y.b.test"), 30),
                                   rr("y.b.test", 16, txt("v=ntm1 dc=192.0.2.9:4510"), 20)]),
    # Owner as a pointer to the question's name (offset 12).
    "compressed": msg(0x5555, 0, [rr(b"\xc0\x0c", 16, txt("v=ntm1 dc=192.0.2.1:4510"))]),
    "nxdomain_soa": msg(0x6666, 3, [], [rr("b.test", 6, soa("b.test", 45), 900)]),
    "nodata_soa": msg(0x7777, 0, [], [rr("b.test", 6, soa("b.test", 30), 30)]),
    "servfail": msg(0x8888, 2),
    "truncated_flag": msg(0x9999, 0, flags=0x8380),
    "wrong_name": msg(0xaaaa, 0, [rr("cn.c.test", 16, txt("v=ntm1 dc=6.6.6.6:1"))], qname="cn.c.test"),
    "query_not_response": msg(0xbbbb, 0, flags=0x0100),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
