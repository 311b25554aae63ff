#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mobility benchmark (issue 6): the handover gap of ntmd for each pattern of
# the paper's Table 1, next to Debian's Nebula (1.6.1) doing the same moves
# in the same world, one after the other, never at once.
#
# World: tests/netns/topology.sh (G; NATs A, B, C; the DC, pdns and ntm-rs in
# G) plus one mobile host m (tests/netns/mobility.sh: `mob_place m LOC` moves
# its cable to G, G2, A, A2, B or C and configures the new address and
# route).  Correspondents: g1 (ntmd, in G), gh (general host in G, no
# NTMobile software), a1 (ntmd, behind NAT A).  Nebula's lighthouse, which
# is also its relay, runs in an extra namespace lh on G (bench/mobility/).
#
# Each pattern is a move FROM -> TO of m with one CN (Table 1 rows 1-17, in
# PATTERN_* below).  While m moves back and forth ROUNDS times, a UDP probe
# stream runs m -> CN over the virtual addresses (ntmd's VIP from ntmd's
# resolver; Nebula's overlay address), one 64-byte datagram every
# INTERVAL_MS (1), tests/netns/probe.py send/recv (the receiver keeps the
# kernel's receive timestamps); unless BOTH_WAYS=0 a second stream runs CN ->
# m at the same time, to m's virtual address (a call: both directions; not
# with the general host, which has no virtual address to send to).  A pattern whose reverse move is another
# selected pattern (3/5, 4/6, 13/14, 15/16) shares its stream with it; the
# other patterns' reverse moves are measured too and reported as "reverse".
# After each move the script starts nothing for QUIET_MS (250): every
# process it starts takes a core's worth of time from the two systems on a
# 2-core machine, and an `ntmd status | jq` (the route check below) stalls
# the probe stream by ~4 ms as any other program start does (measured:
# docs/benchmarks.md, "The bench's own stall").  Then it waits until the
# CN's interface counter shows the stream flowing again (at most
# *_MAX_WAIT_S), then HOLD_MS more, and keeps at least *_SPACING_S between
# moves (Nebula suppresses a second roam of a peer within 2 s).  Per move,
# `probe.py gap` on the stretch of the receive log around it gives
#   gap       last probe delivered before the outage -> first delivered
#             after it (the route change as an application sees it): the
#             largest silence that begins within QUIET_MS of the move (one
#             that begins there and lasts longer is counted whole);
#   from-configured  from MOB_T_CONFIGURED (new address and default route
#             in place) to the first delivered probe sent after it: what
#             the software adds once the network is there; split into
#             when that probe was sent (the pacing: 0 to INTERVAL_MS when
#             no probe after the moment was lost) and its one-way delay;
#   lost, reordered, and the route the MN's path has afterwards (ntmd
#   status; for Nebula "relay" if the lighthouse/relay's interface saw the
#   stream during the hold, else "direct").
# Per pattern: median and worst of the FROM -> TO moves.  Targets (from the
# configured moment, median and worst): <= 50 ms on direct routes, <= 100
# ms on relayed ones.  Nebula cannot reach a general host: rows 2, 4, 6, 8,
# 10 are n/a for it.
#
# Network safety: every namespace is made here (prefix NS_PREFIX, default
# mob<pid>), every veth inside them (topology.sh, mobility.sh), every
# address lives inside them.  The EXIT trap stops every process started
# here by PID and deletes the namespaces and /etc/netns/PREFIX-*.
#
# Environment:
#   ROUNDS (10: FROM -> TO moves per pattern), QUICK (1: ROUNDS=3 and
#   PATTERNS="1 2 3 13" unless set), PATTERNS (all: "1 3 13" picks rows),
#   NEBULA (1; 0 skips Nebula), NTM (1; 0 skips ntmd), ORDER (ntm-first;
#   neb-first runs Nebula's half first), INTERVAL_MS (1),
#   PRE_S (1: stream before the first move), QUIET_MS (250), HOLD_MS (300),
#   BOTH_WAYS (1: the CN -> m stream too),
#   NTM_SPACING_S (1), NEB_SPACING_S (2.5), NTM_MAX_WAIT_S (5),
#   NEB_MAX_WAIT_S (30), NEB_LH_INTERVAL (10: lighthouse.interval),
#   SNAPSHOT (0; 1: build the committed HEAD plus the working tree's bench/
#   and write docs/bench-runs/mobility-<date>.txt), KEEP (1 keeps the work
#   directory), NS_PREFIX, BUILD_DIR (<repo>/build/bench),
#   NTMD_BIN, NTMRS_BIN, DC_BIN, SIM_BIN (use these instead of building;
#   CODE_DESC says what they are), BUILD_ONLY (1: build, then stop).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
if [[ ${QUICK:-0} == 1 ]]; then
  : "${ROUNDS:=3}" "${PATTERNS:=1 2 3 13}"
fi
rounds=${ROUNDS:-10}
patterns=${PATTERNS:-1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17}
do_neb=${NEBULA:-1}
do_ntm=${NTM:-1}
order=${ORDER:-ntm-first}
[[ $order == ntm-first || $order == neb-first ]] || { echo "run_mobility_bench.sh: ORDER must be ntm-first or neb-first" >&2; exit 1; }
iv_ms=${INTERVAL_MS:-1}
pre_s=${PRE_S:-1}
hold_ms=${HOLD_MS:-300}
quiet_ms=${QUIET_MS:-250}
both_ways=${BOTH_WAYS:-1}
declare -A m_vip=()  # SYS -> m's virtual address, where the CN -> m stream goes
keep=${KEEP:-0}
P=${NS_PREFIX:-mob$$}
declare -A spacing_s=([ntm]=${NTM_SPACING_S:-1} [neb]=${NEB_SPACING_S:-2.5})
declare -A max_wait_s=([ntm]=${NTM_MAX_WAIT_S:-5} [neb]=${NEB_MAX_WAIT_S:-30})
port=9000

die() { echo "run_mobility_bench.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (network namespaces, TUN devices)"
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing"
[[ $P =~ ^[a-z][a-z0-9]{1,9}$ ]] || die "NS_PREFIX '$P' must be 2-10 of [a-z0-9], starting with a letter"
((rounds >= 1)) || die "ROUNDS must be >= 1"
if ! [[ $quiet_ms =~ ^[0-9]+$ ]] || ((quiet_ms < 50)); then die "QUIET_MS must be a whole number >= 50"; fi

# --- the patterns: Table 1 (docs/route-decision.md) ------------------------------
#            row  from to  CN  route expected here   paper
PATTERN_ROWS=(
  "1  G  G2 g1 direct         end-to-end"
  "2  G  G2 gh relay_general  relay"
  "3  G  A  g1 direct         end-to-end"
  "4  G  A  gh relay_general  relay"
  "5  A  G  g1 direct         end-to-end"
  "6  A  G  gh relay_general  relay"
  "7  A  A2 g1 direct         end-to-end"
  "8  A  A2 gh relay_general  relay"
  "9  A  B  g1 direct         end-to-end"
  "10 A  B  gh relay_general  relay"
  "11 G  G2 a1 direct         end-to-end"
  "12 G  A  a1 direct_private relay"
  "13 G  B  a1 relay          relay"
  "14 B  G  a1 direct         end-to-end"
  "15 B  A  a1 direct_private relay/end-to-end"
  "16 A  B  a1 relay          relay"
  "17 B  C  a1 relay          relay"
)
declare -A PFROM=() PTO=() PCN=() PROUTE=()  # the paper's route is for reading only
for line in "${PATTERN_ROWS[@]}"; do
  read -r n f t c r _ <<<"$line"
  PFROM[$n]=$f PTO[$n]=$t PCN[$n]=$c PROUTE[$n]=$r
done
# the route the DC gives after a move depends on the placement after it only
# (docs/route-decision.md): expected_route LOC CN
expected_route() {
  case $2:$1 in
    gh:*) echo relay_general ;;
    g1:*) echo direct ;;
    a1:G | a1:G2) echo direct ;;
    a1:A | a1:A2) echo direct_private ;;
    *) echo relay ;;
  esac
}
sel=()
for n in $patterns; do
  [[ -n ${PFROM[$n]:-} ]] || die "PATTERNS: no pattern '$n' (1-17)"
  sel+=("$n")
done
is_sel() { local x; for x in "${sel[@]}"; do [[ $x == "$1" ]] && return 0; done; return 1; }
# Sequences: "P Q" (Q the selected pattern that is P's reverse) or "P -".
seqs=()
declare -A done_p=()
for n in "${sel[@]}"; do
  [[ -n ${done_p[$n]:-} ]] && continue
  done_p[$n]=1
  q=-
  for m in "${sel[@]}"; do
    if [[ -z ${done_p[$m]:-} && ${PFROM[$m]} == "${PTO[$n]}" && ${PTO[$m]} == "${PFROM[$n]}" && ${PCN[$m]} == "${PCN[$n]}" ]]; then
      q=$m
      done_p[$m]=1
      break
    fi
  done
  seqs+=("$n $q")
done

# --- packages and binaries ----------------------------------------------------------
need=()
pkgs=(jq iproute2 dnsutils)
[[ $do_neb == 1 ]] && pkgs+=(nebula)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "installing ${need[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi
for tool in ip jq dig python3 awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [[ $do_ntm == 1 ]]; then
  command -v pdns_server >/dev/null || die "pdns_server not installed (scripts/setup.sh)"
fi
if [[ $do_neb == 1 ]] && ! { command -v nebula >/dev/null && command -v nebula-cert >/dev/null; }; then die "nebula not found"; fi

# (with SNAPSHOT=1 its `cp bench/*` skips bench/mobility/, a directory, and
# fails: harmless, the Nebula helper is taken from the working tree's bench/)
snapshot_source "$root" "$build" || true
if [[ $do_ntm == 1 && -z ${NTMD_BIN:-} ]]; then
  log=$build/mobility-bench-build.log
  if ! { cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$build" -j2 --target ntm-dc ntm-sim ntmd ntm-rs; } >"$log" 2>&1; then
    tail -40 "$log" >&2
    die "build failed (log $log)"
  fi
fi
if [[ ${BUILD_ONLY:-0} == 1 ]]; then echo "built in $build ($code_desc)" >&2; exit 0; fi
dc_bin=${DC_BIN:-$build/dc/ntm-dc}
ntmd_bin=${NTMD_BIN:-$build/node/ntmd}
rs_bin=${NTMRS_BIN:-$build/relay/ntm-rs}
if [[ $do_ntm == 1 ]]; then
  for b in "$dc_bin" "$ntmd_bin" "$rs_bin"; do [[ -x $b ]] || die "$b is not an executable"; done
fi
[[ -n ${CODE_DESC:-} ]] && code_desc=$CODE_DESC
[[ -n $code_desc ]] || code_desc="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- node relay dc common wire 2>/dev/null || echo ' + uncommitted changes in node/relay/dc/common/wire')"
netns_dir=$src/tests/netns
[[ -f $netns_dir/mobility.sh && -f $netns_dir/probe.py ]] ||
  die "tests/netns/mobility.sh or probe.py missing in $src (not committed yet?)"

# --- clean-up, whatever happens -------------------------------------------------------
W=$(mktemp -d /tmp/ntm-mobility-bench.XXXXXX)
chmod 711 "$W"  # the DC's embedded cluster runs as postgres below it
res=$W/results
mkdir -p "$res"
declare -A pid_of=()
# shellcheck source=tests/netns/topology.sh
. "$netns_dir/topology.sh"
# shellcheck source=tests/netns/services.sh
. "$netns_dir/services.sh"
# shellcheck source=tests/netns/mobility.sh
. "$netns_dir/mobility.sh"
# shellcheck source=bench/mobility/nebula.sh
. "$root/bench/mobility/nebula.sh"
probe=$netns_dir/probe.py

stop_pid() {  # stop_pid PID: SIGTERM, wait up to 5 s, SIGKILL
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? n
  trap - EXIT
  for n in "${!pid_of[@]}"; do stop_pid "${pid_of[$n]}"; done
  neb_stop_all
  svc_stop_all
  topo_down "$P"
  if [[ $keep == 1 || $rc -ne 0 ]]; then
    rm -rf "$W/dc/postgres/data"
    echo "work directory kept: $W" >&2
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { echo "${EPOCHREALTIME//[.,]/}000"; }
say() { echo "  $(date -u +%H:%M:%S) $*" >&2; }
t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the world --------------------------------------------------------------------------
ZONE=ntm.test
DC_BIN=$dc_bin NTMD=$ntmd_bin NTMRS=$rs_bin
topo_up "$P" || die "topology"
mob_add m
first_from=${PFROM[${seqs[0]%% *}]}
mob_place m "$first_from"
[[ $do_neb == 1 ]] && { neb_lh_host || die "lighthouse namespace"; }

fqdn() { if [[ $1 == gh ]]; then echo "$TOPO_GH_NAME"; else echo "$1.$ZONE"; fi; }

# rx_packets HOST DEV [TX]: the interface's receive (or transmit) packet
# counter in HOST's namespace
rx_packets() {
  ip -n "$TOPO_P-$1" -s -o link show dev "$2" 2>/dev/null |
    awk -F'\\' -v w="${3:-RX}:" '{ for (i = 1; i <= NF; i++) if (index($i, w)) { split($(i + 1), a, " "); print a[2]; exit } }'
}
# cn_dev SYS CN: where the CN's probes arrive
cn_dev() {
  if [[ $1 == neb ]]; then echo nebula1; elif [[ $2 == gh ]]; then echo eth0; else echo ntm0; fi
}

# wait_flow SYS CN SINCE_NS: until the CN receives the stream again (an
# increase of at least a third of the stream's rate over a 50 ms poll);
# prints the wall clock (ns) of that poll, or 0 after max_wait_s.
wait_flow() {
  local sys=$1 cn=$2 dev c0 c1 t deadline need
  dev=$(cn_dev "$sys" "$cn")
  need=$(awk -v iv="$iv_ms" 'BEGIN { n = int(50 / iv / 3); print n < 2 ? 2 : n }')
  deadline=$(($3 + $(awk -v s="${max_wait_s[$sys]}" 'BEGIN { printf "%.0f", s * 1e9 }')))
  c0=$(rx_packets "$cn" "$dev")
  while :; do
    sleep 0.05
    c1=$(rx_packets "$cn" "$dev")
    t=$(now_ns)
    if [[ -n $c0 && -n $c1 ]] && ((c1 - c0 >= need)); then echo "$t"; return 0; fi
    c0=$c1
    ((t < deadline)) || { echo 0; return 0; }
  done
}

# quiet_until NS: sleeps until then with one fork (the sleep) and no other
# process: the window in which a move's gap is measured.
quiet_until() {
  local now=${EPOCHREALTIME//[.,]/} d
  d=$(($1 / 1000 - now))
  ((d > 0)) || return 0
  printf -v d '%d.%06d' $((d / 1000000)) $((d % 1000000))
  sleep "$d"
}

# sleep_until NS
sleep_until() {
  local d
  d=$(awk -v a="$1" -v b="$(now_ns)" 'BEGIN { d = (a - b) / 1e9; if (d > 0) printf "%.3f", d; else print 0 }')
  [[ $d == 0 ]] || sleep "$d"
}

# --- ntmd -------------------------------------------------------------------------------
ntm_failed=""
ntm_world_up() {  # non-zero with ntm_failed set: the Nebula half still runs
  svc_dc_conf
  svc_start_dc || { ntm_failed="ntm-dc did not start"; return 1; }
  local h
  for h in m g1 a1; do svc_enrol_node "$h" "$h.$ZONE" || { ntm_failed="node add $h failed"; return 1; }; done
  svc_enrol_relay "rs.$ZONE" || { ntm_failed="relay add failed"; return 1; }
  svc_start_pdns || { ntm_failed="pdns_server did not start"; return 1; }
  svc_start_rs || { ntm_failed="ntm-rs did not start"; return 1; }
  svc_start_ntmd m g1 a1 || { ntm_failed="ntmd did not get ready"; return 1; }
}
ntmd_path() {  # ntmd_path PEER_FQDN: "route state" of m's newest path to it
  svc_status m | jq -r --arg p "$1" '[.paths[]? | select(.peer == $p)] | last | "\(.route // "none") \(.state // "none")"' 2>/dev/null || echo "? ?"
}
# ntm_target CN: the CN's VIP from m's resolver, once the path is up (sets up
# the path); empty on failure
ntm_target() {
  local name vip i rs
  name=$(fqdn "$1")
  for ((i = 0; i < 10; i++)); do
    vip=$(tx m dig +short +time=5 +tries=1 @127.0.0.53 "$name" A 2>/dev/null | grep -E '^[0-9.]+$' | head -1 || true)
    if [[ -n $vip ]]; then
      read -r _ rs < <(ntmd_path "$name")
      [[ $rs == up ]] && { echo "$vip"; return 0; }
    fi
    sleep 0.5
  done
  echo "$vip"
}

# --- Nebula -----------------------------------------------------------------------------
neb_world_up() {
  neb_setup "$W/nebula" lh m g1 a1 || die "nebula set-up"
  neb_start lh lh || die "nebula lh"
  local h
  for h in g1 a1 m; do neb_start "$h" "$h" || die "nebula $h"; done
}
neb_target() {  # neb_target CN: its overlay address, once m can ping it
  local i
  for ((i = 0; i < 30; i++)); do
    tx m ping -n -c 1 -W 1 "${NEB_VIP[$1]}" >/dev/null 2>&1 && break
  done
  echo "${NEB_VIP[$1]}"
}

# --- one sequence: a stream to one CN while m moves FROM <-> TO ---------------------------
# moves.txt lines: sys label idx from to cn t_start t_conf t_flow route
run_sequence() {
  local sys=$1 p=$2 q=$3 cn from to target name out spid rpid i label back k tf t_next route bk=0
  cn=${PCN[$p]} from=${PFROM[$p]} to=${PTO[$p]}
  name=$(fqdn "$cn")
  if [[ $(mob_loc m) != "$from" ]]; then
    mob_place m "$from"
    say "$sys: m repositioned to $from for pattern $p"
    sleep "${spacing_s[$sys]}"
  fi
  if [[ $sys == ntm ]]; then target=$(ntm_target "$cn"); else target=$(neb_target "$cn"); fi
  if [[ -z $target ]]; then
    say "$sys pattern $p: no address for $name from m's resolver; skipped"
    echo "$sys $p 0 $from $to $cn 0 0 0 no-target" >>"$res/moves.txt"
    return 0
  fi
  out=$res/$sys-p$p.recv
  k=$((port++))
  ip netns exec "$TOPO_P-$cn" "$TOPO_PY" "$probe" recv 0.0.0.0 "$k" 100000 "$out" 2>>"$res/$sys-probe.log" &
  rpid=$!
  pid_of[recv]=$rpid
  # The call's other direction: the CN sends to m's virtual address.
  if [[ $both_ways == 1 && $cn != gh && -n ${m_vip[$sys]:-} ]]; then
    bk=$((port++))
    ip netns exec "$TOPO_P-m" "$TOPO_PY" "$probe" recv 0.0.0.0 "$bk" 100000 "$res/$sys-p$p.back.recv" 2>>"$res/$sys-probe.log" &
    pid_of[brecv]=$!
  fi
  sleep 0.3
  ip netns exec "$TOPO_P-m" "$TOPO_PY" "$probe" send "$target" "$k" "$iv_ms" 100000 2>>"$res/$sys-probe.log" &
  spid=$!
  pid_of[send]=$spid
  if ((bk)); then
    ip netns exec "$TOPO_P-$cn" "$TOPO_PY" "$probe" send "${m_vip[$sys]}" "$bk" "$iv_ms" 100000 2>>"$res/$sys-probe.log" &
    pid_of[bsend]=$!
  fi
  tf=$(wait_flow "$sys" "$cn" "$(now_ns)")
  if [[ $tf == 0 ]]; then
    say "$sys pattern $p: the stream m -> $cn ($target) does not flow before any move"
  fi
  sleep "$pre_s"
  back=${q/#-/$p~}
  local fails=0
  for ((i = 1; i <= rounds; i++)); do
    if ((fails >= 3)); then
      say "$sys pattern $p: 3 moves in a row without recovery; the remaining moves are not made"
      echo "$sys $p $i $from $to $cn 0 0 0 gave-up" >>"$res/moves.txt"
      break
    fi
    for label in "$p" "$back"; do
      local goto
      if [[ $label == "$p" ]]; then goto=$to; else goto=$from; fi
      local f0
      f0=$(mob_loc m)
      mob_place m "$goto"
      local ts=$MOB_T_START tc=$MOB_T_CONFIGURED
      quiet_until $((ts + quiet_ms * 1000000))
      tf=$(wait_flow "$sys" "$cn" "$ts")
      if [[ $sys == neb ]]; then
        local l0 l1 o0 o1
        l0=$(rx_packets lh eth0)
        o0=$(rx_packets lh eth0 TX)
        sleep "$(awk -v h="$hold_ms" 'BEGIN { print h / 1000 }')"
        l1=$(rx_packets lh eth0)
        o1=$(rx_packets lh eth0 TX)
        # the stream through the relay: most of its packets go in and out
        # of lh (in only: frames the bridge floods, not relaying)
        route=$(awk -v d=$((l1 - l0)) -v e=$((o1 - o0)) -v h="$hold_ms" -v iv="$iv_ms" \
          'BEGIN { print (d > h / iv / 3 && e > h / iv / 3) ? "relay" : "direct" }')
      else
        sleep "$(awk -v h="$hold_ms" 'BEGIN { print h / 1000 }')"
        route=$(ntmd_path "$name" | tr ' ' '/')
      fi
      if [[ $tf == 0 ]]; then route="$route(not-recovered)"; fails=$((fails + 1)); else fails=0; fi
      echo "$sys $label $i $f0 $goto $cn $ts $tc $tf $route" >>"$res/moves.txt"
      say "$sys $label #$i $f0→$goto ($cn): $( ((tf > 0)) && awk -v a="$tc" -v b="$tf" 'BEGIN { printf "flowing (seen %.0f ms after configured)", (b - a) / 1e6 }' || echo "NOT recovered in ${max_wait_s[$sys]} s"), route $route"
      t_next=$((ts + $(awk -v s="${spacing_s[$sys]}" 'BEGIN { printf "%.0f", s * 1e9 }')))
      sleep_until "$t_next"
    done
  done
  sleep 0.3
  stop_pid "$spid"
  unset "pid_of[send]"
  if ((bk)); then
    stop_pid "${pid_of[bsend]}"
    unset "pid_of[bsend]"
  fi
  stop_pid "$rpid"
  unset "pid_of[recv]"
  if ((bk)); then
    stop_pid "${pid_of[brecv]}"
    unset "pid_of[brecv]"
  fi
}

# --- the runs ---------------------------------------------------------------------------------
echo "mobility bench: patterns ${sel[*]} ($(printf '[%s] ' "${seqs[@]}")), $rounds moves each way, stream every $iv_ms ms; ntmd $do_ntm, nebula $do_neb" >&2
: >"$res/moves.txt"
# Each half starts with m where the first sequence starts (the other half
# may have left it elsewhere).
back_to_start() { [[ $(mob_loc m) == "$first_from" ]] || { mob_place m "$first_from"; sleep 1; }; }
ntm_half() {
  back_to_start
  if ntm_world_up; then
    say "ntmd up on m ($(mob_loc m)), g1, a1; DC, pdns, ntm-rs in G"
    m_vip[ntm]=$(svc_status m | jq -r '.vip // empty' 2>/dev/null || true)
    [[ $both_ways == 1 && -z ${m_vip[ntm]} ]] && say "ntmd: no VIP for m in its status; no CN -> m stream"
    for s in "${seqs[@]}"; do
      read -r p q <<<"$s"
      run_sequence ntm "$p" "$q"
    done
  else
    say "ntmd half FAILED: $ntm_failed"
    for f in "$W"/m/ntmd.log "$W"/dc.log "$W"/rs/rs.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
  fi
  if [[ -z $ntm_failed ]] && ! svc_status m >/dev/null; then
    ntm_failed="ntmd on m no longer answers its status socket at the end (crashed during the run? see dmesg); moves after that have no figure"
    say "$ntm_failed"
  fi
  svc_stop_all  # ntmd's TUNs go with it: Nebula never runs beside ntmd
  cp "$W"/m/ntmd.log "$res/ntmd-m.log" 2>/dev/null || true
  cp "$W"/dc.log "$res/dc.log" 2>/dev/null || true
}
neb_half() {
  back_to_start
  neb_world_up
  say "nebula up: lighthouse+relay lh ($NEB_LH_REAL), m ($(mob_loc m)), g1, a1"
  m_vip[neb]=${NEB_VIP[m]}
  for s in "${seqs[@]}"; do
    read -r p q <<<"$s"
    if [[ ${PCN[$p]} == gh ]]; then continue; fi
    run_sequence neb "$p" "$q"
  done
  neb_stop_all
}
# One system after the other, never both at once.  ORDER=neb-first swaps
# them, so that a drift of the machine over a run (the other guests on its
# host, its caches) falls on the other system in every second run.
halves=(ntm neb)
[[ $order == neb-first ]] && halves=(neb ntm)
for h in "${halves[@]}"; do
  if [[ $h == ntm && $do_ntm == 1 ]]; then ntm_half; fi
  if [[ $h == neb && $do_neb == 1 ]]; then neb_half; fi
done

# --- per-move figures -----------------------------------------------------------------------------
# Each move's stretch of the receive log: from 1 s before it (or from the
# previous move's recovery, if later) to the next move of that stream.
# move_line SYS FILE: appends that move's line (the loop's variables) for
# the stream received in FILE.
move_line() {
  local js
  awk -v a="$lo" -v b="$hi" '$3 + 0 >= a + 0 && $3 + 0 < b + 0' "$2" >"$W/slice" 2>/dev/null || : >"$W/slice"
  js=$("$TOPO_PY" "$probe" gap "$W/slice" "$ts" "$tc" --horizon "$(awk -v q="$quiet_ms" 'BEGIN { print q / 1000 }')" 2>/dev/null || echo '{}')
  # no probe sent after the configured moment arrived: the stream did not
  # come back, whatever short interval the in-flight probes show
  js=$(jq -c 'if .from_configured_ms == null then .gap_ms = null else . end' <<<"$js")
  jq -r --arg s "$1" --arg l "$label" --arg i "$idx" --arg f "$from" --arg t "$to" --arg c "$cn" --arg r "$route" \
    --arg m "$(awk -v a="$ts" -v b="$tc" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')" \
    '"\($s) \($l) \($i) \($f) \($t) \($c) \(.gap_ms // "null") \(.from_configured_ms // "null") \(.lost // "null") \(.reordered // "null") \(.baseline_gap_ms // "null") \($r) \($m) \(.conf_sent_ms // "null") \(.conf_delay_ms // "null") \(.gap_start_ms // "null") \(.gap_end_ms // "null")"' \
    <<<"$js" >>"$res/gaps.txt"
}
: >"$res/gaps.txt"
mapfile -t mv <"$res/moves.txt"
for ((j = 0; j < ${#mv[@]}; j++)); do
  read -r sys label idx from to cn ts tc tf route <<<"${mv[j]}"
  [[ $ts == 0 ]] && continue
  pnum=${label%\~}
  file=$res/$sys-p$pnum.recv
  [[ -f $file ]] || {
    # the reverse of a paired pattern lives in its partner's stream
    for s in "${seqs[@]}"; do read -r a b <<<"$s"; [[ $b == "$pnum" ]] && file=$res/$sys-p$a.recv; done
  }
  lo=$((ts - 1000000000))
  if ((j > 0)); then
    read -r psys _ _ _ _ pcn _ _ ptf _ <<<"${mv[j - 1]}"
    [[ $psys == "$sys" && $pcn == "$cn" && $ptf != 0 && $ptf -gt $lo ]] && lo=$ptf
  fi
  hi=$((ts + 3600000000000))
  if ((j + 1 < ${#mv[@]})); then
    read -r nsys _ _ _ _ ncn nts _ _ _ <<<"${mv[j + 1]}"
    [[ $nsys == "$sys" && $ncn == "$cn" && $nts != 0 ]] && hi=$nts
  fi
  move_line "$sys" "$file"
  # the CN -> m stream of the same move: SYS-back lines
  [[ -f ${file%.recv}.back.recv ]] && move_line "$sys-back" "${file%.recv}.back.recv"
done

# stats SYS LABEL COL: "median worst n" over the moves (null = not recovered: worst)
stats() {
  awk -v s="$1" -v l="$2" -v c="$3" '$1 == s && $2 == l { n++; if ($c == "null") nr++; else v[++k] = $c + 0 }
    END {
      if (n == 0) { print "- - 0 0"; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      # a move that never recovered counts as worse than any figure
      tot = k + nr
      mi = int((tot + 1) / 2)
      if (tot % 2) med = (mi <= k) ? v[mi] : "inf"
      else med = (mi + 1 <= k) ? (v[mi] + v[mi + 1]) / 2 : "inf"
      worst = nr ? "inf" : v[k]
      printf "%s %s %d %d\n", med, worst, n, nr }' "$res/gaps.txt"
}
ms() { awk -v x="$1" 'BEGIN { if (x == "-" || x == "") print "—"; else if (x == "inf") print "∞"; else printf "%.1f", x }'; }
routes_of() {  # routes_of SYS LABEL: the routes seen after the moves, with counts
  awk -v s="$1" -v l="$2" '$1 == s && $2 == l { sub(/\/up$/, "", $12); c[$12]++ } END { for (r in c) printf "%s%s×%d", (n++ ? ", " : ""), r, c[r] }' "$res/gaps.txt"
}
lt() {  # lt NTM NEB: "yes" if ntmd's median is below Nebula's
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") { print "—"; exit }
    if (a == "inf") r = 0; else if (b == "inf") r = 1; else r = (a + 0 < b + 0)
    print r ? "yes" : "**no**" }'
}
le() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x != "-" && x != "inf" && x + 0 <= t + 0) }'; }

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_total=$(($(date +%s) - t_start))
{
  echo "### Results: $(date -u '+%Y-%m-%d, %H:%M UTC')"
  echo
  echo "Machine: $(nproc) CPUs, \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\", kernel $(uname -r)," \
    "load average $load_before before and $load_after after; the run took ${t_total} s."
  [[ $do_neb == 1 ]] || echo "Code: $code_desc, Release. Nebula not run (NEBULA=0)."
  [[ $do_neb == 1 ]] && echo "Code: $code_desc, Release. Nebula: $(nebula -version 2>/dev/null | head -1 | sed 's/^Version: //') (Debian $(dpkg-query -W -f='${Version}' nebula 2>/dev/null || echo '?'))," \
    "lighthouse + relay in G, lighthouse.interval ${NEB_LH_INTERVAL:-10} s, punchy on."
  [[ -n $ntm_failed ]] && echo "**The ntmd half failed: $ntm_failed.** (logs in the work directory)"
  echo "Settings: ROUNDS=$rounds PATTERNS=\"${sel[*]}\" ORDER=$order INTERVAL_MS=$iv_ms BOTH_WAYS=$both_ways QUIET_MS=$quiet_ms HOLD_MS=$hold_ms" \
    "NTM_SPACING_S=${spacing_s[ntm]} NEB_SPACING_S=${spacing_s[neb]} NTM_MAX_WAIT_S=${max_wait_s[ntm]} NEB_MAX_WAIT_S=${max_wait_s[neb]}."
  echo
  echo "Per pattern: median / worst over the FROM → TO moves (n = moves; ∞ = a move whose stream did not come back within MAX_WAIT_S)."
  echo "\"gap\": last probe delivered before the outage → first after it (the largest silence beginning within QUIET_MS of the move; the bench starts no process in that window). \"cfg\": new address and route configured → first probe sent after it delivered."
  echo "\"move took\": MOB_T_START → MOB_T_CONFIGURED, the cable and address change itself (part of every gap, the same for both)."
  echo "\"beats\": ntmd's median below Nebula's, for the gap and for cfg."
  echo
  echo "| # | move | CN | ntmd route: expected; seen | ntmd gap, ms | ntmd cfg, ms | target (cfg ≤) | Nebula gap, ms | Nebula cfg, ms | Nebula route | lost ntmd / Nebula (median) | move took, ms (median) | ntmd beats Nebula? gap; cfg |"
  echo "|---|---|---|---|---:|---:|---|---:|---:|---|---:|---:|---|"
  for n in "${sel[@]}" $(for s in "${seqs[@]}"; do read -r a b <<<"$s"; [[ $b == - ]] && echo "$a~"; done); do
    pn=${n%\~}
    if [[ $n == *\~ ]]; then mvtxt="${PTO[$pn]} → ${PFROM[$pn]} (reverse of $pn)"; else mvtxt="${PFROM[$pn]} → ${PTO[$pn]}"; fi
    read -r gm gw gn _ < <(stats ntm "$n" 7)
    read -r cm cw _ _ < <(stats ntm "$n" 8)
    read -r lm _ _ _ < <(stats ntm "$n" 9)
    read -r nm nw nn _ < <(stats neb "$n" 7)
    read -r ncm ncw _ _ < <(stats neb "$n" 8)
    if [[ $n == *\~ ]]; then xr=$(expected_route "${PFROM[$pn]}" "${PCN[$pn]}"); else xr=${PROUTE[$pn]}; fi
    read -r lnm _ _ _ < <(stats neb "$n" 9)
    read -r mvm _ _ _ < <(stats ntm "$n" 13)
    [[ $mvm == - ]] && read -r mvm _ _ _ < <(stats neb "$n" 13)
    tgt=50
    [[ $xr == relay* ]] && tgt=100
    if [[ $do_ntm != 1 ]]; then verdict="not run"
    elif ((gn == 0)); then verdict="**no figure**"
    elif le "$cw" "$tgt"; then verdict="met (≤ $tgt)"
    elif le "$cm" "$tgt"; then verdict="median only (≤ $tgt; worst $(ms "$cw"))"
    else verdict="**missed** (≤ $tgt)"; fi
    if [[ ${PCN[$pn]} == gh ]]; then nebtxt="n/a"; nebc="n/a"; nebr="n/a (general host)"; beat="n/a"
    elif [[ $do_neb != 1 ]]; then nebtxt="not run"; nebc="—"; nebr="—"; beat="—"
    else
      nebtxt="$(ms "$nm") / $(ms "$nw")"; nebc="$(ms "$ncm") / $(ms "$ncw")"; nebr=$(routes_of neb "$n")
      if ((gn == 0 || nn == 0)); then beat="—"
      else beat="$(lt "$gm" "$nm"); $(lt "$cm" "$ncm")"; fi
    fi
    echo "| $n | $mvtxt | ${PCN[$pn]} | $xr; $(routes_of ntm "$n") | $(ms "$gm") / $(ms "$gw") (n=$gn) | $(ms "$cm") / $(ms "$cw") | $verdict | $nebtxt (n=$nn) | $nebc | $nebr | ${lm} / ${lnm} | $(ms "$mvm") | $beat |"
  done
  if grep -q -- '^ntm-back \|^neb-back ' "$res/gaps.txt"; then
    echo
    echo "The call's other direction, CN → m (a stream at the same time to m's virtual address; none with the general host):"
    echo
    echo "| # | move | CN | ntmd gap, ms | ntmd cfg, ms | Nebula gap, ms | Nebula cfg, ms | lost ntmd / Nebula (median) | ntmd beats Nebula? gap; cfg |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---|"
    for n in "${sel[@]}" $(for s in "${seqs[@]}"; do read -r a b <<<"$s"; [[ $b == - ]] && echo "$a~"; done); do
      pn=${n%\~}
      [[ ${PCN[$pn]} == gh ]] && continue
      if [[ $n == *\~ ]]; then mvtxt="${PTO[$pn]} → ${PFROM[$pn]} (reverse of $pn)"; else mvtxt="${PFROM[$pn]} → ${PTO[$pn]}"; fi
      read -r gm gw gn _ < <(stats ntm-back "$n" 7)
      read -r cm cw _ _ < <(stats ntm-back "$n" 8)
      read -r lm _ _ _ < <(stats ntm-back "$n" 9)
      read -r nm nw nn _ < <(stats neb-back "$n" 7)
      read -r ncm ncw _ _ < <(stats neb-back "$n" 8)
      read -r lnm _ _ _ < <(stats neb-back "$n" 9)
      if ((gn == 0 || nn == 0)); then beat="—"; else beat="$(lt "$gm" "$nm"); $(lt "$cm" "$ncm")"; fi
      echo "| $n | $mvtxt | ${PCN[$pn]} | $(ms "$gm") / $(ms "$gw") (n=$gn) | $(ms "$cm") / $(ms "$cw") | $(ms "$nm") / $(ms "$nw") (n=$nn) | $(ms "$ncm") / $(ms "$ncw") | ${lm} / ${lnm} | $beat |"
    done
  fi
  echo
  echo "Every move (sys label round from to CN gap_ms cfg_ms lost reordered baseline_gap_ms route move_took_ms cfg_sent_ms cfg_delay_ms gap_start_ms gap_end_ms;"
  echo "cfg_ms = cfg_sent_ms + cfg_delay_ms: when the first probe that got through after the configured moment was sent, and its one-way delay; sys ntm-back / neb-back: the CN → m stream of the same move):"
  sed 's/^/    /' "$res/gaps.txt"
} >"$res/report.md"
cat "$res/report.md"
if [[ ${SNAPSHOT:-0} == 1 ]]; then
  out=$root/docs/bench-runs/mobility-$(date -u +%Y-%m-%d-%H%M).txt
  cp "$res/report.md" "$out"
  echo "saved to $out" >&2
fi
