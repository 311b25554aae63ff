# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The testbed's services on the world of topology.sh (sourced after it):
# ntm-dc with its embedded PostgreSQL and pdns_server on the DC host, ntm-rs
# on the RS host, ntmd and the small servers (srv.py) on node hosts.  Used
# by tests/netns/testbed_test.sh and scripts/demo.sh.
#
# The caller sets W (a work directory, mode 0711: the embedded cluster runs
# as postgres below it), ZONE, DC_BIN, and for the data plane NTMD and
# NTMRS.  Every process started here is recorded by PID (SVC_PIDS, DCPID)
# and stopped by svc_stop_all.  Background processes are started with
# `ip netns exec NS CMD &`, never through the tx function: `ip netns exec`
# execs CMD, so $! is CMD's PID, whereas `tx … &` would give the PID of a
# subshell that a signal would not pass on.  Logs: $W/dc.log, $W/pdns.log,
# $W/rs/rs.log, $W/HOST/ntmd.log, $W/HOST/srv.log.  Functions return
# non-zero with a message on stderr; the caller decides what that means.

SVC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SVC_PIDS=()
DCPID=""

# svc_wait_for FILE PATTERN PID SECONDS: until FILE has PATTERN; fails when
# PID exits or time runs out.
svc_wait_for() {
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# svc_dc_conf: the DC's configuration, $W/dc.conf (SVC_DC_LOG_LEVEL, default debug).
svc_dc_conf() {
  mkdir -p "$W/run" "$W/dc"
  cat >"$W/dc.conf" <<EOF
[dc]
id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
zones = $ZONE
listen = ${TOPO_IP[dc]}:4510
probe_listen = ${TOPO_IP[dc]}:4511
state_dir = $W/dc
[timers]
keepalive_s = 10
lifetime_s = 40
[dns]
socket = $W/run/pdns.sock
nameservers = ns1.$ZONE
ns_addresses = ns1.$ZONE=$TOPO_PDNS_IP
[log]
; debug: the route decisions ("direction: path ... -> ...: ROUTE (REASON)")
level = ${SVC_DC_LOG_LEVEL:-debug}
EOF
}

# dcx ARGS: the ntm-dc CLI beside the running DC (it uses the DC's cluster).
dcx() { tx dc "$DC_BIN" -c "$W/dc.conf" --log-level warn "$@"; }

# svc_start_dc: serve; ready once the log says so and the DNS socket accepts.
svc_start_dc() {
  ip netns exec "$TOPO_P-dc" "$DC_BIN" -c "$W/dc.conf" serve >>"$W/dc.log" 2>&1 &
  DCPID=$!
  svc_wait_for "$W/dc.log" 'ntm-dc ready' "$DCPID" 60 || {
    echo "ntm-dc did not get ready (log $W/dc.log)" >&2
    return 1
  }
  local i
  for i in $(seq 100); do
    "$TOPO_PY" -c "import socket,sys;socket.socket(socket.AF_UNIX).connect(sys.argv[1])" \
      "$W/run/pdns.sock" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "ntm-dc's DNS socket does not accept" >&2
  return 1
}

svc_stop_dc() {
  [ -n "$DCPID" ] || return 0
  kill -TERM "$DCPID" 2>/dev/null
  wait "$DCPID" 2>/dev/null
  DCPID=""
}

# svc_enrol_node HOST FQDN: $W/HOST/node.conf
svc_enrol_node() {
  mkdir -p "$W/$1"
  dcx node add "$2" -o "$W/$1/node.conf" >/dev/null
}

# svc_enrol_relay NAME [HOST]: $W/HOST/relay.conf (HOST default rs)
svc_enrol_relay() {
  local h=${2:-rs}
  mkdir -p "$W/$h"
  dcx relay add "$1" -o "$W/$h/relay.conf" >/dev/null
}

# svc_pdns_remote HOST ADDR SOCKET LOG ZONE: pdns_server in HOST's namespace
# on ADDR:53 in front of a DC's DNS socket SOCKET (caches off, as in
# tests/dns/dc_dns_test.sh); ready once it answers ZONE's SOA.
svc_pdns_remote() {
  local h=$1 addr=$2 sock=$3 log=$4 zone=$5 pid i
  mkdir -p "$W/pdns-$h"
  ip netns exec "$TOPO_P-$h" pdns_server --no-config --guardian=no --daemon=no --disable-syslog --write-pid=no \
    --socket-dir="$W/pdns-$h" --launch=remote \
    --remote-connection-string="unix:path=$sock,timeout=2000" --remote-dnssec=no \
    --local-address="$addr" --local-port=53 \
    --cache-ttl=0 --query-cache-ttl=0 --negquery-cache-ttl=0 \
    --receiver-threads=1 --distributor-threads=1 \
    --security-poll-suffix= --webserver=no --api=no --loglevel=4 >"$log" 2>&1 &
  pid=$!
  SVC_PIDS+=("$pid")
  for i in $(seq 100); do
    tx "$h" dig +time=1 +tries=1 @"$addr" "$zone" SOA >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "pdns_server on $h does not answer (log $log)" >&2
  return 1
}

# svc_start_pdns: pdns_server on the DC host at TOPO_PDNS_IP:53, in front of
# the DC's DNS socket.
svc_start_pdns() { svc_pdns_remote dc "$TOPO_PDNS_IP" "$W/run/pdns.sock" "$W/pdns.log" "$ZONE"; }

# svc_start_rs [HOST]: ntm-rs on HOST (default rs), relay endpoint
# TOPO_IP[HOST]:4530, its files in $W/HOST.  NTM_RS_KERNEL_FORWARD (on):
# its [rs] kernel_forward (docs/relay.md), for benchmarks to compare.
svc_start_rs() {
  local h=${1:-rs} pid
  cat >>"$W/$h/relay.conf" <<EOF

[rs]
listen = 0.0.0.0:4530
advertise = ${TOPO_IP[$h]}:4530
kernel_forward = ${NTM_RS_KERNEL_FORWARD:-on}
status_socket = $W/$h/rs.sock
EOF
  ip netns exec "$TOPO_P-$h" "$NTMRS" -c "$W/$h/relay.conf" run >"$W/$h/rs.log" 2>&1 &
  pid=$!
  SVC_PIDS+=("$pid")
  svc_wait_for "$W/$h/rs.log" 'ntm-rs ready' "$pid" 20 || {
    echo "ntm-rs on $h did not get ready (log $W/$h/rs.log)" >&2
    return 1
  }
}

# svc_start_ntmd HOST...: ntmd on each host (its resolver on 127.0.0.53, the
# host's resolv.conf points there; passthrough queries go to pdns, or to
# SVC_DNS_UPSTREAM if set), then waits for every ready line.
svc_start_ntmd() {
  local h pid
  declare -A pids
  for h in "$@"; do
    cat >>"$W/$h/node.conf" <<EOF

[ntmd]
listen = 0.0.0.0:4520
tun = ntm0
dns_listen = 127.0.0.53:53
dns_upstream = ${SVC_DNS_UPSTREAM:-$TOPO_PDNS_IP}:53
tunnel_wait_ms = ${SVC_TUNNEL_WAIT_MS:-4000}
status_socket = $W/$h/ntmd.sock
EOF
    ip netns exec "$TOPO_P-$h" "$NTMD" -c "$W/$h/node.conf" run >"$W/$h/ntmd.log" 2>&1 &
    pid=$!
    SVC_PIDS+=("$pid")
    pids[$h]=$pid
  done
  for h in "$@"; do
    svc_wait_for "$W/$h/ntmd.log" 'ntmd ready' "${pids[$h]}" 20 || {
      echo "ntmd on $h did not get ready (log $W/$h/ntmd.log):" >&2
      tail -15 "$W/$h/ntmd.log" >&2
      return 1
    }
  done
}

# svc_start_srv HOST NAME: HTTP :8080 and UDP echo :7007 on HOST.
svc_start_srv() {
  mkdir -p "$W/$1"
  ip netns exec "$TOPO_P-$1" "$TOPO_PY" "$SVC_DIR/srv.py" "$2" >"$W/$1/srv.log" 2>&1 &
  SVC_PIDS+=("$!")
  local i
  for i in $(seq 50); do
    tx "$1" ss -Hltn 'sport = :8080' | grep -q . && return 0
    sleep 0.1
  done
  echo "srv.py on $1 does not listen (log $W/$1/srv.log)" >&2
  return 1
}

# svc_status HOST: ntmd's status --json;  svc_rs_status [HOST]: ntm-rs's.
svc_status() { "$NTMD" -c "$W/$1/node.conf" status --json 2>/dev/null; }
svc_rs_status() { "$NTMRS" -c "$W/${1:-rs}/relay.conf" status --json 2>/dev/null; }

svc_stop_all() {
  local p
  for p in "${SVC_PIDS[@]}" $DCPID; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SVC_PIDS[@]}" $DCPID; do wait "$p" 2>/dev/null || true; done
  SVC_PIDS=()
  DCPID=""
}
