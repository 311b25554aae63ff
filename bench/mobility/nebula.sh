# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Nebula (Debian's package, 1.6.x) on the testbed's world, for the mobility
# benchmark's reference (sourced by bench/run_mobility_bench.sh after
# tests/netns/topology.sh and topo_up).
#
#   neb_lh_host             a namespace PREFIX-lh on G (203.0.113.9) for the
#                           lighthouse, which is also the relay
#   neb_setup DIR NAME...   a CA and one certificate per NAME (lh first) in
#                           DIR/pki, one config per NAME in DIR/NAME.yml from
#                           nebula.yml.in; overlay addresses 10.77.0.1, .2, ...
#                           in the order given (NEB_VIP[NAME])
#   neb_start NAME HOST     nebula -config DIR/NAME.yml in HOST's namespace,
#                           log DIR/NAME.log; waits until its TUN nebula1 is
#                           up; NEB_PID[NAME]
#   neb_stop NAME, neb_stop_all   SIGTERM by PID, then wait (SIGKILL after 5 s)
#
# Knobs: NEB_LH_INTERVAL (10: lighthouse.interval, seconds between a node's
# address reports), NEB_LOG_LEVEL (info).  Every socket is in the
# namespaces; the lighthouse and relay listen on 203.0.113.9:4242, every
# node on 0.0.0.0:4242 in its own namespace.

NEB_DIR_SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NEB_LH_REAL=203.0.113.9
NEB_DIR=""
declare -gA NEB_VIP=() NEB_PID=()

neb_lh_host() {
  _topo_ns_add lh || return 1
  _topo_attach lh g br0 "$NEB_LH_REAL/24"
}

neb_setup() {
  local dir=$1 name i=1 lh
  shift
  NEB_DIR=$dir
  mkdir -p "$dir/pki"
  nebula-cert ca -name "ntm-mobility-bench" -duration 24h \
    -out-crt "$dir/pki/ca.crt" -out-key "$dir/pki/ca.key" || return 1
  for name in "$@"; do
    NEB_VIP[$name]=10.77.0.$i
    i=$((i + 1))
    nebula-cert sign -ca-crt "$dir/pki/ca.crt" -ca-key "$dir/pki/ca.key" -name "$name" \
      -ip "${NEB_VIP[$name]}/24" -out-crt "$dir/pki/$name.crt" -out-key "$dir/pki/$name.key" || return 1
  done
  lh=$1
  for name in "$@"; do
    local am_lh=false hosts="[\"${NEB_VIP[$lh]}\"]" am_relay=false relays="[\"${NEB_VIP[$lh]}\"]"
    if [ "$name" = "$lh" ]; then am_lh=true hosts="[]" am_relay=true relays="[]"; fi
    sed -e "s|@PKI@|$dir/pki|g" -e "s|@NAME@|$name|g" \
      -e "s|@LH_VIP@|${NEB_VIP[$lh]}|g" -e "s|@LH_REAL@|$NEB_LH_REAL|g" \
      -e "s|@AM_LH@|$am_lh|g" -e "s|@LH_HOSTS@|$hosts|g" -e "s|@LH_INTERVAL@|${NEB_LH_INTERVAL:-10}|g" \
      -e "s|@AM_RELAY@|$am_relay|g" -e "s|@RELAYS@|$relays|g" -e "s|@LEVEL@|${NEB_LOG_LEVEL:-info}|g" \
      "$NEB_DIR_SELF/nebula.yml.in" >"$dir/$name.yml" || return 1
  done
  nebula -test -config "$dir/$lh.yml" >/dev/null 2>&1 || {
    echo "nebula: -test of $dir/$lh.yml failed" >&2
    return 1
  }
}

neb_start() {
  local name=$1 h=$2 pid i
  # ip netns exec execs nebula: $! is nebula's PID
  ip netns exec "$TOPO_P-$h" nebula -config "$NEB_DIR/$name.yml" >>"$NEB_DIR/$name.log" 2>&1 &
  pid=$!
  NEB_PID[$name]=$pid
  for ((i = 0; i < 100; i++)); do
    ip -n "$TOPO_P-$h" link show nebula1 2>/dev/null | grep -q 'UP' && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "nebula $name on $h did not bring nebula1 up (log $NEB_DIR/$name.log):" >&2
  tail -5 "$NEB_DIR/$name.log" >&2
  return 1
}

neb_stop() {
  local pid=${NEB_PID[$1]:-} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "NEB_PID[$1]"
}

neb_stop_all() {
  local n
  for n in "${!NEB_PID[@]}"; do neb_stop "$n"; done
}
