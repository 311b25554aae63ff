#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A paced UDP probe stream and the gap it shows across a move (docs/testbed.md §5).

  probe.py send DST PORT INTERVAL_MS DURATION_S
      one 64-byte datagram per interval to DST:PORT (DST an address or a name,
      resolved once at the start), carrying seq (from 0) and the wall-clock
      send time in ns; paced against absolute deadlines start + seq*interval
      (a late sender catches up, it does not skip seqs).  A send that fails
      (no route for a moment) still uses up its seq.  On stderr, right after
      the first datagram: "probe send: started" (flushed: a test waits for
      it before it moves a host, mobility.sh probe_wait_started); at the end,
      or when SIGTERM ends the stream early: "probe send: N sent, E errors".
  probe.py recv BIND PORT DURATION_S OUTFILE
      receives for DURATION_S seconds (or until SIGTERM/SIGINT) and writes
      one line per datagram: "seq send_ns recv_ns" (recv_ns the kernel's
      receive timestamp, SO_TIMESTAMPNS).  Writes OUTFILE at the end.
  probe.py gap OUTFILE T_MOVE_NS [T_CONFIGURED_NS] [--horizon S]
      prints one JSON object (all times ms, null where undefined):
        gap_ms        the largest interval between two consecutive arrivals
                      (ordered by recv_ns) that ends after T_MOVE and starts
                      before T_MOVE + horizon (default 1 s: an outage begins
                      within milliseconds of a move; keep the horizon below
                      the time to the next move): the outage the
                      move caused, whether it starts right at T_MOVE or a
                      little later (packets in flight, the old path).
                      null if nothing arrived after T_MOVE.
        gap_start_ms / gap_end_ms  the ends of that interval, from T_MOVE
        from_configured_ms  T_CONFIGURED to the first arrival of a probe SENT
                      at or after T_CONFIGURED: how long after the new
                      address and route exist the new path carries data
                      (includes up to one interval of pacing and the one-way
                      delay).  null without T_CONFIGURED or if none arrived.
        conf_sent_ms / conf_delay_ms  that probe's send time from
                      T_CONFIGURED (the pacing, or the probes lost after
                      T_CONFIGURED) and its one-way delay: their sum is
                      from_configured_ms.
        baseline_gap_ms  the largest inter-arrival interval in the second
                      before T_MOVE (the noise floor to compare with)
        received, first_seq, last_seq
        lost          seqs in [first_seq, last_seq] never received
        reordered     arrivals whose seq is below one that arrived before
        duplicates    seqs received more than once
        recovered     true if a probe sent after T_MOVE arrived
All clocks are CLOCK_REALTIME, shared by every network namespace.
"""
import json
import signal
import socket
import struct
import sys
import time

FMT = "!QQ"  # seq, send_ns; padded to SIZE
SIZE = 64
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; not exported by every Python


def send(dst, port, interval_ms, duration_s):
    addr = socket.getaddrinfo(dst, int(port), socket.AF_INET, socket.SOCK_DGRAM)[0][4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = int(float(interval_ms) * 1e6)
    count = int(float(duration_s) * 1e9 // interval)
    pad = bytes(SIZE - struct.calcsize(FMT))
    start = time.monotonic_ns()
    errors = 0
    # A test may end the stream early (SIGTERM): it stops after the datagram
    # in flight and reports what it sent, as at the natural end.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sent = 0
    for seq in range(count):
        if stop:
            break
        deadline = start + seq * interval
        wait = deadline - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        try:
            s.sendto(struct.pack(FMT, seq, time.time_ns()) + pad, addr)
        except OSError:
            errors += 1
        sent += 1
        if seq == 0:
            print("probe send: started", file=sys.stderr, flush=True)
    print(f"probe send: {sent} sent, {errors} errors", file=sys.stderr)


def recv(bind, port, duration_s, outfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((bind, int(port)))
    end = time.monotonic() + float(duration_s)
    lines = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    tsize = struct.calcsize("qq")
    while not stop:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(min(left, 0.2))
        try:
            data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(tsize))
        except (socket.timeout, InterruptedError):
            continue
        now = time.time_ns()
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(val) >= tsize:
                sec, nsec = struct.unpack("qq", val[:tsize])
                now = sec * 1_000_000_000 + nsec
        if len(data) < struct.calcsize(FMT):
            continue
        seq, sent = struct.unpack_from(FMT, data)
        lines.append(f"{seq} {sent} {now}\n")
    with open(outfile, "w") as f:
        f.writelines(lines)


def gap(outfile, t_move, t_conf=None, horizon_s=1.0):
    rows = []
    with open(outfile) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and not line.startswith("#"):
                rows.append((int(p[0]), int(p[1]), int(p[2])))
    t_move = int(t_move)
    t_conf = int(t_conf) if t_conf else None
    horizon = int(horizon_s * 1e9)
    ms = lambda ns: None if ns is None else round(ns / 1e6, 3)  # noqa: E731
    out = {"received": len(rows)}
    arr = sorted(rows, key=lambda r: r[2])
    best = None
    base = 0
    for a, b in zip(arr, arr[1:]):
        d = b[2] - a[2]
        if b[2] > t_move and a[2] < t_move + horizon and (best is None or d > best[2] - best[1]):
            best = (None, a[2], b[2])
        if t_move - 1_000_000_000 <= a[2] and b[2] <= t_move:
            base = max(base, d)
    if best is None and arr and arr[0][2] > t_move:
        best = (None, t_move, arr[0][2])  # nothing before the move: from the move
    out["gap_ms"] = ms(best[2] - best[1]) if best else None
    out["gap_start_ms"] = ms(best[1] - t_move) if best else None
    out["gap_end_ms"] = ms(best[2] - t_move) if best else None
    first_row = None
    if t_conf is not None:
        after = [r for r in rows if r[1] >= t_conf]
        first_row = min(after, key=lambda r: r[2]) if after else None
    out["from_configured_ms"] = ms(first_row[2] - t_conf) if first_row else None
    # from_configured_ms = conf_sent_ms + conf_delay_ms: when that probe was
    # sent (up to one interval of pacing, more if the probes sent before it
    # were lost) and how long it took.
    out["conf_sent_ms"] = ms(first_row[1] - t_conf) if first_row else None
    out["conf_delay_ms"] = ms(first_row[2] - first_row[1]) if first_row else None
    out["baseline_gap_ms"] = ms(base)
    seqs = [r[0] for r in rows]
    uniq = set(seqs)
    out["first_seq"] = min(uniq) if uniq else None
    out["last_seq"] = max(uniq) if uniq else None
    out["lost"] = (max(uniq) - min(uniq) + 1 - len(uniq)) if uniq else 0
    hi = -1
    reord = 0
    for r in arr:
        if r[0] < hi:
            reord += 1
        hi = max(hi, r[0])
    out["reordered"] = reord
    out["duplicates"] = len(seqs) - len(uniq)
    out["recovered"] = any(r[1] > t_move for r in rows)
    print(json.dumps(out))


def main(argv):
    usage = __doc__.split("All clocks")[0]
    if len(argv) < 2:
        sys.exit(usage)
    cmd, args = argv[1], argv[2:]
    if cmd == "send" and len(args) == 4:
        send(*args)
    elif cmd == "recv" and len(args) == 4:
        recv(*args)
    elif cmd == "gap" and 2 <= len(args):
        horizon = 1.0
        if "--horizon" in args:
            k = args.index("--horizon")
            horizon = float(args[k + 1])
            args = args[:k] + args[k + 2:]
        if len(args) not in (2, 3):
            sys.exit(usage)
        gap(args[0], args[1], args[2] if len(args) == 3 else None, horizon)
    else:
        sys.exit(usage)


if __name__ == "__main__":
    main(sys.argv)
