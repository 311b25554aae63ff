#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP connection that goes quiet (the testbed's idle-path case,
docs/testbed.md §5).

  quiet_tcp.py serve PORT
      echo server: one connection at a time, every byte sent back.
  quiet_tcp.py talk HOST PORT QUIET_S
      connects (HOST by name: the node's resolver directs the path), one
      line there and back, prints "connected" (flushed), stays silent for
      QUIET_S seconds, one more line there and back, prints
      "ok <seconds the second exchange took>"; on any failure prints
      "FAILED <why>" and exits 1.  The connection is the same one
      throughout: a reset or a close is a failure.
  quiet_tcp.py late HOST PORT WAIT_S
      as talk, but after "connected" it waits WAIT_S seconds, sends one
      line and prints "ok SEND_NS ECHO_NS" (CLOCK_REALTIME, shared by every
      namespace) when its echo is back: the blackout case sends it while
      the host has no address.
"""
import socket
import sys
import time


def serve(port: int) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)


def exchange(s: socket.socket, line: bytes) -> None:
    s.sendall(line)
    got = b""
    while len(got) < len(line):
        data = s.recv(4096)
        if not data:
            raise ConnectionError("closed by the peer")
        got += data
    if got != line:
        raise ValueError(f"echo {got!r}, sent {line!r}")


def session(host: str, port: int, wait_s: float, first: bytes, second: bytes, report) -> int:
    """One line there and back, "connected", wait_s of silence, a second
    line there and back; prints report(send_ns, echo_ns) of the second."""
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.settimeout(15)
        exchange(s, first)
        print("connected", flush=True)
        time.sleep(wait_s)
        sent = time.time_ns()
        exchange(s, second)
        print(report(sent, time.time_ns()), flush=True)
        s.close()
        return 0
    except (OSError, ValueError) as e:
        print(f"FAILED {type(e).__name__}: {e}", flush=True)
        return 1


def talk(host: str, port: int, quiet_s: float) -> int:
    return session(host, port, quiet_s, b"before the quiet\n", b"after the quiet\n",
                   lambda sent, echo: f"ok {(echo - sent) / 1e9:.3f}")


def late(host: str, port: int, wait_s: float) -> int:
    return session(host, port, wait_s, b"before the blackout\n", b"sent in the blackout\n",
                   lambda sent, echo: f"ok {sent} {echo}")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "talk":
        return talk(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    if len(sys.argv) == 5 and sys.argv[1] == "late":
        return late(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
