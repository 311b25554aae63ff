# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The testbed's world in network namespaces (sourced, not run): the paper's
# global network G and private networks A, B, C, D, each behind its own NAT
# router.  Nothing is linked to the root namespace: every veth is created
# inside a namespace made here, so no packet can leave the testbed and the
# root namespace's interfaces, routes and firewall are never touched.
#
#   203.0.113.0/24 (G, a bridge "br0" in namespace P-g)
#     dc  203.0.113.10  ntm-dc (embedded PostgreSQL), pdns_server on .53
#     rs  203.0.113.20  ntm-rs
#     g1  203.0.113.31  node          g2  203.0.113.32  node
#     gh  203.0.113.80  general host (no ntmd), name gh.example.net
#     na  203.0.113.201 NAT A (iptables MASQUERADE)      LAN 192.168.1.0/24: a1 .10, a2 .11
#     nb  203.0.113.202 NAT B (nft masquerade)           LAN 192.168.1.0/24: b1 .10 (same prefix as A)
#     nc  203.0.113.203 NAT C (iptables MASQUERADE)      LAN 192.168.3.0/24: c1 .10
#     nd  203.0.113.204 NAT D (MASQUERADE --random-fully, symmetric)  LAN 192.168.4.0/24: d1 .10
#
# Namespaces are named PREFIX-HOST.  Node hosts get /etc/netns/PREFIX-HOST/
# resolv.conf = "nameserver 127.0.0.53" (ntmd's resolver); dc, rs and gh
# point at pdns (203.0.113.53), and dc gets an /etc/hosts with the general
# host's name (the DC resolves general hosts with the system resolver).
#
#   topo_up PREFIX      build it (fails if any PREFIX-* namespace exists)
#   topo_down PREFIX    stop what still runs inside, delete namespaces and
#                       /etc/netns/PREFIX-*; safe to call twice
#   tx HOST CMD...      run CMD in HOST's namespace (TOPO_P set by topo_up)
#   topo_add_g HOST ADDR [RESOLVER]
#                       after topo_up: one more host on G (ADDR/24 on eth0,
#                       /etc/netns resolv.conf = RESOLVER if given); sets
#                       TOPO_IP[HOST] and TOPO_NET[HOST]=G
#   topo_add_lo HOST    after topo_up: a namespace with only lo (a service
#                       reached through unix sockets, e.g. a PostgreSQL)
#   topo_ns HOST        the namespace's name
#   TOPO_IP[HOST], TOPO_WAN[a..d], TOPO_NET[HOST] (G, A, B, C or D)
#   TOPO_PY             the Python that runs the testbed's helpers (probe.py,
#                       srv.py, bulk.py and the socket checks): NTM_PYTHON if
#                       set, else Debian's /usr/bin/python3 (scripts/setup.sh
#                       installs it), else the first python3 on PATH.  Not
#                       simply `python3`: on a machine where that is a version
#                       manager's shim (pyenv's costs 0.4 s of CPU a start,
#                       Debian's 0.07 s), eight probes started together on two
#                       cores sent their first datagram 3 s later.

TOPO_PDNS_IP=203.0.113.53
TOPO_GH_NAME=gh.example.net
TOPO_NODES_G=(g1 g2)
TOPO_NODES_NAT=(a1 a2 b1 c1 d1)
declare -gA TOPO_IP=(
  [dc]=203.0.113.10 [rs]=203.0.113.20 [gh]=203.0.113.80 [g1]=203.0.113.31 [g2]=203.0.113.32
  [a1]=192.168.1.10 [a2]=192.168.1.11 [b1]=192.168.1.10 [c1]=192.168.3.10 [d1]=192.168.4.10
)
declare -gA TOPO_WAN=([a]=203.0.113.201 [b]=203.0.113.202 [c]=203.0.113.203 [d]=203.0.113.204)
declare -gA TOPO_LAN=([a]=192.168.1 [b]=192.168.1 [c]=192.168.3 [d]=192.168.4)
declare -gA TOPO_NATKIND=([a]=iptables [b]=nft [c]=iptables [d]=symmetric)
declare -gA TOPO_NET=(
  [dc]=G [rs]=G [gh]=G [g1]=G [g2]=G [a1]=A [a2]=A [b1]=B [c1]=C [d1]=D
)

# shellcheck disable=SC2034  # TOPO_PY is for the scripts that source this file
if [ -n "${NTM_PYTHON:-}" ]; then
  TOPO_PY=$NTM_PYTHON
elif [ -x /usr/bin/python3 ]; then
  TOPO_PY=/usr/bin/python3
else
  TOPO_PY=$(command -v python3)
fi

topo_ns() { echo "$TOPO_P-$1"; }
tx() {
  local h=$1
  shift
  ip netns exec "$TOPO_P-$h" "$@"
}

_topo_ns_add() {
  local ns=$TOPO_P-$1
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # IPv4 only: no router solicitations, DAD or MLD noise in the TUNs.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# _topo_attach HOST SWITCHNS BRIDGE ADDR/LEN [GATEWAY]: a veth from the
# host's eth0 to a bridge port in the switch namespace.
_topo_attach() {
  local h=$1 sw=$2 br=$3 addr=$4 gw=${5:-}
  ip -n "$TOPO_P-$sw" link add "v-$h" type veth peer name eth0 netns "$TOPO_P-$h"
  ip -n "$TOPO_P-$sw" link set "v-$h" master "$br" up
  ip -n "$TOPO_P-$h" addr add "$addr" dev eth0
  ip -n "$TOPO_P-$h" link set eth0 up
  if [ -n "$gw" ]; then ip -n "$TOPO_P-$h" route add default via "$gw"; fi
}

_topo_bridge() {  # NS BRIDGE
  ip -n "$TOPO_P-$1" link add "$2" type bridge stp_state 0 forward_delay 0
  ip -n "$TOPO_P-$1" link set "$2" up
  # A switch is not a firewall: when the host has br_netfilter loaded (a
  # container runtime does that), bridged frames would pass the switch
  # namespace's conntrack and iptables.  In a NAT router's namespace that
  # let a frame bridged between two LAN hosts create a conntrack entry
  # without NAT for a flow that later left through the WAN: a1's
  # registration then reached the DC from its private address (seen in the
  # mobility bench while m moved in and out of network A).  Off, per
  # namespace, where the sysctl exists.
  ip netns exec "$TOPO_P-$1" sh -c \
    'for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -w "$f" ] && echo 0 >"$f"; done; true'
}

_topo_netns_etc() {  # HOST RESOLVER [HOSTS-LINE]
  local d=/etc/netns/$TOPO_P-$1
  mkdir -p "$d"
  echo "nameserver $2" >"$d/resolv.conf"
  if [ -n "${3:-}" ]; then
    printf '127.0.0.1 localhost\n%s\n' "$3" >"$d/hosts"
  fi
}

topo_up() {
  TOPO_P=$1
  if ! [[ $TOPO_P =~ ^[a-z][a-z0-9]{1,9}$ ]]; then
    echo "topology: prefix '$TOPO_P' must be 2-10 of [a-z0-9], starting with a letter" >&2
    return 1
  fi
  if ip netns list | grep -q "^$TOPO_P-"; then
    echo "topology: namespaces $TOPO_P-* exist already" >&2
    return 1
  fi
  local h n
  _topo_ns_add g
  _topo_bridge g br0
  for h in dc rs gh "${TOPO_NODES_G[@]}"; do
    _topo_ns_add "$h"
    _topo_attach "$h" g br0 "${TOPO_IP[$h]}/24"
  done
  ip -n "$TOPO_P-dc" addr add "$TOPO_PDNS_IP/24" dev eth0
  # ntm-rs routes translated packets from its TUN out to general hosts.
  tx rs sysctl -qw net.ipv4.ip_forward=1
  for n in a b c d; do
    _topo_ns_add "n$n"
    ip -n "$TOPO_P-g" link add "v-n$n" type veth peer name wan netns "$TOPO_P-n$n"
    ip -n "$TOPO_P-g" link set "v-n$n" master br0 up
    ip -n "$TOPO_P-n$n" addr add "${TOPO_WAN[$n]}/24" dev wan
    ip -n "$TOPO_P-n$n" link set wan up
    _topo_bridge "n$n" lan
    ip -n "$TOPO_P-n$n" addr add "${TOPO_LAN[$n]}.1/24" dev lan
    tx "n$n" sysctl -qw net.ipv4.ip_forward=1
    case ${TOPO_NATKIND[$n]} in
      iptables) tx "n$n" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE ;;
      symmetric) tx "n$n" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully ;;
      nft)
        tx "n$n" nft add table ip nat
        tx "n$n" nft add chain ip nat post '{ type nat hook postrouting priority srcnat ; }'
        tx "n$n" nft add rule ip nat post oifname wan masquerade
        ;;
    esac
  done
  for h in "${TOPO_NODES_NAT[@]}"; do
    n=${TOPO_NET[$h],,}
    _topo_ns_add "$h"
    _topo_attach "$h" "n$n" lan "${TOPO_IP[$h]}/24" "${TOPO_LAN[$n]}.1"
  done
  for h in "${TOPO_NODES_G[@]}" "${TOPO_NODES_NAT[@]}"; do
    _topo_netns_etc "$h" 127.0.0.53
  done
  _topo_netns_etc dc "$TOPO_PDNS_IP" "${TOPO_IP[gh]} $TOPO_GH_NAME"
  _topo_netns_etc rs "$TOPO_PDNS_IP"
  _topo_netns_etc gh "$TOPO_PDNS_IP"
}

topo_add_g() {
  _topo_ns_add "$1" || return 1
  _topo_attach "$1" g br0 "$2/24" || return 1
  TOPO_IP[$1]=$2
  TOPO_NET[$1]=G
  if [ -n "${3:-}" ]; then _topo_netns_etc "$1" "$3"; fi
}

topo_add_lo() { _topo_ns_add "$1"; }

# Stops whatever still runs in the namespaces (by PID: only this run's
# processes can be inside them), then deletes them and their /etc/netns dirs.
topo_down() {
  local p=${1:-${TOPO_P:-}} ns pids
  [ -n "$p" ] || return 0
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p-" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null || true; fi
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p-" || true); do
    for _ in $(seq 30); do
      [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
      sleep 0.1
    done
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf /etc/netns/"$p"-*
}
