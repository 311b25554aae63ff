#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The testbed's moves: the 17 movement patterns of the paper's Table 1, each
# with a TCP download and a 1 ms UDP probe stream running across the move,
# plus a double move, both ends moving, a move while the DC is frozen, a
# new address within the CN's private network and expiring NAT bindings
# (docs/testbed.md §5).
#
#   mobility_test.sh NTM_DC NTM_SIM NTMD NTM_RS
#
# The world of topology.sh and services.sh (DC with embedded PostgreSQL,
# pdns, ntm-rs; ntmd on g1 (G) and a1 (P(A)); the general host gh) plus the
# mobile hosts of mobility.sh: m (ntmd, the MN) and m2 (ntmd, a CN that moves
# too).  Per pattern: m is placed at FROM, resolves the CN by name and waits
# for the path to be up; a paced download (curl of bulk.py, 3 MB at 1 MB/s)
# and probe streams m -> CN and CN -> m (probe.py, over the VIPs) start; m
# moves to TO; then the download must complete with every byte and no
# reset, both probe streams must recover, and the route in m's `ntmd status
# --json` must be the one docs/route-decision.md gives for the placement
# after the move.  The gaps are printed per pattern and saved in
# $RUNDIR/mobility.tsv; they are not asserted (timing is bench/'s job).
#
# Exit 77 (skipped) when not root, without /dev/net/tun, pdns_server, its
# remote backend, the tools, or the ntmd/ntm-rs binaries.  Every packet stays
# in the namespaces made here (prefix mb<pid>); the EXIT trap stops every
# process started here and removes the namespaces and /etc/netns/PREFIX-*.
#   KEEP=1        keep the world up after the run (Ctrl-C tears it down)
#   TB_PREFIX=P   namespace prefix (default mb<pid>)
#   RUNDIR=DIR    where mobility.tsv goes (default the work directory, kept)
#   MOB_ONLY="1 5 twice"  run only these cases (pattern numbers, twice,
#                 both, dcfrozen, dcfrozen_nat, privstay, rsrestart, natflush,
#                 natidle, blackout, idle)
set -uo pipefail

DC_BIN=${1:?usage: mobility_test.sh NTM_DC NTM_SIM NTMD NTM_RS}
SIM=${2:?ntm-sim binary}
NTMD=${3:-}
NTMRS=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN, iptables)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
command -v pdns_server >/dev/null || skip "pdns_server not installed (scripts/setup.sh)"
ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1 || skip "pdns-backend-remote not installed"
for t in ip iptables nft dig python3 jq curl conntrack; do
  command -v "$t" >/dev/null || skip "$t not installed (scripts/setup.sh)"
done
if [ -z "$NTMD" ] || [ ! -x "$NTMD" ]; then skip "ntmd is not built yet"; fi
if [ -z "$NTMRS" ] || [ ! -x "$NTMRS" ]; then skip "ntm-rs is not built yet"; fi
[ -x "$SIM" ] || skip "ntm-sim is not built"

# shellcheck source-path=SCRIPTDIR source=topology.sh
. "$HERE/topology.sh"
# shellcheck source-path=SCRIPTDIR source=services.sh
. "$HERE/services.sh"
# shellcheck source-path=SCRIPTDIR source=mobility.sh
. "$HERE/mobility.sh"

P=${TB_PREFIX:-mb$$}
W=$(mktemp -d /tmp/ntm-mobility.XXXXXX)
chmod 711 "$W"  # the embedded cluster runs as postgres below it
RUNDIR=${RUNDIR:-$W}
mkdir -p "$RUNDIR"
TSV=$RUNDIR/mobility.tsv
ZONE=ntm.test
T0=$(date +%s.%N)
FAILS=0
PASSES=0
SUMMARY=()
PROBE=$HERE/probe.py
BULK_SIZE=3000000   # bytes
BULK_RATE=1000000   # bytes/s: the download lasts 3 s, the move comes after 1 s
PROBE_S=6           # probe streams, seconds; the move comes after 1 s

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
log() { echo "[$(since "$T0")s] $*"; }
nowns() { echo "${EPOCHREALTIME//[.,]/}000"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$DCPID" ] && kill -CONT "$DCPID" 2>/dev/null
  svc_stop_all
  topo_down "$P"
  rm -rf "$W/dc/postgres/data"  # the cluster itself (47 MB); its log stays
  echo "work dir (logs, mobility.tsv) kept in $W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*"
  for f in "$W"/dc.log "$W"/rs/rs.log "$W"/m/ntmd.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }
  done
  FAILS=$((FAILS + 1))
  exit 1
}

fqdn() { if [ "$1" = gh ]; then echo "$TOPO_GH_NAME"; else echo "$1.$ZONE"; fi; }

# ---- the world ---------------------------------------------------------------
topo_up "$P" || die "topology"
mob_add m || die "mob_add m"
mob_add m2 || die "mob_add m2"
mob_place m G || die "mob_place m G"
mob_place m2 A || die "mob_place m2 A"
log "topology $P up, mobile hosts m at $(mob_loc m) ${TOPO_IP[m]}, m2 at $(mob_loc m2) ${TOPO_IP[m2]}"

svc_dc_conf
svc_start_dc || die "ntm-dc"
NODES=(g1 a1 m m2)
for h in "${NODES[@]}"; do svc_enrol_node "$h" "$(fqdn "$h")" || die "node add $h"; done
svc_enrol_relay "rs.$ZONE" || die "relay add"
svc_start_pdns || die "pdns_server"
svc_start_rs || die "ntm-rs"
RSPID=${SVC_PIDS[-1]}
for h in gh g1 a1 m2; do
  ip netns exec "$TOPO_P-$h" "$TOPO_PY" "$HERE/bulk.py" 9100 >"$W/bulk-$h.log" 2>&1 &
  SVC_PIDS+=("$!")
done
for h in gh g1 a1 m2; do
  for i in $(seq 50); do
    tx "$h" ss -Hltn 'sport = :9100' | grep -q . && break
    sleep 0.1
  done
done
svc_start_ntmd "${NODES[@]}" || die "ntmd"
declare -A VIP
for h in "${NODES[@]}"; do
  VIP[$h]=$(svc_status "$h" | jq -r .vip)
  [ -n "${VIP[$h]}" ] || die "no VIP for $h"
done
log "DC, pdns, ntm-rs, ntmd on ${NODES[*]} ready; VIPs: m ${VIP[m]}, m2 ${VIP[m2]}, g1 ${VIP[g1]}, a1 ${VIP[a1]}"

check() {  # LABEL RESULT(0/1) DETAIL
  if [ "$2" -eq 0 ]; then
    PASSES=$((PASSES + 1)); echo "PASS $1: $3"
  else
    FAILS=$((FAILS + 1)); echo "FAIL $1: $3"
  fi
  SUMMARY+=("$([ "$2" -eq 0 ] && echo PASS || echo FAIL) $1")
}

# shellcheck source-path=SCRIPTDIR source=mobility_cases.sh
. "$HERE/mobility_cases.sh"

mob_tsv_header

act_twice() {  # LOC1 LOC2: m moves twice, 100 ms apart
  mob_place m "$1"
  T_MOVE=$MOB_T_START
  sleep 0.1
  mob_place m "$2"
  T_CONF=$MOB_T_CONFIGURED
}
act_both() {  # LOC-M LOC-M2: both ends, back to back
  mob_place m "$1"
  T_MOVE=$MOB_T_START
  mob_place m2 "$2"
  T_CONF=$MOB_T_CONFIGURED
}
DC_RESUMED_AFTER=2
act_dc_frozen() {  # LOC: the DC stopped (SIGSTOP) from just before the move to 2 s after
  kill -STOP "$DCPID"
  mob_place m "$1"
  T_MOVE=$MOB_T_START T_CONF=$MOB_T_CONFIGURED
  (sleep "$DC_RESUMED_AFTER"; kill -CONT "$DCPID") &
  DC_RESUME_PID=$!
}
act_natflush() {  # no move: NAT A forgets every binding
  T_MOVE=$(nowns)
  tx na conntrack -F >/dev/null 2>&1
  T_CONF=$(nowns)
}

# standby_switches: how many times m's path to a1 went onto its stand-by relay
standby_switches() {
  svc_status m | jq -r --arg p "$(fqdn a1)" '[.paths[] | select(.peer == $p)] | last | .moves.standby_switches // 0'
}

# check_standby_used NAME BEFORE: the case moved m's path to a1 onto its
# stand-by relay at least once more than BEFORE
check_standby_used() {
  local sw
  sw=$(standby_switches)
  [ "${sw:-0}" -gt "${2:-0}" ]
  check "$1: stand-by relay used" $? "m's path to a1 went onto its stand-by relay ${2:-?} -> ${sw:-?} times (expected more after the move)"
}
# check_off_relay NAME ROUTE WHAT: within 5 s, m's path to a1 is up on ROUTE
# and not through the relay
check_off_relay() {
  local back=1 sel
  sel='[.paths[] | select(.peer == $p)] | last'
  for _ in $(seq 50); do
    back=$(svc_status m | jq -r --arg p "$(fqdn a1)" --arg r "$2" "$sel | if .via_relay == false and .state == \"up\" and .route == \$r then 0 else 1 end")
    [ "$back" = 0 ] && break
    sleep 0.1
  done
  [ "$back" = 0 ]
  check "$1: $3" $? "m's path to a1 on $2, off the relay, within 5 s: $(svc_status m | jq -c --arg p "$(fqdn a1)" "$sel | {route, via_relay, state, relay_standby}")"
}

# restart_rs: ntm-rs stops (SIGTERM) and starts again with the same
# configuration; it has forgotten every path (the DC directs it anew).
restart_rs() {
  kill -TERM "$RSPID" 2>/dev/null
  wait "$RSPID" 2>/dev/null
  RS_STARTS=$((${RS_STARTS:-1} + 1))
  ip netns exec "$TOPO_P-rs" "$NTMRS" -c "$W/rs/relay.conf" run >"$W/rs/rs-$RS_STARTS.log" 2>&1 &
  RSPID=$!
  SVC_PIDS+=("$RSPID")
  svc_wait_for "$W/rs/rs-$RS_STARTS.log" 'ntm-rs ready' "$RSPID" 20
}

# path_epoch: the key epoch of m's path to a1
path_epoch() {
  svc_status m | jq -r --arg p "$(fqdn a1)" '[.paths[] | select(.peer == $p)] | last | .key_epoch'
}

# relay_standby: whether m's path to a1 counts its stand-by relay leg as up
relay_standby() {
  svc_status m | jq -r --arg p "$(fqdn a1)" '[.paths[] | select(.peer == $p)] | last | .relay_standby'
}

want_case() { [ -z "${MOB_ONLY:-}" ] || [[ " $MOB_ONLY " == *" $1 "* ]]; }

# ---- Table 1 -------------------------------------------------------------
ROWS=(
  "1 G G g1" "2 G G gh" "3 G A g1" "4 G A gh" "5 A G g1" "6 A G gh" "7 A A g1" "8 A A gh"
  "9 A B g1" "10 A B gh" "11 G G a1" "12 G A a1" "13 G B a1" "14 B G a1" "15 B A a1"
  "16 A B a1" "17 B C a1"
)
echo
log "Table 1: 17 movement patterns (m moves, the CN stays; route after the move per docs/route-decision.md)"
mob_table1_rows "${ROWS[@]}"

# ---- beyond Table 1 -------------------------------------------------------
echo
log "twice, both ends, DC frozen, staying in a private network, NAT bindings"
if want_case twice && prepare a1 G; then
  # G -> A -> G within 100 ms: a re-direction to direct_private may be in
  # flight when the second move comes; the path must end on the last one.
  CASE_HORIZON=0.5 run_case twice "G->A->G" a1 direct act_twice A G
  [ "$(mob_loc m)" = G ]
  check "twice: final place" $? "m at $(mob_loc m) (expected G)"
fi
if want_case both && prepare m2 G; then
  # m (G) and m2 (A) move at once: m behind NAT B, m2 to G -> direct.
  CASE_HORIZON=0.5 run_case both "G->B,m2:A->G" m2 direct act_both B G
fi
if want_case dcfrozen && prepare g1 G; then
  # The DC is stopped across the move: m and g1 must carry on by their own
  # Updates (one end global), within the 2 s before the DC resumes.
  CASE_BOUND_MS=$((DC_RESUMED_AFTER * 1000)) run_case dcfrozen "G->A(DC stopped ${DC_RESUMED_AFTER}s)" g1 direct act_dc_frozen A
  [ -n "${DC_RESUME_PID:-}" ] && wait "$DC_RESUME_PID"
  kill -CONT "$DCPID" 2>/dev/null
fi
if want_case dcfrozen_nat && prepare a1 G; then
  # Row 11 with the DC stopped: a1 (behind NAT A) filters m's new address
  # and only the DC could have a1 send first to it.  m goes on through the
  # path's stand-by relay ([route] standby_relay) at once, so the streams
  # recover long before the DC resumes; after it resumes, the DC's
  # re-direction brings the path back to direct.
  sw0=$(standby_switches)
  CASE_BOUND_MS=1000 run_case dcfrozen_nat "G->G2(DC stopped ${DC_RESUMED_AFTER}s)" a1 direct act_dc_frozen G2
  [ -n "${DC_RESUME_PID:-}" ] && wait "$DC_RESUME_PID"
  kill -CONT "$DCPID" 2>/dev/null
  check_standby_used dcfrozen_nat "$sw0"
  check_off_relay dcfrozen_nat direct "back to direct"
fi
if want_case privstay && prepare a1 A; then
  # m gets a new address in a1's network (A -> A2) on a direct_private
  # path: it cannot tell it stayed, so it goes onto the stand-by relay at
  # once, and the DC's re-direction puts the path back on the private route.
  sw0=$(standby_switches)
  run_case privstay "A->A2" a1 direct_private act_place m A2
  check_standby_used privstay "$sw0"
  check_off_relay privstay direct_private "back on the private route"
fi
if want_case rsrestart && prepare a1 G; then
  # Row 11's path (a1, behind NAT A, sends first) keeps a stand-by relay
  # leg.  The RS restarts and forgets the path.  Its first registration
  # (reason start) makes the DC direct the path again under the next key
  # epoch with the same relay (dc.md §8.4, "A relay that restarts"), so the
  # leg is back within a second, and the move after it goes onto the
  # stand-by relay at once as before the restart.  (Before 2026-12-02 the
  # leg stayed down, about 33 s after the restart m counted it as such,
  # and the move was held for one DC round.)
  [ "$(relay_standby)" = true ]
  check "rsrestart: stand-by leg up before" $? "m's path to a1: relay_standby $(relay_standby) (expected true)"
  e0=$(path_epoch)
  restart_rs
  check "rsrestart: ntm-rs restarted" $? "ntm-rs ready again (log $W/rs/rs-${RS_STARTS}.log)"
  t_rs=$(now)
  for _ in $(seq 50); do
    [ "$(path_epoch)" != "$e0" ] && [ "$(relay_standby)" = true ] && break
    sleep 0.1
  done
  [ "$(path_epoch)" != "$e0" ] && [ "$(relay_standby)" = true ]
  check "rsrestart: path directed again" $? "m's path to a1 under key epoch $(path_epoch) (was $e0), stand-by leg up: $(relay_standby), $(since "$t_rs") s after ntm-rs was ready (bound 5 s)"
  sw0=$(standby_switches)
  run_case rsrestart "G->G2 (RS restarted)" a1 direct act_place m G2
  check_standby_used rsrestart "$sw0"
fi
if want_case natflush && prepare g1 A; then
  # NAT A forgets its bindings while traffic flows both ways: m's next
  # packet opens a new one (maybe on another port: a1 may take m's), g1
  # follows by the roam rule.  Bound: 1 s.
  CASE_BOUND_MS=1000 run_case natflush "A (conntrack -F in NAT A)" g1 direct act_natflush
fi
if want_case natidle && prepare g1 A; then
  # The same with m silent towards g1 (only g1 -> m flows): g1's packets
  # are dropped at NAT A until m's path keepalive (every 15 s) opens a new
  # binding.  Bound: 15 s + 2 s.
  CASE_BACK_ONLY=1 CASE_PROBE_S=20 CASE_HORIZON=1 CASE_BOUND_MS=17000 \
    run_case natidle "A (conntrack -F, m idle)" g1 direct act_natflush
fi

# serve_echo PORT LOG: quiet_tcp.py's echo server on g1, listening when this returns
serve_echo() {
  tx g1 "$TOPO_PY" "$HERE/quiet_tcp.py" serve "$1" >"$2" 2>&1 &
  SVC_PIDS+=("$!")
  for _ in $(seq 50); do
    tx g1 ss -Hltn "sport = :$1" | grep -q . && break
    sleep 0.1
  done
}

# ---- a long blackout (docs/mobility.md §2, "Blackout") -----------------------
if want_case blackout && prepare g1 G; then
  # A move as a DHCP client makes it: m's address goes, and 1.2 s later m
  # has its new one (G2).  An interactive TCP session to g1 sends one line
  # 0.2 s into that.  ntmd keeps it and sends it when the route is back, so
  # the echo comes within ms of the new address.  Lost in the kernel
  # (ENETUNREACH), TCP would send it again only at its next retransmission
  # timeout (0.2, 0.6, 1.4 s after the first send): about 0.4 s after the
  # route is back.  Bound: 150 ms.
  echo
  log "blackout: m at $(mob_loc m), TCP m -> g1, 1.2 s without an address"
  serve_echo 9201 "$W/blackout-serve.log"
  holds0=$(path_of m "g1.$ZONE" | cut -d' ' -f3- | jq -r '.blackout_holds // 0')
  tx m "$TOPO_PY" "$HERE/quiet_tcp.py" late "g1.$ZONE" 9201 0.5 >"$W/blackout-talk.out" 2>&1 &
  talk_pid=$!
  for _ in $(seq 200); do
    grep -q connected "$W/blackout-talk.out" && break
    sleep 0.05
  done
  sleep 0.3
  ip -n "$TOPO_P-m" addr flush dev eth0
  t_flush=$(nowns)
  sleep 1.2
  mob_place m G2
  t_conf=$MOB_T_CONFIGURED
  wait "$talk_pid"
  talk_rc=$?
  read -r res send_ns echo_ns < <(tail -1 "$W/blackout-talk.out")
  holds1=$(path_of m "g1.$ZONE" | cut -d' ' -f3- | jq -r '.blackout_holds // 0')
  resume_ms=-
  if [ "$talk_rc" = 0 ] && [ "$res" = ok ]; then
    resume_ms=$(awk -v e="$echo_ns" -v c="$t_conf" 'BEGIN{printf "%.1f", (e - c) / 1e6}')
  fi
  [ "$resume_ms" != - ] && awk -v r="$resume_ms" 'BEGIN{exit !(r <= 150)}' &&
    awk -v s="${send_ns:-0}" -v f="$t_flush" -v c="$t_conf" 'BEGIN{exit !(s > f && s < c)}' &&
    [ "${holds1:-0}" -gt "${holds0:-0}" ]
  check "blackout: TCP resumes with the route" $? \
    "line sent $(awk -v s="${send_ns:-0}" -v f="$t_flush" 'BEGIN{printf "%.0f", (s - f) / 1e6}') ms into the blackout, echo $resume_ms ms after the new address was configured (bound 150; $(tail -1 "$W/blackout-talk.out")), m's blackout holds on the path $holds0 -> $holds1"
fi

# ---- idle paths (docs/node.md "Idle paths") --------------------------------
if want_case idle; then
  # Last, because m and g1 restart with path_idle_s = 4: a TCP connection
  # between them over the VIPs goes quiet for 10 s; the path is let go at
  # both ends and at the DC, and the connection's next bytes (a packet
  # into m's TUN with no tunnel) bring it back under a new path ID with the
  # same VIPs, so the connection goes on without a reset.
  echo
  log "idle: m ($(mob_loc m)) and g1 with path_idle_s = 4"
  for h in m g1; do
    sed -i '/^\[ntmd\]/a path_idle_s = 4' "$W/$h/node.conf"
    restart_ntmd "$h"
  done
  wait_registered m "$(mob_loc m)" 15 && wait_cn_registered g1 15
  check "idle: ntmd restarted" $? "m and g1 registered again with path_idle_s = 4"
  serve_echo 9200 "$W/idle-serve.log"
  rel0=$(svc_status m | jq -r .paths_released)
  tx m "$TOPO_PY" "$HERE/quiet_tcp.py" talk "g1.$ZONE" 9200 10 >"$W/idle-talk.out" 2>&1 &
  talk_pid=$!
  for _ in $(seq 100); do
    grep -q connected "$W/idle-talk.out" && break
    sleep 0.1
  done
  grep -q connected "$W/idle-talk.out"
  check "idle: connected over the path" $? "m -> g1.$ZONE:9200: $(head -1 "$W/idle-talk.out")"
  t_quiet=$(now)
  # 4 s without data, the next housekeeping tick, the release: 7 s is ample.
  sleep 7
  js_m=$(svc_status m)
  js_g=$(svc_status g1)
  n_m=$(jq -r --arg p "g1.$ZONE" '[.paths[] | select(.peer == $p)] | length' <<<"$js_m")
  n_g=$(jq -r --arg p "m.$ZONE" '[.paths[] | select(.peer == $p)] | length' <<<"$js_g")
  rel_m=$(jq -r .paths_released <<<"$js_m")
  [ "$n_m" = 0 ] && [ "$n_g" = 0 ] && [ "$rel_m" -gt "$rel0" ] && grep -q "released by" "$W/dc.log"
  check "idle: let go at both ends and the DC" $? \
    "after $(since "$t_quiet") s quiet: m's paths to g1 $n_m, g1's to m $n_g (expected 0 and 0), m released $rel0 -> $rel_m, DC: $(grep -c 'released by' "$W/dc.log") releases"
  wait "$talk_pid"
  talk_rc=$?
  js_m=$(svc_status m)
  read -r route state _ < <(path_of m "g1.$ZONE")
  [ "$talk_rc" = 0 ] && [ "$(jq -r .paths_revived <<<"$js_m")" -ge 1 ] && [ "$state" = up ]
  check "idle: the same connection goes on" $? \
    "m -> g1 after 10 s quiet: '$(tail -1 "$W/idle-talk.out")', paths_revived $(jq -r .paths_revived <<<"$js_m"), path $route $state"
fi

echo
echo "== mobility ($P, $(since "$T0") s; $TSV; gaps in ms, '-' = no data)"
column -t -s $'\t' "$TSV"
echo
printf '  %s\n' "${SUMMARY[@]}"
echo "mobility: $PASSES passed, $FAILS failed"

if [ "${KEEP:-0}" = 1 ]; then
  echo
  echo "KEEP=1: the world stays up. Work dir $W. Try:"
  echo "  . $HERE/topology.sh; . $HERE/mobility.sh   # then TOPO_P=$P, but MOB_* state is this shell's"
  echo "  ip netns exec $P-m curl http://g1.$ZONE:8080/"
  echo "  $NTMD -c $W/m/node.conf status --json | jq ."
  echo "Ctrl-C tears everything down."
  while :; do sleep 3600; done
fi
[ "$FAILS" -eq 0 ]
