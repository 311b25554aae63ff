#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of the link_watch fuzz target: rtnetlink messages
# as the kernel sends them when a host changes networks.
import os
import struct
import sys

NLMSG_HDR = "=IHHII"  # len, type, flags, seq, pid
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE = 16, 17, 20, 21, 24, 25


def msg(mtype, body):
    pad = (4 - len(body) % 4) % 4
    return struct.pack(NLMSG_HDR, 16 + len(body), mtype, 0, 0, 0) + body + b"\0" * pad


def ifaddr(family, index):  # struct ifaddrmsg
    return struct.pack("=BBBBI", family, 24, 0, 0, index)


def rt(dst_len, table):  # struct rtmsg
    return struct.pack("=BBBBBBBBI", 2, dst_len, 0, 0, table, 3, 0, 1, 0)


def link(index, flags):  # struct ifinfomsg
    return struct.pack("=BBHiII", 0, 0, 1, index, flags, 0xFFFFFFFF)


seeds = {
    "move-g-to-a": msg(RTM_NEWLINK, link(2, 0x1003)) + msg(RTM_DELADDR, ifaddr(2, 2))
    + msg(RTM_NEWADDR, ifaddr(2, 2)) + msg(RTM_NEWROUTE, rt(0, 254)),
    "route-only": msg(RTM_DELROUTE, rt(0, 254)) + msg(RTM_NEWROUTE, rt(0, 254)),
    "ignored": msg(RTM_NEWADDR, ifaddr(10, 2)) + msg(RTM_NEWROUTE, rt(10, 254))
    + msg(RTM_NEWROUTE, rt(0, 255)) + msg(RTM_NEWLINK, link(1, 0x8)),
    "short-body": struct.pack(NLMSG_HDR, 18, RTM_NEWADDR, 0, 0, 0) + b"\2\0",
    "overlong": struct.pack(NLMSG_HDR, 4000, RTM_NEWLINK, 0, 0, 0) + link(2, 1),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "link_watch")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
