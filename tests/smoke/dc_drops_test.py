#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Starts a real ntm-dc on a free loopback port, sends it what an attacker
could send (garbage, an oversized datagram, a well-formed message sealed
under a key the DC does not hold, a message in a domain the DC never
accepts), and checks that the DC answers none of them, keeps running, and
counts each drop under the right reason."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

dc_bin, interop_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, interop_dir)
import ntm_ref  # noqa: E402

proc = subprocess.Popen([dc_bin, "--log-level", "info", "serve", "--listen", "127.0.0.1:0"],
                        stderr=subprocess.PIPE, text=True)
try:
    line = proc.stderr.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    assert m, f"no listening line: {line!r}"
    port = int(m.group(1))

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    dst = ("127.0.0.1", port)
    now_ms = int(time.time() * 1000)
    stranger = ntm_ref.control(os.urandom(32), ntm_ref.DOMAIN_NODE_DC, 0, 0, 1, 1, os.urandom(16),
                               now_ms, 7, ntm_ref.T_KEEPALIVE, b"\0" * 6)
    path_msg = ntm_ref.capsule(os.urandom(32), 0, os.urandom(16), 0, 0, 1, b"x" * 20)
    s.sendto(b"\xff" * 10, dst)            # truncated header
    s.sendto(b"\x01" * 1400, dst)          # larger than any control message
    s.sendto(stranger, dst)                # authentic-looking, unknown node
    s.sendto(path_msg, dst)                # a capsule is not for the DC
    s.sendto(b"\x02" + stranger[1:], dst)  # unknown version
    try:
        data, _ = s.recvfrom(2048)
        raise AssertionError(f"the DC answered an unauthenticated datagram: {data!r}")
    except socket.timeout:
        pass
    assert proc.poll() is None, "ntm-dc exited"
finally:
    proc.send_signal(signal.SIGTERM)
    out = proc.stderr.read()
    rc = proc.wait(timeout=10)

print(out)
assert rc == 0, f"exit code {rc}"
assert "received=5 dropped=5 oversized=1" in out, out
for reason in ("truncated", "unknown_key", "bad_type", "bad_version"):
    assert re.search(rf"dropped 1 x {reason}\b", out), f"no drop counted as {reason}"
print("dc_drops_test: ok")
