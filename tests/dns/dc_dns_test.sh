#!/bin/bash
# SPDX-License-Identifier: MIT
# Golden DNS tests through the real chain: dig -> pdns_server 4.7 (remote
# backend, production cache settings: packet, query and negative caches
# off) -> the unix socket -> ntm-dc serving its zone from its view, with
# nodes enrolled through the CLI and registered over UDP by ntm-sim.
#
#   1. golden answers (tests/dns/golden/dc_zone.txt): SOA, NS, glue, A of
#      a global node, no A for a NATed node, TXT marker, discovery record,
#      NXDOMAIN, AXFR.  The volatile parts (SOA serial, the DC's port, its
#      key fingerprint) are replaced by placeholders and checked apart;
#   2. a move is in the very next answer (new address; behind NAT: no A),
#      and the SOA serial advances within a second;
#   3. enrolment and removal through the CLI reach DNS;
#   4. a DC restart: pdns answers again, with at most one SERVFAIL per
#      pdns backend connection (one here: 1 receiver x 1 distributor).
#
# Loopback and a temp dir only; every process started here is stopped by
# PID and the test database dropped.  UPDATE_GOLDEN=1 rewrites the file.
# usage: dc_dns_test.sh NTM_DC NTM_SIM GOLDEN_DIR   (NTM_TEST_PG_URL set)
set -euo pipefail

DC_BIN=$1
SIM=$2
GOLDEN=$3/dc_zone.txt
for tool in pdns_server dig python3 psql; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1 ||
  { echo "SKIP: pdns-backend-remote not installed"; exit 77; }
: "${NTM_TEST_PG_URL:?must point at the cluster of the pg fixture}"

ZONE=dns.test.example
DIR=$(mktemp -d /tmp/ntm-dc-dns.XXXXXX)
chmod 755 "$DIR"
DB=ntm_dns_$$
DCPID=""; PDNS=""
free_port() {  # $1: tcp|udp
  python3 -c 'import socket,sys
t = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
cleanup() {
  if [ -n "$PDNS" ]; then kill "$PDNS" 2>/dev/null || true; wait "$PDNS" 2>/dev/null || true; fi
  if [ -n "$DCPID" ]; then kill "$DCPID" 2>/dev/null || true; wait "$DCPID" 2>/dev/null || true; fi
  psql -q "$NTM_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- pdns log"; tail -30 "$DIR/pdns.log" 2>/dev/null || true
  echo "--- dc log"; tail -40 "$DIR/dc.log" 2>/dev/null || true
  exit 1
}

psql -q "$NTM_TEST_PG_URL" -c "CREATE DATABASE $DB" >/dev/null
DB_URL=$(python3 -c 'import sys,urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
  "$NTM_TEST_PG_URL" "$DB")
DC_PORT=$(free_port udp)
DNS_PORT=$(free_port udp)
mkdir -p "$DIR/run" "$DIR/state" "$DIR/pdns"
cat >"$DIR/dc.conf" <<EOF
[dc]
id = $(python3 -c 'import secrets;print(secrets.token_hex(16))')
zones = $ZONE
listen = 127.0.0.1:$DC_PORT
state_dir = $DIR/state
[database]
url = $DB_URL
[timers]
keepalive_s = 15
lifetime_s = 600
[dns]
socket = $DIR/run/pdns.sock
nameservers = ns1.$ZONE, ns2.elsewhere.example
ns_addresses = ns1.$ZONE=127.0.0.53
prompt_interval_ms = 1000
EOF
dc() { "$DC_BIN" -c "$DIR/dc.conf" "$@"; }

start_dc() {
  "$DC_BIN" -c "$DIR/dc.conf" serve >>"$DIR/dc.log" 2>&1 & DCPID=$!
  # pdns exits when getAllDomains fails at its start: the socket must accept.
  for _ in $(seq 300); do
    python3 -c "import socket,sys;socket.socket(socket.AF_UNIX).connect(sys.argv[1])" \
      "$DIR/run/pdns.sock" 2>/dev/null && return 0
    kill -0 "$DCPID" 2>/dev/null || fail "ntm-dc exited at start"
    sleep 0.05
  done
  fail "ntm-dc's DNS socket did not accept"
}

dc node add "global.$ZONE" >/dev/null
dc node add "natted.$ZONE" >/dev/null
dc node add "mover.lab.$ZONE" >/dev/null
NODES=$DIR/state/nodes
start_dc
"$SIM" register "$NODES/global.$ZONE.conf" >/dev/null || fail "register global"
"$SIM" register "$NODES/natted.$ZONE.conf" --local 10.1.2.3:4512 >/dev/null || fail "register natted"
"$SIM" register "$NODES/mover.lab.$ZONE.conf" --bind 127.0.0.3 >/dev/null || fail "register mover"

pdns_server --no-config --guardian=no --daemon=no --disable-syslog --write-pid=no \
  --socket-dir="$DIR/pdns" --launch=remote \
  --remote-connection-string="unix:path=$DIR/run/pdns.sock,timeout=2000" --remote-dnssec=no \
  --local-address=127.0.0.1 --local-port="$DNS_PORT" \
  --cache-ttl=0 --query-cache-ttl=0 --negquery-cache-ttl=0 --zone-cache-refresh-interval=300 \
  --consistent-backends=yes --receiver-threads=1 --distributor-threads=1 \
  --security-poll-suffix= --webserver=no --api=no --loglevel=4 >"$DIR/pdns.log" 2>&1 & PDNS=$!
for _ in $(seq 100); do
  dig +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$ZONE" SOA >/dev/null 2>&1 && break
  kill -0 "$PDNS" 2>/dev/null || fail "pdns_server exited at start"
  sleep 0.1
done

FP=$(sed -n 's/.*dc key: sha256:\([0-9a-f]\{64\}\).*/\1/p' "$DIR/dc.log" | head -1)
[ -n "$FP" ] || fail "no key fingerprint in the DC's log"

# One query, normalised: a header line with the status, then the answer
# and authority sections, each sorted (pdns does not promise an order).
q() {
  local out status
  out=$(dig +norec +time=2 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$@")
  status=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out" | head -1)
  echo ";; $* -> ${status:-NO-ANSWER}"
  awk '/^;; ANSWER SECTION:/{f=1;next} /^;; AUTHORITY SECTION:/{f=2;next} /^;;/{f=0}
       /^$/{next} f==1{print "A " $0} f==2{print "U " $0}' <<<"$out" | LC_ALL=C sort |
    sed -E -e 's/^A //' -e 's/^U /authority: /' \
      -e "s/(SOA	[^ ]+ [^ ]+ )[0-9]+/\1SERIAL/" \
      -e "s/127\.0\.0\.1:$DC_PORT/DC:PORT/g" -e "s/fp=sha256:$FP/fp=sha256:FP/g"
}
axfr() {
  dig +time=5 +tries=1 +noall +answer @127.0.0.1 -p "$DNS_PORT" "$ZONE" AXFR |
    sed -E -e "s/(SOA	[^ ]+ [^ ]+ )[0-9]+/\1SERIAL/" \
      -e "s/127\.0\.0\.1:$DC_PORT/DC:PORT/g" -e "s/fp=sha256:$FP/fp=sha256:FP/g"
}
serial() { dig +short +norec @127.0.0.1 -p "$DNS_PORT" "$ZONE" SOA | awk '{print $3}'; }
a_of() { dig +short +norec @127.0.0.1 -p "$DNS_PORT" "$1" A | tr '\n' ' '; }

# ---- 1. golden answers ------------------------------------------------------
{
  q "$ZONE" SOA
  q "$ZONE" NS
  q "ns1.$ZONE" A
  q "global.$ZONE" A
  q "GLOBAL.$ZONE" A
  q "global.$ZONE" TXT
  q "global.$ZONE" AAAA
  q "natted.$ZONE" A
  q "natted.$ZONE" TXT
  q "mover.lab.$ZONE" A
  q "lab.$ZONE" A
  q "_ntm-dc.$ZONE" TXT
  q "nx.$ZONE" A
  q other.example A
  echo ";; AXFR"
  axfr
} >"$DIR/got.txt"
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
  cp "$DIR/got.txt" "$GOLDEN"
  echo "golden file rewritten: $GOLDEN"
fi
diff -u "$GOLDEN" "$DIR/got.txt" || fail "answers differ from $GOLDEN"
echo "ok  golden answers ($(grep -c '^;; ' "$GOLDEN") queries)"
grep -q "v=ntm1 endpoint=127.0.0.1:$DC_PORT fp=sha256:$FP" \
  <(dig +short @127.0.0.1 -p "$DNS_PORT" "_ntm-dc.$ZONE" TXT) ||
  fail "discovery record does not carry the DC's endpoint and fingerprint"
echo "ok  discovery record: endpoint 127.0.0.1:$DC_PORT, fingerprint of the DC's key"

# ---- 2. moves are in the very next answer ------------------------------------
s0=$(serial)
"$SIM" register "$NODES/mover.lab.$ZONE.conf" --bind 127.0.0.4 >/dev/null || fail "move"
[ "$(a_of "mover.lab.$ZONE")" = "127.0.0.4 " ] || fail "after the move: A $(a_of "mover.lab.$ZONE")"
"$SIM" register "$NODES/mover.lab.$ZONE.conf" --local 10.9.9.9:4512 >/dev/null || fail "move to NAT"
[ -z "$(a_of "mover.lab.$ZONE")" ] || fail "behind NAT: A $(a_of "mover.lab.$ZONE")"
"$SIM" register "$NODES/natted.$ZONE.conf" --bind 127.0.0.5 >/dev/null || fail "natted goes global"
[ "$(a_of "natted.$ZONE")" = "127.0.0.5 " ] || fail "natted on a global address: $(a_of "natted.$ZONE")"
echo "ok  moves: global -> global, global -> NAT, NAT -> global, each in the next answer"
s1=$s0
for _ in $(seq 30); do
  s1=$(serial)
  [ "$s1" -gt "$s0" ] && break
  sleep 0.1
done
[ "$s1" -gt "$s0" ] || fail "serial did not advance after moves: $s0 -> $s1"
echo "ok  serial advanced: $s0 -> $s1"

# ---- 3. enrolment and removal through the CLI --------------------------------
dc node add "late.$ZONE" >/dev/null
found=no
for _ in $(seq 40); do
  if dig +short @127.0.0.1 -p "$DNS_PORT" "late.$ZONE" TXT | grep -q 'v=ntm1'; then found=yes; break; fi
  sleep 0.05
done
[ "$found" = yes ] || fail "an enrolled node's marker did not appear"
dc node remove "late.$ZONE" >/dev/null
gone=no
for _ in $(seq 40); do
  if dig +norec @127.0.0.1 -p "$DNS_PORT" "late.$ZONE" TXT | grep -q 'status: NXDOMAIN'; then
    gone=yes; break
  fi
  sleep 0.05
done
[ "$gone" = yes ] || fail "a removed node is still in DNS"
echo "ok  enrolment and removal reach DNS"

# ---- 4. DC restart -----------------------------------------------------------
kill -TERM "$DCPID"; wait "$DCPID" || true; DCPID=""
st=$(dig +norec +time=3 +tries=1 @127.0.0.1 -p "$DNS_PORT" "global.$ZONE" A |
  sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = SERVFAIL ] || fail "with the DC down: status '$st', expected SERVFAIL"
kill -0 "$PDNS" 2>/dev/null || fail "pdns_server died while the DC was down"
start_dc
servfails=0; answered=no
for _ in $(seq 10); do
  st=$(dig +norec +time=3 +tries=1 @127.0.0.1 -p "$DNS_PORT" "global.$ZONE" A |
    sed -n 's/.*status: \([A-Z]*\).*/\1/p')
  if [ "$st" = NOERROR ]; then answered=yes; break; fi
  [ "$st" = SERVFAIL ] && servfails=$((servfails + 1))
done
[ "$answered" = yes ] || fail "pdns did not answer after the DC restarted"
[ "$servfails" -le 1 ] || fail "$servfails SERVFAILs after the restart (1 pdns connection)"
[ "$(a_of "global.$ZONE")" = "127.0.0.1 " ] || fail "after the restart: A $(a_of "global.$ZONE")"
echo "ok  DC restart: answers again after $servfails SERVFAIL(s)"

echo "PASS"
