# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# TOPO_P, TOPO_IP, TOPO_NET (associative) come from topology.sh; the MOB_T_*
# globals are for the caller:
# shellcheck disable=SC2004,SC2034,SC2153
# Mobile hosts for the testbed (sourced after topology.sh, after topo_up):
# a host whose one network cable is unplugged from one switch and plugged
# into another, the way a laptop changes networks.  docs/testbed.md §5.
#
#   mob_add HOST [INDEX]  a new namespace PREFIX-HOST (a node host: its
#                         /etc/netns resolv.conf is ntmd's 127.0.0.53) whose
#                         eth0 is one end of a veth; the other end, v-HOST,
#                         is parked (down, in the host's own namespace) until
#                         the first mob_place.  INDEX (default: the number
#                         of mobile hosts added before, 0 for the first)
#                         picks the host's addresses, below.
#   mob_place HOST LOC    the move: v-HOST goes into LOC's switch (bridge br0
#                         in P-g, or bridge lan in the NAT's namespace), then
#                         eth0's addresses (and with them its routes and ARP
#                         entries) are flushed, the new address and, behind
#                         a NAT, the default route are added.  Prints nothing
#                         on success.  Sets (globals, in the caller's shell:
#                         do not call it in a subshell)
#                           MOB_T_START       wall clock (ns) before the move
#                           MOB_T_CONFIGURED  wall clock (ns) right after the
#                                             new address AND route are set
#                         and TOPO_IP[HOST], TOPO_NET[HOST] (G, A, B, C, D).
#   mob_loc HOST          prints the current LOC ("none" while parked)
#   mob_addr HOST LOC     prints the address HOST gets at LOC (no move)
#   probe_wait_started SECS FILE...
#                         waits (at most SECS) until every FILE, the stderr
#                         of a `probe.py send`, says the stream has started;
#                         returns 1 and names the files that do not.  A move
#                         made before then would be measured as an outage.
#
# LOC and the address of the mobile host with index i (m: 0, m2: 1, ...; i < 4):
#   G   203.0.113.(41+2i)/24  in G; no gateway: G is one flat /24
#   G2  203.0.113.(42+2i)/24  in G, a new address in the same network
#   A   192.168.1.(20+2i)/24  gw 192.168.1.1, behind NAT A
#   A2  192.168.1.(21+2i)/24  gw 192.168.1.1, network A again, new address
#   B   192.168.1.(20+2i)/24  gw 192.168.1.1, behind NAT B: deliberately the
#                             same private address as at A
#   C   192.168.3.(20+2i)/24  gw 192.168.3.1, behind NAT C
#   D   192.168.4.(20+2i)/24  gw 192.168.4.1, behind NAT D (symmetric)
# so m: G .41, G2 .42, A/B .20, A2 .21, C .20;  m2: G .43, G2 .44,
# A/B .22, A2 .23, C .22.  None collides with topology.sh's hosts (.10,
# .11, .31, .32, .80, .201-.204).
#
# Everything lives in namespaces PREFIX-*; topo_down removes mobile hosts
# with the rest.  Timing (measured here): one move is 3 `ip` processes, about
# 5-10 ms from MOB_T_START to MOB_T_CONFIGURED.

declare -gA MOB_IDX=() MOB_LOC=() MOB_SWNS=()
MOB_T_START=0
MOB_T_CONFIGURED=0

mob_add() {
  local h=$1 i=${2:-${#MOB_IDX[@]}} ns=$TOPO_P-$1
  if ! [[ $h =~ ^[a-z][a-z0-9]{0,11}$ ]]; then
    echo "mobility: host name '$h' must be 1-12 of [a-z0-9], starting with a letter" >&2
    return 1
  fi
  if ! [[ $i =~ ^[0-3]$ ]]; then
    echo "mobility: index '$i' out of range 0-3" >&2
    return 1
  fi
  _topo_ns_add "$h" || return 1
  # Both ends are made inside the host's namespace: nothing is ever created
  # in the root namespace.  v-HOST stays there, down, until the first move.
  ip -n "$ns" link add "v-$h" type veth peer name eth0 || return 1
  ip -n "$ns" link set eth0 up || return 1
  _topo_netns_etc "$h" 127.0.0.53
  MOB_IDX[$h]=$i
  MOB_LOC[$h]=none
  MOB_SWNS[$h]=$ns
  TOPO_NET[$h]=none
  TOPO_IP[$h]=
}

# _mob_where LOC INDEX: "SWITCH-HOST BRIDGE ADDRESS GATEWAY NET" (GATEWAY "-"
# in G).
_mob_where() {
  local i=$2
  case $1 in
    G) echo "g br0 203.0.113.$((41 + 2 * i)) - G" ;;
    G2) echo "g br0 203.0.113.$((42 + 2 * i)) - G" ;;
    A) echo "na lan 192.168.1.$((20 + 2 * i)) 192.168.1.1 A" ;;
    A2) echo "na lan 192.168.1.$((21 + 2 * i)) 192.168.1.1 A" ;;
    B) echo "nb lan 192.168.1.$((20 + 2 * i)) 192.168.1.1 B" ;;
    C) echo "nc lan 192.168.3.$((20 + 2 * i)) 192.168.3.1 C" ;;
    D) echo "nd lan 192.168.4.$((20 + 2 * i)) 192.168.4.1 D" ;;
    *) return 1 ;;
  esac
}

mob_addr() {
  local sw br addr gw net
  read -r sw br addr gw net < <(_mob_where "$2" "${MOB_IDX[$1]:-0}") || return 1
  echo "$addr"
}

mob_loc() { echo "${MOB_LOC[$1]:-none}"; }

probe_wait_started() {
  local secs=$1 f late i
  shift
  for ((i = 0; i <= secs * 20; i++)); do
    late=""
    for f in "$@"; do
      grep -q '^probe send: started' "$f" 2>/dev/null || late+=" $f"
    done
    [ -z "$late" ] && return 0
    sleep 0.05
  done
  echo "mobility: probe streams not started after ${secs} s:$late" >&2
  return 1
}

mob_place() {
  local h=$1 loc=$2 ns=$TOPO_P-$1 sw br addr gw net where swns
  if [ -z "${MOB_IDX[$h]:-}" ]; then
    echo "mobility: $h is not a mobile host (mob_add first)" >&2
    return 1
  fi
  where=$(_mob_where "$loc" "${MOB_IDX[$h]}") || {
    echo "mobility: unknown location '$loc' (G G2 A A2 B C D)" >&2
    return 1
  }
  read -r sw br addr gw net <<<"$where"
  swns=$TOPO_P-$sw
  MOB_T_START=${EPOCHREALTIME//[.,]/}000  # as date +%s%N, without a fork (µs resolution)
  # The cable: out of the old switch into the new one (kept when the new
  # location is on the same switch: a new address in the same network).
  if [ "${MOB_SWNS[$h]}" != "$swns" ]; then
    ip -n "${MOB_SWNS[$h]}" link set "v-$h" netns "$swns" || return 1
    MOB_SWNS[$h]=$swns
    ip -n "$swns" link set "v-$h" master "$br" up || return 1
  fi
  # The host's side, as DHCP would: flushing the last address also removes
  # the routes through eth0 and its ARP entries (the gateway at B has the
  # address of A's, not its MAC); neigh flush makes that explicit.
  {
    echo "addr flush dev eth0"
    echo "neigh flush dev eth0"
    echo "addr add $addr/24 dev eth0"
    echo "link set eth0 up"
    if [ "$gw" != - ]; then echo "route replace default via $gw dev eth0"; fi
  } | ip -n "$ns" -batch - || return 1
  MOB_T_CONFIGURED=${EPOCHREALTIME//[.,]/}000
  MOB_LOC[$h]=$loc
  TOPO_NET[$h]=$net
  TOPO_IP[$h]=$addr
}
