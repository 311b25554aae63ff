# SPDX-License-Identifier: MIT
# The testbed's small servers on a correspondent (an NTMobile node or the
# general host): HTTP on :8080 and a UDP echo on :7007, each answering with
# the name it serves and the client address it sees, so the test can check
# who the correspondent thinks it is talking to (the MN's VIP, or the relay's
# address for a general host).
#   python3 srv.py NAME
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = f"hello from {NAME}, you are {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"http {self.client_address[0]}:{self.client_address[1]} {fmt % args}\n")
        sys.stderr.flush()


def udp_echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 7007))
    while True:
        data, peer = s.recvfrom(2048)
        sys.stderr.write(f"udp {peer[0]}:{peer[1]} {len(data)} bytes\n")
        sys.stderr.flush()
        s.sendto(f"{NAME} sees {peer[0]}: ".encode() + data, peer)


threading.Thread(target=udp_echo, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
