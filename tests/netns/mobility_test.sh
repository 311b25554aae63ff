#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The testbed's moves: the 17 movement patterns of the paper's Table 1, each
# with a TCP download and a 1 ms UDP probe stream running across the move,
# plus a double move, both ends moving, a move while the DC is frozen and
# expiring NAT bindings (docs/testbed.md §5).
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
#                 both, dcfrozen, natflush, natidle)
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
for h in gh g1 a1 m2; do
  ip netns exec "$TOPO_P-$h" python3 "$HERE/bulk.py" 9100 >"$W/bulk-$h.log" 2>&1 &
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

# path_of HOST PEER-FQDN: "route state moves-json" of HOST's last path to PEER
path_of() {
  svc_status "$1" | jq -r --arg p "$2" \
    '[.paths[] | select(.peer == $p)] | last | if . == null then "none none {}" else
     "\(.route) \(.state) \(.moves | tojson)" end' 2>/dev/null || echo "none none {}"
}

# wait_path HOST PEER WANT SECS: until HOST's path to PEER is up (with route
# WANT unless WANT is "-"); prints "route state"
wait_path() {
  local i r s rest
  for ((i = 0; i < $4 * 10; i++)); do
    read -r r s rest < <(path_of "$1" "$2")
    if [ "$s" = up ] && { [ "$3" = - ] || [ "$r" = "$3" ]; }; then
      echo "$r $s"
      return 0
    fi
    sleep 0.1
  done
  echo "$r $s"
  return 1
}

# observed_for LOC: the address the DC sees m at from LOC
observed_for() {
  case $1 in
    G | G2) mob_addr m "$1" ;;
    A | A2) echo "${TOPO_WAN[a]}" ;;
    B) echo "${TOPO_WAN[b]}" ;;
    C) echo "${TOPO_WAN[c]}" ;;
    D) echo "${TOPO_WAN[d]}" ;;
  esac
}

# wait_registered HOST LOC SECS: until HOST's ntmd is registered and the DC
# has seen it from LOC's address
wait_registered() {
  local i want js
  want=$(observed_for "$2")
  for ((i = 0; i < $3 * 10; i++)); do
    js=$(svc_status "$1")
    if [ "$(jq -r '"\(.registered) \(.observed | split(":")[0])"' <<<"$js" 2>/dev/null)" = "true $want" ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# restart_ntmd HOST: the recovery when a placement move left HOST unusable
restart_ntmd() {
  local pid
  for pid in $(ip netns pids "$TOPO_P-$1"); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^$NTMD "; then
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null
    fi
  done
  echo "--- restart" >>"$W/$1/ntmd.log"
  ip netns exec "$TOPO_P-$1" "$NTMD" -c "$W/$1/node.conf" run >>"$W/$1/ntmd.log" 2>&1 &
  SVC_PIDS+=("$!")
}

# route_for LOC-OF-MN CN LOC-OF-CN: docs/route-decision.md for a placement
route_for() {
  local a=$1 cn=$2 b=$3
  if [ "$cn" = gh ]; then echo relay_general; return; fi
  case $a in G*) echo direct; return ;; esac
  case $b in G*) echo direct; return ;; esac
  if [ "${a:0:1}" = "${b:0:1}" ]; then echo direct_private; else echo relay; fi
}
cn_loc() {
  case $1 in
    g1 | gh) echo G ;;
    a1) echo A ;;
    m2) mob_loc m2 ;;
  esac
}

# prepare CN LOC: m at LOC (a placement move when it is elsewhere), the CN's
# name resolved on m and the path up.  Prints a note on recovery.
PREP_NOTE=""
prepare() {
  local cn=$1 loc=$2 name vip
  name=$(fqdn "$cn")
  PREP_NOTE=""
  if [ "$(mob_loc m)" != "$loc" ]; then
    mob_place m "$loc" || return 1
    if ! wait_registered m "$loc" 10; then
      PREP_NOTE="placement at $loc: not registered after 10 s, ntmd restarted;"
      restart_ntmd m
      wait_registered m "$loc" 15 || return 1
    fi
  fi
  vip=$(tx m dig +short +time=8 +tries=1 "$name" A 2>/dev/null | tail -1)
  if [ -z "$vip" ] || ! wait_path m "$name" - 8 >/dev/null; then
    PREP_NOTE+=" path to $name not up at $loc (vip '${vip}'), ntmd restarted;"
    restart_ntmd m
    wait_registered m "$loc" 15 || return 1
    vip=$(tx m dig +short +time=8 +tries=1 "$name" A 2>/dev/null | tail -1)
    [ -n "$vip" ] && wait_path m "$name" - 8 >/dev/null || return 1
  fi
  CN_VIP=$vip
}

# gapof FILE T_MOVE T_CONF [HORIZON]: "gap_ms from_configured_ms lost recovered"
gapof() {
  if [ ! -s "$1" ]; then echo "- - - false"; return; fi
  python3 "$PROBE" gap "$1" "$2" "$3" --horizon "${4:-1}" |
    jq -r '"\(.gap_ms // "-") \(.from_configured_ms // "-") \(.lost) \(.recovered)"'
}

printf 'case\tmove\tcn\troute_before\troute_after\tgap_ms\tfrom_configured_ms\tlost\tgap_back_ms\tfrom_configured_back_ms\tlost_back\ttransfer\tupdates\tredirects\tresult\n' >"$TSV"

# run_case ID MOVE-TEXT CN WANT-AFTER ACTION...: the traffic, the ACTION (a
# function run in this shell: it sets T_MOVE and T_CONF), the checks.
#   CASE_BOUND_MS  if set: the probe streams must recover within this (gap)
#   CASE_BACK_ONLY if 1: no m -> CN stream and no download (idle MN)
#   CASE_HORIZON   probe.py gap --horizon (s)
T_MOVE=0 T_CONF=0
run_case() {
  local id=$1 mv=$2 cn=$3 want=$4 name d spids=() rpids=() cpid spid rb ra sa ma
  shift 4
  name=$(fqdn "$cn")
  d=$W/case-$id
  mkdir -p "$d"
  read -r rb _ < <(path_of m "$name")
  local back=1 fwd=1
  [ "$cn" = gh ] && back=0
  [ "${CASE_BACK_ONLY:-0}" = 1 ] && fwd=0
  local secs=$PROBE_S
  [ "${CASE_BACK_ONLY:-0}" = 1 ] && secs=${CASE_PROBE_S:-$PROBE_S}
  if [ "$fwd" = 1 ]; then
    ip netns exec "$TOPO_P-$cn" python3 "$PROBE" recv 0.0.0.0 9000 $((secs + 4)) "$d/fwd.txt" &
    rpids+=("$!")
  fi
  if [ "$back" = 1 ]; then
    ip netns exec "$TOPO_P-m" python3 "$PROBE" recv 0.0.0.0 9001 $((secs + 4)) "$d/back.txt" &
    rpids+=("$!")
  fi
  sleep 0.3
  if [ "$fwd" = 1 ]; then
    ip netns exec "$TOPO_P-m" python3 "$PROBE" send "$CN_VIP" 9000 1 "$secs" 2>"$d/fwd.send" &
    spids+=("$!")
    ip netns exec "$TOPO_P-m" curl -s -o /dev/null --max-time 20 -w '%{size_download}' \
      "http://$name:9100/$BULK_SIZE?rate=$BULK_RATE" >"$d/curl.out" 2>&1 &
    cpid=$!
  fi
  if [ "$back" = 1 ]; then
    ip netns exec "$TOPO_P-$cn" python3 "$PROBE" send "${VIP[m]}" 9001 1 "$secs" 2>"$d/back.send" &
    spids+=("$!")
  fi
  sleep 1
  "$@"
  local tmove=$T_MOVE tconf=$T_CONF want_ok=0 t
  echo "t_move_ns $tmove t_configured_ns $tconf" >"$d/times"
  t=$(now)
  local wout
  wout=$(wait_path m "$name" "$want" 12) || want_ok=1
  read -r ra sa <<<"$wout"
  local t_up
  t_up=$(since "$t")
  ma=$(path_of m "$name" | cut -d' ' -f3-)
  [ -n "$ma" ] || ma='{}'
  local crc=0 got="" transfer="-"
  if [ -n "${cpid:-}" ]; then
    wait "$cpid"
    crc=$?
    got=$(cat "$d/curl.out")
    transfer="$got/$BULK_SIZE"
    [ "$crc" -ne 0 ] && transfer+=",curl-exit-$crc"
  fi
  for spid in "${spids[@]}"; do wait "$spid"; done
  sleep 0.5
  for spid in "${rpids[@]}"; do kill -TERM "$spid" 2>/dev/null; wait "$spid"; done
  local gf=(- - - -) gb=(- - - -)
  [ "$fwd" = 1 ] && read -r -a gf < <(gapof "$d/fwd.txt" "$tmove" "$tconf" "${CASE_HORIZON:-1}")
  [ "$back" = 1 ] && read -r -a gb < <(gapof "$d/back.txt" "$tmove" "$tconf" "${CASE_HORIZON:-1}")
  local rc=0 why=()
  if [ "$want_ok" -ne 0 ]; then rc=1; why+=("route ${ra:-none} ${sa:-} after 12 s, expected $want up"); fi
  if [ "$fwd" = 1 ] && { [ "$crc" -ne 0 ] || [ "$got" != "$BULK_SIZE" ]; }; then
    rc=1; why+=("download $transfer (curl exit $crc)")
  fi
  if [ "$fwd" = 1 ] && [ "${gf[3]}" != true ]; then rc=1; why+=("probes m->CN did not recover"); fi
  if [ "$back" = 1 ] && [ "${gb[3]}" != true ]; then rc=1; why+=("probes CN->m did not recover"); fi
  if [ -n "${CASE_BOUND_MS:-}" ]; then
    local g
    for g in "${gf[0]}" "${gb[0]}"; do
      if [ "$g" != - ] && awk -v g="$g" -v b="$CASE_BOUND_MS" 'BEGIN{exit !(g > b)}'; then
        rc=1; why+=("gap $g ms over the bound $CASE_BOUND_MS ms")
      fi
    done
  fi
  local upd red
  upd=$(jq -r '"\(.updates_answered // 0)/\(.updates_sent // 0)"' <<<"$ma" 2>/dev/null)
  red=$(jq -r '.redirects // 0' <<<"$ma" 2>/dev/null)
  local res=PASS
  [ "$rc" -ne 0 ] && res=FAIL
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$mv" "$cn" "${rb:-none}" "${ra:-none}" \
    "${gf[0]}" "${gf[1]}" "${gf[2]}" "${gb[0]}" "${gb[1]}" "${gb[2]}" "$transfer" "${upd:--}" "${red:--}" "$res" >>"$TSV"
  local detail="m $mv, CN $cn: route ${rb:-none} -> ${ra:-none} ${sa:-} (expected $want, up after ${t_up} s), download ${transfer}"
  detail+=", m->CN gap ${gf[0]} ms from-configured ${gf[1]} ms lost ${gf[2]}"
  [ "$back" = 1 ] && detail+=", CN->m gap ${gb[0]} ms from-configured ${gb[1]} ms lost ${gb[2]}"
  detail+=", on the path so far: updates answered/sent $upd, re-directions $red"
  [ -n "$PREP_NOTE" ] && detail+=" [$PREP_NOTE]"
  [ "${#why[@]}" -gt 0 ] && detail+=" -- ${why[*]}"
  check "case $id" "$rc" "$detail"
  if [ "$rc" -ne 0 ]; then
    echo "    --- m ntmd status: $(svc_status m | jq -c --arg p "$name" '{registered, observed, moves, paths: [.paths[] | select(.peer == $p)]}' 2>/dev/null)"
    echo "    --- m/ntmd.log"; tail -8 "$W/m/ntmd.log" | sed 's/^/    /'
    [ "$cn" != gh ] && { echo "    --- $cn/ntmd.log"; tail -5 "$W/$cn/ntmd.log" | sed 's/^/    /'; }
    echo "    --- dc.log"; grep -i 'direction\|redirect\|move\|update' "$W/dc.log" | tail -4 | sed 's/^/    /'
  fi
}

act_place() {  # HOST LOC
  mob_place "$1" "$2" || echo "mob_place $1 $2 failed" >&2
  T_MOVE=$MOB_T_START T_CONF=$MOB_T_CONFIGURED
}
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

want_case() { [ -z "${MOB_ONLY:-}" ] || [[ " $MOB_ONLY " == *" $1 "* ]]; }

# ---- Table 1 -------------------------------------------------------------
# row FROM-CLASS TO-CLASS CN: FROM and TO as the paper's G/A/B/C; the
# concrete places keep moves short (G -> G is G -> G2 or back, A -> A a new
# address in A; A -> B keeps 192.168.1.20 on purpose).
conc_from() {  # CLASS TO-CLASS
  local cur
  cur=$(mob_loc m)
  case $1 in
    G) case $cur in G | G2) echo "$cur" ;; *) echo G ;; esac ;;
    A) if [ "$2" = B ]; then echo A; else case $cur in A | A2) echo "$cur" ;; *) echo A ;; esac; fi ;;
    *) echo "$1" ;;
  esac
}
conc_to() {  # CLASS FROM-CONCRETE
  case $1 in
    G) case $2 in G) echo G2 ;; *) echo G ;; esac ;;
    A) case $2 in A) echo A2 ;; *) echo A ;; esac ;;
    *) echo "$1" ;;
  esac
}
ROWS=(
  "1 G G g1" "2 G G gh" "3 G A g1" "4 G A gh" "5 A G g1" "6 A G gh" "7 A A g1" "8 A A gh"
  "9 A B g1" "10 A B gh" "11 G G a1" "12 G A a1" "13 G B a1" "14 B G a1" "15 B A a1"
  "16 A B a1" "17 B C a1"
)
echo
log "Table 1: 17 movement patterns (m moves, the CN stays; route after the move per docs/route-decision.md)"
for row in "${ROWS[@]}"; do
  read -r n fc tc cn <<<"$row"
  want_case "$n" || continue
  from=$(conc_from "$fc" "$tc")
  to=$(conc_to "$tc" "$from")
  if ! prepare "$cn" "$from"; then
    check "case $n" 1 "m $from->$to, CN $cn: could not set up the path at $from ($PREP_NOTE)"
    printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tFAIL\n' "$n" "$from->$to" "$cn" >>"$TSV"
    continue
  fi
  run_case "$n" "$from->$to" "$cn" "$(route_for "$to" "$cn" "$(cn_loc "$cn")")" act_place m "$to"
done

# ---- beyond Table 1 -------------------------------------------------------
echo
log "twice, both ends, DC frozen, NAT bindings"
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
