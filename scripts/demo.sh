#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system's main job, end to end, in network namespaces (the testbed's
# world, docs/testbed.md): a Direction Coordinator with its embedded
# PostgreSQL and PowerDNS in front of it, a relay server, two nodes behind
# two different NATs, and a general host that runs no NTMobile software.
# It shows, in plain words: the registrations (VIP, NAT verdict), a name
# looked up on the mobile node turning into a route direction, the route
# chosen, and requests answered over the tunnels: a page served by the other
# node (via the relay: two NATs) and one served by the general host (the
# relay translates; the host sees the relay's address).  Then the mobile
# node changes networks twice in the middle of a download from the other
# node (behind NAT A -> a global address -> behind NAT B): the route before
# and after each move, the gap a 1 ms probe stream saw, and the download
# completing unbroken.  Then it tears everything down.  Nothing leaves the
# namespaces it creates.
#   NTM_DEMO_SECONDS=N  keep the world up N seconds before the teardown;
#                       0: until Ctrl-C (default: tear down at once)
#   NTM_DEMO_DIR=DIR    work directory (default /tmp/ntm-demo, wiped first)
#   NTM_DEMO_BUILD=DIR  build directory (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it creates network namespaces, TUN devices and NAT rules)" >&2
  exit 1
fi
[ -c /dev/net/tun ] || { echo "demo: /dev/net/tun is missing" >&2; exit 1; }
scripts/setup.sh
build=${NTM_DEMO_BUILD:-$root/build/release}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target ntm-dc ntm-rs ntmd

DC_BIN=$build/dc/ntm-dc
NTMD=$build/node/ntmd
NTMRS=$build/relay/ntm-rs
ZONE=demo.ntm.example
W=${NTM_DEMO_DIR:-/tmp/ntm-demo}
rm -rf "$W"
mkdir -p "$W"
chmod 711 "$W"  # the embedded cluster runs as the postgres user below it

# shellcheck source=tests/netns/topology.sh
. tests/netns/topology.sh
# shellcheck source=tests/netns/services.sh
. tests/netns/services.sh
# shellcheck source=tests/netns/mobility.sh
. tests/netns/mobility.sh
P=ntmdemo
topo_down "$P"  # a demo killed hard earlier
# From here on a failed step is reported and the demo goes on to the
# teardown; its exit status says whether everything worked.
set +e
status=0
die() { echo "demo: $*" >&2; exit 1; }
# expect WHAT GOT PATTERN: the step worked if GOT matches PATTERN
expect() {
  # shellcheck disable=SC2053  # PATTERN is a glob on purpose
  if [[ $2 == $3 ]]; then return 0; fi
  echo "     !! $1 did not work (got '${2}'); see the logs in $W" >&2
  status=1
}
finish() {
  local rc=$?
  trap - EXIT INT TERM
  echo
  echo "== Tearing down: stopping every process, deleting the namespaces"
  svc_stop_all
  topo_down "$P"
  echo "done (logs kept in $W)"
  [ "$rc" -eq 0 ] && [ "$status" -eq 0 ] && exit 0
  echo "demo: something did not work (see above)" >&2
  exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/     /'; }
# The DC's decision for a path to NAME, from its debug log, in words.
decision() {
  grep -o "direction: path .* -> .*first sender.*" "$W/dc.log" | grep -- "-> $1:" | tail -1 |
    sed -e 's/^direction: path \([0-9a-f]\{8\}\)[0-9a-f]* /path \1…: /' \
      -e 's/first sender 1$/the MN sends first/' -e 's/first sender 2$/the CN sends first/' \
      -e 's/first sender 3$/both send first/'
}
# The MN is a mobile host (tests/netns/mobility.sh): it starts behind NAT A.
MN=m CN=c1
MN_NAME=mn.$ZONE CN_NAME=cn.$ZONE

say "1. The world (network namespaces $P-*; nothing is linked to this machine's network)"
topo_up "$P" || die "could not build the namespaces"
mob_add "$MN" || die "could not add the mobile node"
mob_place "$MN" A || die "could not place the mobile node"
cat <<EOF | indent
global network G, 203.0.113.0/24:
  DC ${TOPO_IP[dc]} (ntm-dc + embedded PostgreSQL), PowerDNS $TOPO_PDNS_IP
  relay server ${TOPO_IP[rs]} (ntm-rs)
  general host ${TOPO_IP[gh]} "$TOPO_GH_NAME" (a plain web server, no NTMobile)
private network A 192.168.1.0/24 behind NAT A ${TOPO_WAN[a]}:  $MN_NAME (MN) at ${TOPO_IP[$MN]}
private network C 192.168.3.0/24 behind NAT C ${TOPO_WAN[c]}:  $CN_NAME (CN) at ${TOPO_IP[$CN]}
EOF

say "2. The Direction Coordinator starts with its database, and PowerDNS serves its zone"
svc_dc_conf
svc_start_dc || die "the DC did not start"
grep -m1 'ntm-dc ready' "$W/dc.log" | sed 's/.*\(ntm-dc ready.*\)/\1/' | indent
echo "embedded PostgreSQL: $W/dc/postgres (unix socket only)" | indent
svc_start_pdns || die "pdns_server did not start"
echo "pdns_server answers for $ZONE at $TOPO_PDNS_IP:53, every answer from the DC's memory" | indent

say "3. Enrolment: each node and the relay get an identity, a key and (nodes) a VIP"
svc_enrol_node "$MN" "$MN_NAME" || die "enrolment failed"
svc_enrol_node "$CN" "$CN_NAME" || die "enrolment failed"
svc_enrol_relay "relay.$ZONE" || die "enrolment failed"
dcx node list | indent

say "4. The relay server and the node daemons start and register with the DC"
svc_start_rs || die "ntm-rs did not start"
grep -m1 -o 'ntm-rs ready.*' "$W/rs/rs.log" | indent
svc_start_srv "$CN" "$CN_NAME" || die "the CN's web server did not start"
svc_start_srv gh "$TOPO_GH_NAME" || die "the general host's web server did not start"
svc_start_ntmd "$MN" "$CN" || die "ntmd did not start"
for h in "$MN" "$CN"; do
  js=$(svc_status "$h")
  name=$MN_NAME; [ "$h" = "$CN" ] && name=$CN_NAME
  jq -r --arg n "$name" --arg local "${TOPO_IP[$h]}" '"\($n): VIP \(.vip); the DC saw it at \(.observed), its own address is \($local), so: " +
     (if .behind_nat then "behind NAT" else "global address" end)' <<<"$js" | indent
done
echo "(the DC publishes no A record for a node behind NAT: pdns says '$(tx gh dig +short @"$TOPO_PDNS_IP" "$MN_NAME" A)')" | indent

say "5. On the MN, a program looks up $CN_NAME (ntmd answers the host's DNS on 127.0.0.53)"
t=$(date +%s%N)
vip=$(tx "$MN" dig +short +time=8 +tries=1 "$CN_NAME" A)
ms=$((($(date +%s%N) - t) / 1000000))
expect "the lookup" "$vip" "100.*"
echo "dig $CN_NAME -> $vip  ($ms ms: a Direction Request to the DC, the DC directs both ends and the relay," | indent
echo "the tunnel is set up, and only then does the answer come back)" | indent
echo "the DC's decision:" | indent
decision "$CN_NAME" | indent
js=$(svc_status "$MN")
jq -r --arg p "$CN_NAME" '.paths[] | select(.peer == $p) |
  "MN\u0027s path to \(.peer): route \(.route), \(.state), capsules to \(.endpoint)" +
  (if .via_relay then " (the relay)" else "" end)' <<<"$js" | indent
echo "why: both nodes are behind NATs (different public addresses), so neither can take" | indent
echo "packets it did not ask for; both open their NAT towards the relay (docs/route-decision.md, rule 4g)" | indent

say "6. An unmodified program on the MN talks to the CN by name"
echo "\$ curl http://$CN_NAME:8080/" | indent
out=$(tx "$MN" curl -s --max-time 10 "http://$CN_NAME:8080/")
echo "$out" | indent
expect "the request to the CN" "$out" "hello from $CN_NAME, you are 100.*"
echo "(the CN sees the MN's VIP: the addresses stay the same whatever the real ones are)" | indent
tx "$MN" ping -c 3 -i 0.3 "$CN_NAME" | grep -E 'bytes from|packet loss' | indent

say "7. The MN talks to the general host $TOPO_GH_NAME, which knows nothing of NTMobile"
echo "\$ curl http://$TOPO_GH_NAME:8080/" | indent
out=$(tx "$MN" curl -s --max-time 10 "http://$TOPO_GH_NAME:8080/")
echo "$out" | indent
expect "the request to the general host" "$out" "hello from $TOPO_GH_NAME, you are ${TOPO_IP[rs]}"
echo "(the general host sees the relay ${TOPO_IP[rs]}: the relay translates between the tunnel and the host)" | indent
echo "the DC's decision:" | indent
decision "$TOPO_GH_NAME" | indent
jq -r --arg p "$TOPO_GH_NAME" '.paths[] | select(.peer == $p) |
  "MN\u0027s path to \(.peer): route \(.route), \(.state), VIP \(.peer_vip)"' <<<"$(svc_status "$MN")" | indent

say "8. The relay's view"
svc_rs_status | jq -r '.paths[] | "path \(.path_id[0:8])…: \(.mode), \(.forwarded) datagrams, \(.bytes) bytes"' | indent
svc_status "$MN" | jq -r '.paths[] | "MN -> \(.peer): sent \(.tx_packets) packets, received \(.rx_packets)"' | indent

say "9. The MN changes networks in the middle of a download from the CN"
# route_of: the MN's route to the CN and its state, e.g. "relay up"
route_of() {
  svc_status "$MN" | jq -r --arg p "$CN_NAME" '[.paths[] | select(.peer == $p)] | last |
    if . == null then "none" else "\(.route) \(.state)" end' 2>/dev/null
}
# wait_route WANT: up to 10 s for the path to be up on route WANT; prints how long
wait_route() {
  local t i
  t=$(date +%s%N)
  for i in $(seq 100); do
    [ "$(route_of)" = "$1 up" ] && { echo "up after $((($(date +%s%N) - t) / 1000000)) ms"; return 0; }
    sleep 0.1
  done
  echo "still not up on route $1 after 10 s"
  return 1
}
# gap_words FILE T_MOVE T_CONFIGURED: the probe stream's gap in words
gap_words() {
  "$TOPO_PY" tests/netns/probe.py gap "$1" "$2" "$3" --horizon 1.5 | jq -r '
    if .gap_ms == null then "the probes did not get through after the move"
    else "the longest silence in the 1 ms probe stream was \(.gap_ms) ms; " +
      (if .from_configured_ms == null then "no probe sent after the new address was configured arrived"
       else "the first probe sent after the new address was configured arrived \(.from_configured_ms) ms after it" end) end'
}
vip_cn=$(svc_status "$MN" | jq -r --arg p "$CN_NAME" '[.paths[] | select(.peer == $p)] | last | .peer_vip')
size=6000000
ip netns exec "$P-$CN" "$TOPO_PY" tests/netns/bulk.py 9100 >"$W/bulk.log" 2>&1 &
SVC_PIDS+=("$!")
for i in $(seq 50); do
  tx "$CN" ss -Hltn 'sport = :9100' | grep -q . && break
  sleep 0.1
done
ip netns exec "$P-$CN" "$TOPO_PY" tests/netns/probe.py recv 0.0.0.0 9000 14 "$W/probe.txt" &
rpid=$!
sleep 0.5
echo "\$ curl http://$CN_NAME:9100/$size?rate=1000000     (a 6 MB download the CN paces to 6 s)" | indent
ip netns exec "$P-$MN" curl -s -o /dev/null -w '%{size_download}' --max-time 60 \
  "http://$CN_NAME:9100/$size?rate=1000000" >"$W/curl.out" 2>"$W/curl.err" &
cpid=$!
ip netns exec "$P-$MN" "$TOPO_PY" tests/netns/probe.py send "$vip_cn" 9000 1 9 2>"$W/probe.send" &
spid=$!
probe_wait_started 10 "$W/probe.send" || true
echo "and a probe stream, one UDP datagram per millisecond from the MN to the CN's VIP $vip_cn" | indent
echo "now: the MN is behind NAT A at ${TOPO_IP[$MN]}; route to the CN: $(route_of)" | indent
sleep 1.5
mob_place "$MN" G
t1=$MOB_T_START c1=$MOB_T_CONFIGURED
echo "move 1: the MN's cable goes from NAT A's switch to the global network; its address is now ${TOPO_IP[$MN]}" | indent
took=$(wait_route direct)
expect "the route after move 1" "$(route_of)" "direct up"
echo "  route to the CN: $(route_of), $took (expected direct: the CN behind NAT C sends first to the MN's global address)" | indent
sleep 2
mob_place "$MN" B
t2=$MOB_T_START c2=$MOB_T_CONFIGURED
echo "move 2: the MN goes behind NAT B, address ${TOPO_IP[$MN]} (the same private address it had in network A)" | indent
took=$(wait_route relay)
expect "the route after move 2" "$(route_of)" "relay up"
echo "  route to the CN: $(route_of), $took (expected relay: two NATs again)" | indent
wait "$cpid"
crc=$?
got=$(cat "$W/curl.out")
wait "$spid"
sleep 0.5
kill -TERM "$rpid" 2>/dev/null
wait "$rpid"
echo "move 1 (NAT A -> global): $(gap_words "$W/probe.txt" "$t1" "$c1")" | indent
echo "move 2 (global -> NAT B): $(gap_words "$W/probe.txt" "$t2" "$c2")" | indent
echo "probes received: $(wc -l <"$W/probe.txt") of the 9000 sent" | indent
if [ "$crc" -eq 0 ] && [ "$got" = "$size" ]; then
  echo "the download completed unbroken: $got of $size bytes, one TCP connection, no reset" | indent
else
  echo "the download did NOT complete: $got of $size bytes, curl exit $crc" | indent
fi
expect "the download across the moves" "$crc $got" "0 $size"
sed -n 's/^bulk \([0-9.]*\) \([0-9]*\) bytes \([0-9.]*\) s \(.*\)/the CN'"'"'s server: \2 bytes to \1 (the MN'"'"'s VIP all along) in \3 s, \4/p' "$W/bulk.log" | indent

secs=${NTM_DEMO_SECONDS:-}
if [ -n "$secs" ]; then
  say "The world stays up$([ "$secs" = 0 ] && echo " until Ctrl-C" || echo " for $secs s"). Try:"
  cat <<EOF | indent
ip netns exec $P-$MN curl http://$CN_NAME:8080/
$NTMD -c $W/$MN/node.conf status --json | jq .
$NTMRS -c $W/rs/relay.conf status --json | jq .
ip netns exec $P-na conntrack -L -p udp
logs: $W/dc.log $W/rs/rs.log $W/$MN/ntmd.log $W/$CN/ntmd.log
EOF
  if [ "$secs" = 0 ]; then
    while :; do sleep 3600; done
  else
    sleep "$secs"
  fi
fi
