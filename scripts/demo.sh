#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system's main job, as far as it goes today: build and start a
# Direction Coordinator on loopback, show that it refuses what it cannot
# authenticate, and stop it.  Set NTM_DEMO_SECONDS=0 to keep it running
# in the foreground until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build/release" -j "$(nproc)" --target ntm-dc

seconds=${NTM_DEMO_SECONDS:-3}
listen=${NTM_DC_LISTEN:-127.0.0.1:4510}
if [ "$seconds" = 0 ]; then
  exec "$root/build/release/dc/ntm-dc" serve --listen "$listen"
fi

"$root/build/release/dc/ntm-dc" serve --listen "$listen" &
dc=$!
trap 'kill "$dc" 2>/dev/null || true' EXIT
sleep 0.5
# Two datagrams an attacker could send: garbage, and a message sealed under
# a key the DC does not hold.  The DC answers neither and counts both.
/usr/bin/python3 - "$listen" "$root/tests/interop" <<'PY'
import os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
sys.path.insert(0, sys.argv[2])
import ntm_ref
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"hello?", (host, int(port)))
s.sendto(ntm_ref.control(os.urandom(32), 0, 0, 0, 1, 1, os.urandom(16), int(time.time() * 1000),
                         1, ntm_ref.T_KEEPALIVE, bytes(6)), (host, int(port)))
PY
sleep "$seconds"
kill -TERM "$dc"
wait "$dc"
trap - EXIT
