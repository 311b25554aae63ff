#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A paced bulk download for the mobility test (docs/testbed.md §5).

  python3 bulk.py PORT
      HTTP on PORT; GET /SIZE?rate=BYTES_PER_S answers SIZE bytes (a
      repeating pattern, with Content-Length) written in 16 KiB pieces paced
      against absolute deadlines, so the download lasts about SIZE/rate
      seconds whatever the client does: long enough to span a move.  Any
      HTTP client (curl) fetches it unmodified; a reset or a short body shows
      as curl's exit status or size_download.  One line per request on
      stderr: client, size, seconds, and how the write ended.
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PIECE = 16384
PATTERN = bytes(range(256)) * (PIECE // 256)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        u = urlsplit(self.path)
        try:
            size = int(u.path.strip("/"))
            rate = float(parse_qs(u.query).get("rate", ["0"])[0])
        except ValueError:
            self.send_error(400, "GET /SIZE?rate=BYTES_PER_S")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        t0 = time.monotonic()
        sent = 0
        how = "complete"
        try:
            while sent < size:
                n = min(PIECE, size - sent)
                if rate > 0:
                    wait = t0 + sent / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                self.wfile.write(PATTERN[:n])
                sent += n
        except OSError as e:
            how = f"failed after {sent} bytes: {e}"
        sys.stderr.write(f"bulk {self.client_address[0]} {size} bytes {time.monotonic() - t0:.2f} s {how}\n")
        sys.stderr.flush()

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
