#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The testbed: the paper's Table 1 in network namespaces (docs/testbed.md).
#
#   testbed_test.sh registration NTM_DC NTM_SIM
#       the world of topology.sh, ntm-dc (embedded PostgreSQL) and
#       pdns_server in G, every node and the relay enrolled with the CLI and
#       registered with `ntm-sim register` from inside its namespace: the
#       VIP, the observed address and the NAT verdict of each; the zone
#       through pdns.  Needs no ntmd or ntm-rs.
#   testbed_test.sh table1 NTM_DC NTM_SIM NTMD NTM_RS
#       the same, then ntm-rs and one ntmd per node host, and for every
#       placement of Table 1 that exists without moving (plus two hosts
#       behind one NAT and a host behind a symmetric NAT): curl, ping and a
#       UDP exchange by name from MN to CN over the VIPs, the route ntmd
#       reports against docs/route-decision.md, who the CN sees as its
#       client; then bad input: a name that does not exist, an offline node,
#       and the DC stopped (SERVFAIL within the bound, no hang).
#
# Exit 77 (skipped) when not root, without /dev/net/tun, without pdns_server
# or its remote backend, or (table1) without ntmd/ntm-rs binaries.
# Every test packet stays inside the namespaces made here (prefix tbPID);
# the EXIT trap stops every process started here and removes the namespaces
# and /etc/netns/PREFIX-*.
#   KEEP=1        keep the world up after the run (Ctrl-C tears it down)
#   TB_PREFIX=P   namespace prefix (default tb<pid>)
set -uo pipefail

MODE=${1:?usage: testbed_test.sh registration|table1 NTM_DC NTM_SIM [NTMD NTM_RS]}
DC_BIN=${2:?ntm-dc binary}
SIM=${3:?ntm-sim binary}
NTMD=${4:-}
NTMRS=${5:-}
HERE=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN, iptables)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
command -v pdns_server >/dev/null || skip "pdns_server not installed (scripts/setup.sh)"
ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1 || skip "pdns-backend-remote not installed"
for t in ip iptables nft dig python3 jq; do
  command -v "$t" >/dev/null || skip "$t not installed (scripts/setup.sh)"
done
case $MODE in
  registration) ;;
  table1)
    if [ -z "$NTMD" ] || [ ! -x "$NTMD" ]; then skip "ntmd is not built yet: the data-plane cases need it"; fi
    if [ -z "$NTMRS" ] || [ ! -x "$NTMRS" ]; then skip "ntm-rs is not built yet: the data-plane cases need it"; fi
    for t in curl ping socat; do
      command -v "$t" >/dev/null || skip "$t not installed (scripts/setup.sh)"
    done
    ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

# shellcheck source-path=SCRIPTDIR source=topology.sh
. "$HERE/topology.sh"
# shellcheck source-path=SCRIPTDIR source=services.sh
. "$HERE/services.sh"

P=${TB_PREFIX:-tb$$}
W=$(mktemp -d /tmp/ntm-testbed.XXXXXX)
chmod 711 "$W"  # the embedded cluster runs as postgres below it
ZONE=ntm.test
T0=$(date +%s.%N)
FAILS=0
PASSES=0
SUMMARY=()

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
log() { echo "[$(since "$T0")s] $*"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  svc_stop_all
  topo_down "$P"
  if [ "$FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
    if [ "${TB_KEEP_LOGS:-1}" = 1 ]; then
      rm -rf "$W/dc/postgres/data"  # the cluster itself (47 MB); its log stays
      echo "logs kept in $W"
    else
      rm -rf "$W"
    fi
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*"
  for f in "$W"/dc.log "$W"/pdns.log "$W"/rs/rs.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }
  done
  FAILS=$((FAILS + 1))
  exit 1
}

fqdn() { if [ "$1" = gh ]; then echo "$TOPO_GH_NAME"; else echo "$1.$ZONE"; fi; }

# ---- the world ---------------------------------------------------------------
topo_up "$P" || die "topology"
log "topology $P up: $(ip netns list | grep -c "^$P-") namespaces"

svc_dc_conf
svc_start_dc || die "ntm-dc"
log "ntm-dc ready (embedded PostgreSQL under $W/dc/postgres): $(grep -o 'control [^ ]*' "$W/dc.log" | head -1)"

for h in "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}"; do
  svc_enrol_node "$h" "$(fqdn "$h")" || die "node add $h"
done
dcx node add "off.$ZONE" -o "$W/off.conf" >/dev/null || die "node add off"   # enrolled, never runs
svc_enrol_relay "rs.$ZONE" || die "relay add"
log "enrolled: $(dcx node list | grep -c "$ZONE") nodes, 1 relay"

svc_start_pdns || die "pdns_server"
log "pdns_server answers on $TOPO_PDNS_IP:53"

# ---- registrations and NAT verdicts (ntm-sim from inside each namespace) ----
check() {  # LABEL CONDITION-RESULT(0/1) DETAIL
  if [ "$2" -eq 0 ]; then
    PASSES=$((PASSES + 1)); echo "PASS $1: $3"
  else
    FAILS=$((FAILS + 1)); echo "FAIL $1: $3"
  fi
  SUMMARY+=("$([ "$2" -eq 0 ] && echo PASS || echo FAIL) $1")
}
declare -A VIP
for h in "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}"; do
  out=$(tx "$h" "$SIM" register "$W/$h/node.conf" --bind "${TOPO_IP[$h]}" 2>&1)
  VIP[$h]=$(sed -n 's/.*vip \([0-9.]*\),.*/\1/p' <<<"$out")
  seen=$(sed -n 's/.*seen at \([0-9.]*\):.*/\1/p' <<<"$out")
  if [ "${TOPO_NET[$h]}" = G ]; then
    want_seen=${TOPO_IP[$h]} want_nat=global
  else
    n=${TOPO_NET[$h],,}
    want_seen=${TOPO_WAN[$n]} want_nat="behind NAT"
  fi
  [ -n "${VIP[$h]}" ] && [ "$seen" = "$want_seen" ] && grep -q "$want_nat\$" <<<"$out"
  check "register $h@${TOPO_NET[$h]}" $? "${out:-no output} (expected seen at $want_seen, $want_nat)"
done
out=$(tx rs "$SIM" register "$W/rs/relay.conf" --bind "${TOPO_IP[rs]}" 2>&1)
grep -q "seen at ${TOPO_IP[rs]}:.*global" <<<"$out"
check "register relay rs@G" $? "$out"

# The zone through pdns, asked from the general host: a global node has its
# real address as A record, a node behind NAT has none (no nat_address).
a_g1=$(tx gh dig +short +time=2 +tries=1 @"$TOPO_PDNS_IP" "g1.$ZONE" A)
a_a1=$(tx gh dig +short +time=2 +tries=1 @"$TOPO_PDNS_IP" "a1.$ZONE" A)
[ "$a_g1" = "${TOPO_IP[g1]}" ] && [ -z "$a_a1" ]
check "dns via pdns" $? "g1.$ZONE A '$a_g1' (expected ${TOPO_IP[g1]}), a1.$ZONE A '$a_a1' (expected none)"

if [ "$MODE" = registration ]; then
  echo
  echo "registration: $PASSES passed, $FAILS failed ($(since "$T0") s)"
  echo "(the data-plane cases run in mode table1, with ntmd and ntm-rs)"
  [ "$FAILS" -eq 0 ] || exit 1
  exit 0
fi

# ---- data plane: ntm-rs, ntmd on every node host, servers on correspondents --
# Correspondents' servers: every node host and the general host.
for h in gh "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}"; do
  svc_start_srv "$h" "$(fqdn "$h")" || die "servers"
done
svc_start_rs || die "ntm-rs"
log "ntm-rs ready: $(grep -o 'relay endpoint .*' "$W/rs/rs.log" | head -1)"
svc_start_ntmd "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}" || die "ntmd"
log "ntmd ready on ${TOPO_NODES_G[*]} ${TOPO_NODES_NAT[*]}"


# ntmd's own view of its registration: VIP and NAT verdict.
for h in "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}"; do
  js=$(svc_status "$h")
  got=$(jq -r '"\(.registered) \(.vip) \(.behind_nat)"' <<<"$js" 2>/dev/null)
  want_nat=true
  [ "${TOPO_NET[$h]}" = G ] && want_nat=false
  [ "$got" = "true ${VIP[$h]} $want_nat" ]
  check "ntmd status $h@${TOPO_NET[$h]}" $? \
    "registered/vip/behind_nat '$got' (expected 'true ${VIP[$h]} $want_nat'), observed $(jq -r .observed <<<"$js" 2>/dev/null)"
done

# shellcheck source-path=SCRIPTDIR source=table1_cases.sh
. "$HERE/table1_cases.sh"

echo
log "Table 1 placements (CN does not move; a move is a new registration, docs/route-decision.md)"
tcase g1 g2 direct "rows 1, 5"
tcase g1 gh relay_general "rows 2, 6"
tcase a1 g2 direct "rows 3, 7"
tcase a1 gh relay_general "rows 4, 8"
tcase b1 g2 direct "row 9"
tcase b1 gh relay_general "row 10"
tcase g1 a1 direct "rows 11, 14 (CN sends first)"
tcase a2 a1 direct_private "rows 12, 15 (same NAT and /24)"
tcase b1 a1 relay "rows 13, 16 (two NATs, same private prefix)"
tcase c1 a1 relay "row 17 (two NATs)"
log "symmetric NAT D (MASQUERADE --random-fully)"
tcase d1 g2 direct "MN behind symmetric NAT sends first"
tcase g2 d1 direct "CN behind symmetric NAT sends first"
tcase d1 a1 relay "symmetric NAT and another NAT"
tcase d1 gh relay_general "general host"

# ---- a party's key replaced while its daemon runs --------------------------
# rekey_party KIND NAME DIR FILE LOG REGISTERED: `ntm-dc KIND rekey NAME`,
# the two key lines copied into DIR/FILE (the daemon's file keeps its own
# sections), SIGHUP to the daemon running on it (systemctl reload); true
# once DIR/LOG shows the new epoch taken and one registration more.
rekey_party() {
  local kind=$1 name=$2 dir=$3 file=$4 log=$5 reg=$6 key epoch regs
  dcx "$kind" rekey "$name" -o "$dir/rekeyed.conf" >/dev/null || return 1
  key=$(sed -n 's/^key = //p' "$dir/rekeyed.conf")
  epoch=$(sed -n 's/^key_epoch = //p' "$dir/rekeyed.conf")
  sed -i -e "s/^key = .*/key = $key/" -e "s/^key_epoch = .*/key_epoch = $epoch/" "$dir/$file"
  regs=$(grep -c -- "$reg" "$dir/$log")
  pkill -HUP -f -- "-c $dir/$file run" || return 1
  for _ in $(seq 50); do
    grep -q "$kind key epoch $epoch taken" "$dir/$log" &&
      [ "$(grep -c -- "$reg" "$dir/$log")" -gt "$regs" ] && return 0
    sleep 0.1
  done
  return 1
}

# b1's node key: same VIP, its path to g2 (row 9) goes on, and a new
# direction (b1 -> g1) opens under the new key.
echo
rekey_party node "b1.$ZONE" "$W/b1" node.conf ntmd.log "registered as b1.$ZONE: vip ${VIP[b1]}/"
check "rekey: ntmd takes the new key" $? "b1 after SIGHUP: $(grep -E 'SIGHUP|key epoch|registered as' "$W/b1/ntmd.log" | tail -2 | tr '\n' ' ')"
body=$(tx b1 curl -s --max-time 5 "http://g2.$ZONE:8080/" 2>&1)
[ "$body" = "hello from g2.$ZONE, you are ${VIP[b1]}" ]
check "rekey: the existing path goes on" $? "b1 -> g2: '${body}'"
body=$(tx b1 curl -s --max-time 10 "http://g1.$ZONE:8080/" 2>&1)
[ "$body" = "hello from g1.$ZONE, you are ${VIP[b1]}" ]
check "rekey: a new direction under the new key" $? "b1 -> g1: '${body}'"
# The relay's key, then a path it has not carried yet: c1 -> b1, two NATs
# (row 17's route).
rekey_party relay "rs.$ZONE" "$W/rs" relay.conf rs.log "dc: registered at"
check "rekey: ntm-rs takes the new key" $? "rs after SIGHUP: $(grep -E 'SIGHUP|key epoch|registered at' "$W/rs/rs.log" | tail -2 | tr '\n' ' ')"
body=$(tx c1 curl -s --max-time 10 "http://b1.$ZONE:8080/" 2>&1)
[ "$body" = "hello from b1.$ZONE, you are ${VIP[c1]}" ]
check "rekey: a new relayed path under the relay's new key" $? "c1 -> b1: '${body}'"

# ---- bad input -------------------------------------------------------------
echo
# dns_status HOST NAME: "STATUS SECONDS" of one query to ntmd's resolver
dns_status() {
  local t st
  t=$(now)
  st=$(tx "$1" dig +time=15 +tries=1 @127.0.0.53 "$2" A 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
  echo "${st:-NO-ANSWER} $(since "$t")"
}
read -r st secs < <(dns_status a1 "nosuch.$ZONE")
[ "$st" = NXDOMAIN ]
check "bad name" $? "a1 asks nosuch.$ZONE: $st in $secs s (expected NXDOMAIN)"
read -r st secs < <(dns_status a1 "off.$ZONE")
[ "$st" = SERVFAIL ] && awk -v s="$secs" 'BEGIN{exit !(s < 6)}'
check "offline node" $? "a1 asks off.$ZONE (enrolled, never registered): $st in $secs s (expected SERVFAIL within 6 s)"
read -r st secs < <(dns_status a1 "gh.nowhere.example")
[ "$st" = NXDOMAIN ]
check "unresolvable general host" $? "a1 asks gh.nowhere.example: $st in $secs s (expected NXDOMAIN)"

svc_stop_dc
log "DC stopped"
read -r st secs < <(dns_status c1 "g1.$ZONE")
[ "$st" = SERVFAIL ] && awk -v s="$secs" 'BEGIN{exit !(s < 6)}'
check "DC unreachable" $? "c1 asks g1.$ZONE with the DC down: $st in $secs s (expected SERVFAIL within tunnel_wait_ms 4 s + 2 s)"
body=$(tx a2 curl -s --max-time 5 "http://a1.$ZONE:8080/" 2>&1)
[ "$body" = "hello from a1.$ZONE, you are ${VIP[a2]}" ]
check "path survives DC down" $? "a2 -> a1 over the existing path with the DC down: '${body}'"

echo
echo "== summary ($MODE, prefix $P, $(since "$T0") s)"
printf '  %s\n' "${SUMMARY[@]}"
echo "testbed: $PASSES passed, $FAILS failed"

if [ "${KEEP:-0}" = 1 ]; then
  svc_start_dc || die "DC restart"
  echo
  echo "KEEP=1: the world stays up (DC restarted). Work dir $W. Try:"
  echo "  ip netns exec $P-a1 curl http://g2.$ZONE:8080/"
  echo "  $NTMD -c $W/a1/node.conf status --json | jq ."
  echo "  $NTMRS -c $W/rs/relay.conf status --json | jq ."
  echo "  ip netns exec $P-na conntrack -L -p udp"
  echo "Ctrl-C tears everything down."
  while :; do sleep 3600; done
fi
[ "$FAILS" -eq 0 ]
