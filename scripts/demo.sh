#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system's main job, as far as it goes today: a Direction Coordinator
# with its embedded PostgreSQL, two enrolled nodes and a relay (played by
# ntm-sim over loopback), registration with NAT detection, and a path
# directed for each kind of placement: both global, CN behind NAT, both
# behind different NATs (via the relay).
#   NTM_DEMO_SECONDS=0  keep the DC running in the foreground afterwards
#   NTM_DEMO_DIR=DIR    state directory (default /tmp/ntm-demo, wiped first)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build/release" -j "$(nproc)" --target ntm-dc ntm-sim

state=${NTM_DEMO_DIR:-/tmp/ntm-demo}
port=${NTM_DEMO_PORT:-4510}
rm -rf "$state"
mkdir -p "$state"
chmod 711 "$state"  # the embedded cluster runs as the postgres user below it
conf=$state/ntm-dc.conf
cat >"$conf" <<CONF
[dc]
id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
zones = demo.ntm.example
listen = 127.0.0.1:$port
state_dir = $state
[log]
level = info
CONF
dc=$root/build/release/dc/ntm-dc
sim=$root/build/release/sim/ntm-sim

"$dc" -c "$conf" serve 2>"$state/dc.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  grep -q 'ntm-dc ready' "$state/dc.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$state/dc.log"; exit 1; }
  sleep 0.2
done
grep 'ntm-dc ready' "$state/dc.log"

echo "== enroll two nodes and a relay"
"$dc" -c "$conf" --log-level warn node add mn.demo.ntm.example
"$dc" -c "$conf" --log-level warn node add cn.demo.ntm.example
"$dc" -c "$conf" --log-level warn relay add relay.demo.ntm.example
nodes=$state/nodes

echo "== both on global addresses"
"$sim" direct "$nodes/mn.demo.ntm.example.conf" "$nodes/cn.demo.ntm.example.conf"
echo "== CN behind a NAT (it reports a private address the DC does not see)"
"$sim" direct "$nodes/mn.demo.ntm.example.conf" "$nodes/cn.demo.ntm.example.conf" \
  --cn-local 192.168.1.2:4512
echo "== MN and CN behind two different NATs: via the relay"
"$sim" direct "$nodes/mn.demo.ntm.example.conf" "$nodes/cn.demo.ntm.example.conf" \
  --relay "$nodes/relay-relay.demo.ntm.example.conf" \
  --mn-local 192.168.1.2:4512 --cn-local 10.0.0.2:4512
echo "== the DC's view"
"$dc" -c "$conf" --log-level warn node list
"$dc" -c "$conf" --log-level warn relay list

if [ "${NTM_DEMO_SECONDS:-}" = 0 ]; then
  echo "== DC running (log: $state/dc.log); Ctrl-C stops it"
  trap - EXIT
  wait "$pid"
  exit 0
fi
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "== DC stopped; its counters:"
grep -E 'control: received|store: ' "$state/dc.log"
