#!/bin/bash
# SPDX-License-Identifier: MIT
# pdns 4.7 against ntm_dns_backend: starts the fixture backend, then
# pdns_server on 127.0.0.1 and a free high port (foreground, no config
# file, zone cache on, query and packet caches left at their defaults so
# that the node records' scopeMask is what keeps them fresh), asks with dig
# and compares, swaps the view and checks the very next answer.  Every
# process started here is stopped by PID; the temp dir is removed.
# usage: pdns_test.sh PATH_TO_ntm_dns_fixture
set -euo pipefail

FIXTURE=$1
for tool in pdns_server dig python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ -e /usr/lib/x86_64-linux-gnu/pdns/libremotebackend.so ] || ls /usr/lib/*/pdns/libremotebackend.so \
  >/dev/null 2>&1 || { echo "SKIP: pdns-backend-remote not installed"; exit 77; }

DIR=$(mktemp -d /tmp/ntm-dns-pdns.XXXXXX)
SOCK=$DIR/rb.sock
BE=""; PDNS=""
cleanup() {
  # pdns first (it would log reconnect errors otherwise); it needs 1-3 s.
  if [ -n "$PDNS" ]; then kill "$PDNS" 2>/dev/null || true; wait "$PDNS" 2>/dev/null || true; fi
  if [ -n "$BE" ]; then kill "$BE" 2>/dev/null || true; wait "$BE" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- pdns log"; tail -30 "$DIR/pdns.log" || true
  echo "--- backend log"; tail -30 "$DIR/backend.log" || true
  exit 1
}

"$FIXTURE" "$SOCK" >"$DIR/backend.log" 2>&1 & BE=$!
# pdns exits when getAllDomains fails at start: wait until the socket accepts.
for _ in $(seq 100); do
  python3 -c "import socket,sys;socket.socket(socket.AF_UNIX).connect(sys.argv[1])" "$SOCK" \
    2>/dev/null && break
  sleep 0.05
done

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$DIR/run"
pdns_server --no-config --guardian=no --daemon=no --disable-syslog --write-pid=no \
  --socket-dir="$DIR/run" --launch=remote \
  --remote-connection-string="unix:path=$SOCK,timeout=2000" \
  --local-address=127.0.0.1 --local-port="$PORT" --negquery-cache-ttl=0 \
  --zone-cache-refresh-interval=300 --distributor-threads=2 \
  --security-poll-suffix= --webserver=no --api=no --loglevel=4 >"$DIR/pdns.log" 2>&1 & PDNS=$!
ready=no
for _ in $(seq 100); do
  if dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" ntm.example SOA >/dev/null 2>&1; then ready=yes; break; fi
  kill -0 "$PDNS" 2>/dev/null || fail "pdns_server exited at start"
  sleep 0.1
done
[ "$ready" = yes ] || fail "pdns_server did not answer"

ask() {  # NAME TYPE -> "STATUS|answer lines" (record data only, sorted)
  local out status
  out=$(dig +norec +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$1" "$2")
  status=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")
  echo "$status|$(dig +norec +short +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$1" "$2" | sort | tr '\n' ' ')"
}
expect() {  # NAME TYPE EXPECTED
  local got
  got=$(ask "$1" "$2")
  [ "$got" = "$3" ] || fail "$1 $2: expected '$3', got '$got'"
  echo "ok  $1 $2 -> $got"
}

expect ntm.example SOA "NOERROR|ns1.ntm.example. hostmaster.ntm.example. 2024010101 3600 600 604800 0 "
expect ntm.example NS "NOERROR|ns1.ntm.example. "
expect ns1.ntm.example A "NOERROR|192.0.2.53 "
expect node1.ntm.example A "NOERROR|10.0.0.1 "
expect NODE1.NTM.EXAMPLE A "NOERROR|10.0.0.1 "
expect node1.ntm.example TXT 'NOERROR|"v=ntm1 dc=203.0.113.10:4510" '
expect node1.ntm.example AAAA "NOERROR|"
expect mover.ntm.example A "NOERROR|"
expect mover.ntm.example TXT 'NOERROR|"v=ntm1 dc=203.0.113.10:4510" '
expect deep.lab.ntm.example A "NOERROR|198.51.100.1 "
expect lab.ntm.example A "NOERROR|"
expect nx.ntm.example A "NXDOMAIN|"
expect _ntm-dc.ntm.example TXT 'NOERROR|"v=ntm1 endpoint=203.0.113.10:4510 fp=sha256:00ff" '
expect other.example A "REFUSED|"

# Node answers carry TTL 0.
ttl=$(dig +norec +noall +answer @127.0.0.1 -p "$PORT" node1.ntm.example A | awk '{print $2}')
[ "$ttl" = 0 ] || fail "node TTL $ttl, expected 0"

# AXFR through `list`: SOA first and last, every record once.
axfr=$(dig +noall +answer @127.0.0.1 -p "$PORT" ntm.example AXFR)
[ "$(grep -c 'IN	SOA' <<<"$axfr")" = 2 ] || fail "AXFR: $axfr"
[ "$(grep -c 'IN	A	' <<<"$axfr")" = 3 ] || fail "AXFR A records: $axfr"
grep -q '^mover.ntm.example.	0	IN	TXT' <<<"$axfr" || fail "AXFR: no mover TXT"
echo "ok  AXFR ($(wc -l <<<"$axfr") records)"

# The move: with pdns's query and packet caches on, the very next answer
# has the new address because node records carry a scopeMask.
expect mover.ntm.example A "NOERROR|"
kill -USR1 "$BE"
sleep 0.2
expect mover.ntm.example A "NOERROR|203.0.113.20 "
# (The SOA is not scoped: pdns may serve the old serial for up to
# query-cache-ttl; only node answers must be fresh.)

echo "PASS"
