#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tunnel benchmark (issue 5).  One pair of hosts, MN and CN, each on its own
# network behind its own router, routed through a core namespace that holds
# the DC (ntm-dc, embedded PostgreSQL, no pdns: ntmd asks the DC directly)
# and the RS (ntm-rs, forward mode only):
#
#   mn 10.1.0.2 -- rm (10.1.0.1 | 198.51.100.2) == core (198.51.100.1 | .5) == (198.51.100.6 | 10.2.0.1) rc -- cn 10.2.0.2
#                                          core lo: DC 203.0.113.10:4510, RS 203.0.113.20:4530
#
# Two phases per round, over the same hosts and routers:
#   direct phase: the routers only route (the core has routes to both LANs),
#     the DC sees both ends global and decides `direct`.  Measured:
#       (a) base  the hosts' real addresses, no tunnel;
#       (b) wg    Debian's wireguard-go between the same namespaces;
#       ntm       ntmd on both hosts, the CN's VIP from ntmd's resolver.
#   NAT phase: both routers masquerade (nft) and the core loses its routes to
#     the LANs; ntmd restarts on both hosts, the DC sees two NATs and decides
#     `relay`:  rly  ntmd over ntm-rs.
# Each measurement: iperf3 TCP MN -> CN (SECONDS_PER_ROUND s after OMIT s
# of slow start) and ping MN -> CN (PINGS echoes every PING_INTERVAL s, on
# an idle tunnel), with the CPU time of every thread of the tunnel
# processes during the iperf3 run (/proc/PID/task/*/stat).  The order of
# base, wg and ntm is rotated per round.
# Set-up time: the time from an application's DNS query (a UDP A query to
# ntmd's resolver on 127.0.0.53 in MN's namespace, timed around the socket
# calls by a small Python client) to its answer, for a name with no path
# yet: both ntmd are restarted before each query, SETUP_REPS times per
# round and route.  The path's route and state are checked in ntmd's status
# after every query; a route other than the one expected fails the run.
# Medians over rounds (bench/summary.sh); ratios are taken per round and
# their median reported.  PERF=1 (default) adds a profile phase after the
# rounds: per-thread CPU and system calls per packet of ntmd (perf stat on
# syscall tracepoints, ntmd's packet counters) during an iperf3 run, a
# `perf record` of ntmd, and the per-thread CPU of wireguard-go.
#
# Network safety: every namespace is made here (prefix NS_PREFIX, default
# tnb<pid>), every veth is created inside them, nothing is linked to the
# root namespace, and every address used lives inside them.  The EXIT trap
# stops every process started here (by PID), deletes the namespaces and the
# wireguard-go sockets, and removes the work directory.
#
# Environment: ROUNDS (3), SECONDS_PER_ROUND (5, iperf3 -t), OMIT (1,
# iperf3 -O), PINGS (100), PING_INTERVAL (0.01), SETUP_REPS (3, fresh paths
# per round and route), MTU (1400: ntmd's default, given to wireguard-go's
# interface too), PERF (1), PERF_SECONDS (4), QUICK (0; 1: ROUNDS=1
# SECONDS_PER_ROUND=2 PINGS=50 SETUP_REPS=2 unless set), KEEP (0; 1 keeps
# the work directory), NS_PREFIX, BUILD_DIR (<repo>/build/tunnel-bench),
# SNAPSHOT (0; 1 builds the committed HEAD plus the working tree's bench/),
# DC_BIN, NTMD_BIN, NTMRS_BIN (binaries to use instead of the ones built;
# say what they are in CODE_DESC, which replaces the "Code:" line),
# DC_LOG_LEVEL (debug: the DC's route decisions), DC_MAX_SKEW_S (1: see
# start_ntmd), NTMD_LOG_LEVEL (info), RS_KERNEL_FORWARD (on: ntm-rs's
# [rs] kernel_forward, docs/relay.md; off carries every capsule through
# its socket, as before 2026-11-29).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/tunnel-bench}
if [[ ${QUICK:-0} == 1 ]]; then
  : "${ROUNDS:=1}" "${SECONDS_PER_ROUND:=2}" "${PINGS:=50}" "${SETUP_REPS:=2}"
fi
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_ROUND:-5}
omit=${OMIT:-1}
pings=${PINGS:-100}
ping_iv=${PING_INTERVAL:-0.01}
setup_reps=${SETUP_REPS:-3}
mtu=${MTU:-1400}
perf_on=${PERF:-1}
perf_secs=${PERF_SECONDS:-4}
keep=${KEEP:-0}
dc_log_level=${DC_LOG_LEVEL:-debug}
dc_max_skew=${DC_MAX_SKEW_S:-1}
ntmd_log_level=${NTMD_LOG_LEVEL:-info}
rs_kernel_forward=${RS_KERNEL_FORWARD:-on}
P=${NS_PREFIX:-tnb$$}
zone=bench.ntm.test

die() { echo "run_tunnel_bench.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (network namespaces, TUN devices, nftables)"
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing"
[[ $P =~ ^[a-z][a-z0-9]{1,9}$ ]] || die "NS_PREFIX '$P' must be 2-10 of [a-z0-9], starting with a letter"
((rounds >= 1 && secs >= 1 && pings >= 1 && setup_reps >= 1)) || die "ROUNDS, SECONDS_PER_ROUND, PINGS, SETUP_REPS must be >= 1"

# --- packages ---------------------------------------------------------------
# iperf3, wireguard-go and wireguard-tools are in scripts/setup.sh's list.
need=()
for p in iperf3 wireguard-go wireguard-tools jq nftables conntrack iputils-ping dnsutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "installing ${need[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi
for tool in cmake ip nft conntrack iperf3 wireguard-go wg jq ping dig python3 awk; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
have_perf=0
if [[ $perf_on == 1 ]] && command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
  have_perf=1
fi

# --- build --------------------------------------------------------------------
snapshot_source "$root" "$build"
log=$build/tunnel-bench-build.log
if ! { cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNTM_TESTS=OFF &&
       cmake --build "$build" --target ntm-dc ntmd ntm-rs; } >"$log" 2>&1; then
  cat "$log" >&2
  die "build failed"
fi
dc_bin=${DC_BIN:-$build/dc/ntm-dc}
ntmd_bin=${NTMD_BIN:-$build/node/ntmd}
rs_bin=${NTMRS_BIN:-$build/relay/ntm-rs}
for b in "$dc_bin" "$ntmd_bin" "$rs_bin"; do [[ -x $b ]] || die "$b is not an executable"; done
[[ -n ${CODE_DESC:-} ]] && code_desc=$CODE_DESC
[[ -n $code_desc ]] || code_desc="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- node relay dc common wire 2>/dev/null || echo ' + uncommitted changes in node/relay/dc/common/wire')"
res=$build/tunnel-bench-results
rm -rf "$res"
mkdir -p "$res"

# --- clean-up, whatever happens -------------------------------------------------
W=$(mktemp -d /tmp/ntm-tunnel-bench.XXXXXX)
chmod 711 "$W"  # the DC's embedded cluster runs as postgres below it
wgm=wgm-$P
wgc=wgc-$P
declare -A pid_of=()  # name -> PID of everything started in the background

stop_pid() {  # stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (10)
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < ${2:-10} * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_named() {  # stop_named NAME: the process started under NAME
  local n=$1
  [[ -n ${pid_of[$n]:-} ]] || return 0
  stop_pid "${pid_of[$n]}"
  unset "pid_of[$n]"
}
cleanup() {
  local rc=$? n ns pids
  trap - EXIT
  # ntmd and ntm-rs first (they talk to the DC), the DC last.
  for n in perf iperf3 ntmd-mn ntmd-cn rs wg-mn wg-cn; do stop_named "$n"; done
  stop_named dc
  for n in "${!pid_of[@]}"; do stop_named "$n"; done
  # Anything still inside the namespaces made here was started here.
  for ns in core rm rc mn cn; do
    pids=$(ip netns pids "$P-$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; fi
    ip netns del "$P-$ns" 2>/dev/null || true
  done
  rm -f "/var/run/wireguard/$wgm.sock" "/var/run/wireguard/$wgc.sock"
  if [[ $keep == 1 || $rc -ne 0 ]]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nx() {  # nx HOST CMD...: run CMD in HOST's namespace
  local h=$1
  shift
  ip netns exec "$P-$h" "$@"
}
bg_pid=""
bgx() {  # bgx HOST LOG CMD...: CMD in HOST's namespace in the background,
  # output appended to LOG; bg_pid is its PID (ip netns exec execs CMD).
  local h=$1 out=$2
  shift 2
  ip netns exec "$P-$h" "$@" >>"$out" 2>&1 &
  bg_pid=$!
}
now_ms() { date +%s%3N; }
t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say() { echo "  $(date -u +%H:%M:%S) $*" >&2; }

# --- topology -------------------------------------------------------------------
ip netns list | grep -q "^$P-" && die "namespaces $P-* exist already"
for h in core rm rc mn cn; do
  ip netns add "$P-$h"
  ip -n "$P-$h" link set lo up
  nx "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
# LANs: host eth0 <-> router lan
ip -n "$P-mn" link add eth0 type veth peer name lan netns "$P-rm"
ip -n "$P-cn" link add eth0 type veth peer name lan netns "$P-rc"
# WANs: router wan <-> core
ip -n "$P-rm" link add wan type veth peer name to-m netns "$P-core"
ip -n "$P-rc" link add wan type veth peer name to-c netns "$P-core"
ip -n "$P-mn" addr add 10.1.0.2/24 dev eth0
ip -n "$P-cn" addr add 10.2.0.2/24 dev eth0
ip -n "$P-rm" addr add 10.1.0.1/24 dev lan
ip -n "$P-rc" addr add 10.2.0.1/24 dev lan
ip -n "$P-rm" addr add 198.51.100.2/30 dev wan
ip -n "$P-rc" addr add 198.51.100.6/30 dev wan
ip -n "$P-core" addr add 198.51.100.1/30 dev to-m
ip -n "$P-core" addr add 198.51.100.5/30 dev to-c
ip -n "$P-core" addr add 203.0.113.10/32 dev lo
ip -n "$P-core" addr add 203.0.113.20/32 dev lo
for pair in "mn eth0" "cn eth0" "rm lan" "rm wan" "rc lan" "rc wan" "core to-m" "core to-c"; do
  read -r h dev <<<"$pair"
  ip -n "$P-$h" link set "$dev" up
done
ip -n "$P-mn" route add default via 10.1.0.1
ip -n "$P-cn" route add default via 10.2.0.1
ip -n "$P-rm" route add default via 198.51.100.1
ip -n "$P-rc" route add default via 198.51.100.5
for h in rm rc core; do nx "$h" sysctl -qw net.ipv4.ip_forward=1; done
# The NAT table exists in both phases (so conntrack runs on the routers in
# both); only the masquerade rule comes and goes.
for h in rm rc; do
  nx "$h" nft add table ip ntmbench
  nx "$h" nft add chain ip ntmbench post '{ type nat hook postrouting priority srcnat ; }'
done
routes_on() {
  ip -n "$P-core" route replace 10.1.0.0/24 via 198.51.100.2
  ip -n "$P-core" route replace 10.2.0.0/24 via 198.51.100.6
}
routes_on
nat_on() {
  local h
  for h in rm rc; do nx "$h" nft add rule ip ntmbench post oifname wan masquerade; done
  ip -n "$P-core" route del 10.1.0.0/24
  ip -n "$P-core" route del 10.2.0.0/24
  for h in rm rc; do nx "$h" conntrack -F >/dev/null 2>&1 || true; done
}
nat_off() {
  local h
  for h in rm rc; do nx "$h" nft flush chain ip ntmbench post; done
  routes_on
  for h in rm rc; do nx "$h" conntrack -F >/dev/null 2>&1 || true; done
}
nx mn ping -n -c 1 -W 2 10.2.0.2 >/dev/null || die "topology: MN cannot reach CN's real address"

# --- DC, enrolment, RS ----------------------------------------------------------
wait_for() {  # wait_for FILE PATTERN PID SECONDS
  local i
  for ((i = 0; i < $4 * 20; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
mkdir -p "$W/dc" "$W/mn" "$W/cn" "$W/rs" "$W/wg"
cat >"$W/dc.conf" <<EOF
[dc]
id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
zones = $zone
listen = 203.0.113.10:4510
state_dir = $W/dc
[timers]
keepalive_s = 10
lifetime_s = 40
max_skew_s = $dc_max_skew
[log]
level = $dc_log_level
EOF
bgx core "$W/dc.log" "$dc_bin" -c "$W/dc.conf" serve
pid_of[dc]=$bg_pid
wait_for "$W/dc.log" 'ntm-dc ready' "${pid_of[dc]}" 60 || { tail -20 "$W/dc.log" >&2; die "ntm-dc did not get ready"; }
dcx() { nx core "$dc_bin" -c "$W/dc.conf" --log-level warn "$@"; }
for h in mn cn; do
  dcx node add "$h.$zone" -o "$W/$h/node.conf" >/dev/null
  cat >>"$W/$h/node.conf" <<EOF

[ntmd]
listen = 0.0.0.0:4520
tun = ntm0
mtu = $mtu
dns_listen = 127.0.0.53:53
dns_upstream = 127.0.0.1:9
tunnel_wait_ms = 5000
status_socket = $W/$h/ntmd.sock
EOF
done
dcx relay add "rs.$zone" -o "$W/rs/relay.conf" >/dev/null
cat >>"$W/rs/relay.conf" <<EOF

[rs]
listen = 203.0.113.20:4530
advertise = 203.0.113.20:4530
translate = off
kernel_forward = $rs_kernel_forward
status_socket = $W/rs/rs.sock
EOF
bgx core "$W/rs/rs.log" "$rs_bin" -c "$W/rs/relay.conf" run
pid_of[rs]=$bg_pid
wait_for "$W/rs/rs.log" 'ntm-rs ready' "${pid_of[rs]}" 20 || { tail -20 "$W/rs/rs.log" >&2; die "ntm-rs did not get ready"; }

# The DC keeps 4 sender-instance slots per node and frees one after
# 2 x max_skew_s of silence (wire/replay_window.hpp, dc/control/server.cpp):
# a node restarted faster than that is refused as a replay
# (too_many_senders).  Hence max_skew_s = 1 here and at least
# max_skew_s + 0.2 s between two starts (at most 3 slots then in use).
ntmd_runs=0
last_start_ms=0
start_ntmd() {  # start_ntmd: ntmd on MN and CN, until both are registered
  local h gap
  gap=$((dc_max_skew * 1000 + 200 - ($(now_ms) - last_start_ms)))
  if ((gap > 0)); then sleep "$(awk -v g="$gap" 'BEGIN { print g / 1000 }')"; fi
  last_start_ms=$(now_ms)
  ntmd_runs=$((ntmd_runs + 1))
  for h in cn mn; do
    echo "--- run $ntmd_runs" >>"$W/$h/ntmd.log"
    bgx "$h" "$W/$h/ntmd.log" "$ntmd_bin" -c "$W/$h/node.conf" --log-level "$ntmd_log_level" run
    pid_of[ntmd-$h]=$bg_pid
  done
  for h in cn mn; do
    local i ok=0
    for ((i = 0; i < 400; i++)); do
      if sed -n "/^--- run $ntmd_runs\$/,\$p" "$W/$h/ntmd.log" | grep -q 'ntmd ready'; then ok=1; break; fi
      kill -0 "${pid_of[ntmd-$h]}" 2>/dev/null || break
      sleep 0.05
    done
    if [[ $ok != 1 ]]; then
      tail -20 "$W/$h/ntmd.log" >&2
      die "ntmd on $h did not get ready (log above)"
    fi
  done
}
stop_ntmd() { stop_named ntmd-mn; stop_named ntmd-cn; }
ntmd_status() { "$ntmd_bin" status --socket "$W/$1/ntmd.sock" --json 2>/dev/null; }

# --- wireguard-go ---------------------------------------------------------------
(umask 077; wg genkey >"$W/wg/mn.key"; wg genkey >"$W/wg/cn.key")
wg pubkey <"$W/wg/mn.key" >"$W/wg/mn.pub"
wg pubkey <"$W/wg/cn.key" >"$W/wg/cn.pub"
start_wg() {  # start_wg HOST IFNAME MYADDR PEERHOST PEERADDR PEERREAL
  local h=$1 dev=$2 me=$3 peer=$4 peer_addr=$5 peer_real=$6 i
  WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=error \
    bgx "$h" "$W/wg/$h.log" wireguard-go -f "$dev"
  pid_of[wg-$h]=$bg_pid
  for ((i = 0; i < 100; i++)); do
    [[ -S /var/run/wireguard/$dev.sock ]] && break
    kill -0 "${pid_of[wg-$h]}" 2>/dev/null || break
    sleep 0.05
  done
  [[ -S /var/run/wireguard/$dev.sock ]] || { cat "$W/wg/$h.log" >&2; die "wireguard-go on $h did not start"; }
  nx "$h" wg set "$dev" listen-port 51820 private-key "$W/wg/$h.key" \
    peer "$(cat "$W/wg/$peer.pub")" allowed-ips "$peer_addr/32" endpoint "$peer_real:51820"
  ip -n "$P-$h" addr add "$me/24" dev "$dev"
  ip -n "$P-$h" link set "$dev" mtu "$mtu" up
}
start_wg mn "$wgm" 10.99.0.1 cn 10.99.0.2 10.2.0.2
start_wg cn "$wgc" 10.99.0.2 mn 10.99.0.1 10.1.0.2
nx mn ping -n -c 3 -i 0.2 -W 2 10.99.0.2 >/dev/null || die "wireguard-go: MN cannot ping CN's tunnel address"
wg_version=$(wireguard-go --version 2>/dev/null | head -1)


# --- measuring helpers ----------------------------------------------------------
cat >"$W/dnsq.py" <<'PY'
# dnsq.py NAME: one A query to 127.0.0.53:53, timed around the socket calls.
# Prints "ms rcode address" (address "-" when there is none).
import random, socket, struct, sys, time
name = sys.argv[1]
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect(("127.0.0.53", 53))
t0 = time.perf_counter()
s.send(q)
while True:
    r = s.recv(4096)
    if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
        break
t1 = time.perf_counter()
flags, qd, an = struct.unpack(">HHH", r[2:8])
rcode = flags & 0xF
i = 12
for _ in range(qd):          # skip the question
    while r[i] != 0:
        i += 1 + r[i]
    i += 5
addr = "-"
for _ in range(an):
    if r[i] & 0xC0 == 0xC0:
        i += 2
    else:
        while r[i] != 0:
            i += 1 + r[i]
        i += 1
    typ, cls, ttl, rdlen = struct.unpack(">HHIH", r[i:i + 10])
    i += 10
    if typ == 1 and rdlen == 4:
        addr = socket.inet_ntoa(r[i:i + 4])
        break
    i += rdlen
print("%.3f %d %s" % ((t1 - t0) * 1000, rcode, addr))
PY

# thread_ticks PID...: "pid tid comm ticks" for every thread (utime+stime)
thread_ticks() {
  local p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      [[ -r $t/stat ]] || continue
      awk -v p="$p" -v t="${t##*/}" -v c="$(cat "$t/comm" 2>/dev/null)" \
        '{ sub(/.*\) /, ""); print p, t, c, $12 + $13 }' "$t/stat" 2>/dev/null || true
    done
  done
}
cpu_total() { awk '/^cpu / { print $2 + $3 + $4 + $6 + $7 + $8, $5 + $6 }' /proc/stat; }
hz=$(getconf CLK_TCK)

# thread_cpu BEFORE AFTER SECONDS: "pid tid comm percent" lines, busiest first
thread_cpu() {
  awk -v s="$3" -v hz="$hz" 'NR == FNR { b[$2] = $4; next }
    { printf "%s %s %s %.1f\n", $1, $2, $3, ($4 - b[$2]) * 100 / hz / s }' "$1" "$2" | sort -k4,4gr
}

# removed_count: how many times the ntmds have logged a path removed as silent
removed_count() { cat "$W/mn/ntmd.log" "$W/cn/ntmd.log" 2>/dev/null | grep -c 'silent for .* removed' || true; }

round_file=""
emit() { echo "$1 $2" >>"$round_file"; }

# run_iperf KEY TARGET LABEL PIDS...: iperf3 MN -> TARGET, thread CPU of PIDS
run_iperf() {
  local key=$1 target=$2 label=$3 out
  shift 3
  out=$res/r$r-$key-iperf.json
  thread_ticks "$@" >"$W/ticks.before"
  read -r busy0 idle0 < <(cpu_total)
  local t0 t1
  t0=$(now_ms)
  local rm0 rm1
  rm0=$(removed_count)
  # iperf3 waits forever when its connection stalls: bounded here.
  # a fresh one-test server each time: a stalled test would keep a
  # long-lived server busy for the next client
  bgx cn "$W/iperf3-server.log" iperf3 -s -1 -p 5201
  pid_of[iperf3]=$bg_pid
  local i
  for ((i = 0; i < 100; i++)); do
    nx cn ss -Hltn 'sport = :5201' | grep -q . && break
    sleep 0.02
  done
  local irc=0
  nx mn timeout -k 2 $((secs + omit + 15)) \
    iperf3 -c "$target" -p 5201 -t "$secs" -O "$omit" -J --connect-timeout 5000 >"$out" 2>&1 || irc=$?
  rm1=$(removed_count)
  stop_named iperf3
  if ((rm1 > rm0)); then
    emit "${key}_path_removed" $((rm1 - rm0))
    say "round $r $label: ntmd removed the path during the run ($((rm1 - rm0)) 'silent for ... removed' lines):"
    grep -h 'silent for .* removed' "$W/mn/ntmd.log" "$W/cn/ntmd.log" | tail -n $((rm1 - rm0)) | sed 's/^/      /' >&2
  fi
  t1=$(now_ms)
  read -r busy1 idle1 < <(cpu_total)
  thread_ticks "$@" >"$W/ticks.after"
  local bps retr
  bps=$(jq -r '.end.sum_received.bits_per_second // empty' "$out" 2>/dev/null || true)
  if ((irc == 124 || irc == 137)); then
    echo "iperf3 killed after $((secs + omit + 15)) s (the transfer stalled)" >>"$out"
    bps=""
  fi
  retr=$(jq -r '.end.sum_sent.retransmits // empty' "$out" 2>/dev/null || true)
  if [[ -z $bps ]]; then
    say "round $r $label: iperf3 FAILED (exit $irc): $(tail -1 "$out")"
    emit "${key}_iperf_failed" 1
    return 0
  fi
  local mbps wall busy
  mbps=$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }')
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1000 }')
  busy=$(awk -v b0="$busy0" -v b1="$busy1" -v i0="$idle0" -v i1="$idle1" \
    'BEGIN { printf "%.0f", (b1 - b0) * 100 / (b1 - b0 + i1 - i0) }')
  emit "${key}_tcp_mbps" "$mbps"
  emit "${key}_tcp_retr" "$retr"
  emit "${key}_machine_busy_pct" "$busy"
  local tc=""
  if (($# > 0)); then
    thread_cpu "$W/ticks.before" "$W/ticks.after" "$wall" >"$res/r$r-$key-threads.txt"
    # the busiest thread of each process, and the process totals
    local p top tot
    for p in "$@"; do
      top=$(awk -v p="$p" '$1 == p { print $4; exit }' "$res/r$r-$key-threads.txt")
      tot=$(awk -v p="$p" '$1 == p { s += $4 } END { printf "%.1f", s }' "$res/r$r-$key-threads.txt")
      tc+=" ${pname[$p]}: top thread ${top:-?}%, all ${tot}%;"
      emit "${key}_${pname[$p]}_top_thread_pct" "${top:-0}"
      emit "${key}_${pname[$p]}_cpu_pct" "$tot"
    done
  fi
  say "round $r $label: $mbps Mbit/s, $retr retransmits, machine ${busy}% busy;$tc"
}

# run_ping KEY TARGET LABEL
run_ping() {
  local key=$1 target=$2 label=$3 out
  out=$res/r$r-$key-ping.txt
  nx mn ping -n -c "$pings" -i "$ping_iv" -W 1 "$target" >"$out" 2>&1 || true
  local stats
  stats=$(grep -o 'time=[0-9.]*' "$out" | cut -d= -f2 | sort -g |
    awk '{ v[NR] = $1; s += $1 } END {
      if (NR == 0) { print "- - 0"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.4f %.4f %d\n", m, s / NR, NR }' || true)
  read -r med avg n <<<"$stats"
  if [[ $n == 0 ]]; then
    say "round $r $label: ping FAILED ($(tail -2 "$out" | head -1))"
    emit "${key}_ping_failed" 1
    return 0
  fi
  emit "${key}_rtt_med_ms" "$med"
  emit "${key}_rtt_avg_ms" "$avg"
  emit "${key}_ping_lost" $((pings - n))
  say "round $r $label: ping median $med ms, average $avg ms, $((pings - n))/$pings lost"
}

# fresh_setup KEY ROUTE: restart both ntmd, time the first query for the
# CN's name; sets vip.  Fails the run when the path is not up on ROUTE.
vip=""
fresh_setup() {
  local key=$1 want=$2 out ms rc addr js route state
  stop_ntmd
  start_ntmd
  out=$(nx mn python3 "$W/dnsq.py" "cn.$zone" 2>&1) || true
  read -r ms rc addr <<<"$out"
  js=$(ntmd_status mn)
  read -r route state < <(jq -r --arg p "cn.$zone" \
    '[.paths[] | select(.peer == $p)] | last | "\(.route) \(.state)"' <<<"$js" 2>/dev/null || echo "? ?")
  echo "round $r $key: query ${ms:-?} ms rcode ${rc:-?} answer ${addr:-?}, route $route $state" \
    >>"$res/setup.txt"
  if [[ $rc != 0 || $addr == - || $route != "$want" || $state != up ]]; then
    echo "$js" | jq . >&2 2>/dev/null || echo "$js" >&2
    for h in mn cn; do echo "--- $h/ntmd.log" >&2; tail -15 "$W/$h/ntmd.log" >&2; done
    echo "--- dc.log" >&2; grep -i 'direction' "$W/dc.log" | tail -5 >&2 || true
    die "set-up ($key): '$out', route '$route' state '$state' (expected $want up)"
  fi
  vip=$addr
  emit "${key}_setup_ms" "$ms"
  say "round $r $key: fresh path set up in $ms ms (answer $addr, route $route)"
}

# --- rounds ---------------------------------------------------------------------
declare -A pname=()
echo "tunnel bench: $rounds rounds; iperf3 $secs s (+$omit s omitted), $pings pings every $ping_iv s, $setup_reps fresh set-ups per round and route ..." >&2
for ((r = 1; r <= rounds; r++)); do
  round_file=$res/round-$r.txt
  : >"$round_file"
  # direct phase
  for ((k = 1; k <= setup_reps; k++)); do fresh_setup direct direct; done
  nvip=$vip
  pname=([${pid_of[ntmd-mn]}]=ntmd_mn [${pid_of[ntmd-cn]}]=ntmd_cn [${pid_of[wg-mn]}]=wg_mn [${pid_of[wg-cn]}]=wg_cn)
  order=(base wg ntm)
  for ((i = 0; i < (r - 1) % 3; i++)); do order=("${order[@]:1}" "${order[0]}"); done
  for what in "${order[@]}"; do
    case $what in
      base) run_ping base 10.2.0.2 "(a) base"; run_iperf base 10.2.0.2 "(a) base" ;;
      wg) run_ping wg 10.99.0.2 "(b) wireguard-go"
          run_iperf wg 10.99.0.2 "(b) wireguard-go" "${pid_of[wg-mn]}" "${pid_of[wg-cn]}" ;;
      ntm) run_ping ntm "$nvip" "NTM direct"
           run_iperf ntm "$nvip" "NTM direct" "${pid_of[ntmd-mn]}" "${pid_of[ntmd-cn]}" ;;
    esac
  done
  ntmd_status mn >"$res/r$r-ntm-status-mn.json" || true
  # NAT phase: the same hosts behind two masquerading routers
  stop_ntmd
  nat_on
  nx mn ping -n -c 1 -W 1 10.2.0.2 >/dev/null 2>&1 && die "NAT phase: MN still reaches CN's real address"
  for ((k = 1; k <= setup_reps; k++)); do fresh_setup relay relay; done
  pname=([${pid_of[ntmd-mn]}]=ntmd_mn [${pid_of[ntmd-cn]}]=ntmd_cn [${pid_of[rs]}]=rs)
  run_ping rly "$vip" "NTM via RS"
  run_iperf rly "$vip" "NTM via RS" "${pid_of[ntmd-mn]}" "${pid_of[ntmd-cn]}" "${pid_of[rs]}"
  ntmd_status mn >"$res/r$r-rly-status-mn.json" || true
  "$rs_bin" status --socket "$W/rs/rs.sock" --json >"$res/r$r-rs-status.json" 2>/dev/null || true
  stop_ntmd
  nat_off
  # ratios of this round
  awk '{ v[$1] = $2 }
    END {
      if (v["wg_tcp_mbps"] > 0 && ("ntm_tcp_mbps" in v)) print "ratio_ntm_wg_tcp", v["ntm_tcp_mbps"] / v["wg_tcp_mbps"]
      if (v["wg_tcp_mbps"] > 0 && ("rly_tcp_mbps" in v)) print "ratio_rly_wg_tcp", v["rly_tcp_mbps"] / v["wg_tcp_mbps"]
      if (v["base_tcp_mbps"] > 0 && ("wg_tcp_mbps" in v)) print "ratio_wg_base_tcp", v["wg_tcp_mbps"] / v["base_tcp_mbps"]
      if (v["base_tcp_mbps"] > 0 && ("ntm_tcp_mbps" in v)) print "ratio_ntm_base_tcp", v["ntm_tcp_mbps"] / v["base_tcp_mbps"]
      if (("base_rtt_med_ms" in v)) {
        if ("wg_rtt_med_ms" in v) print "wg_added_med_ms", v["wg_rtt_med_ms"] - v["base_rtt_med_ms"]
        if ("ntm_rtt_med_ms" in v) print "ntm_added_med_ms", v["ntm_rtt_med_ms"] - v["base_rtt_med_ms"]
        if ("rly_rtt_med_ms" in v) print "rly_added_med_ms", v["rly_rtt_med_ms"] - v["base_rtt_med_ms"]
        if ("wg_rtt_avg_ms" in v) print "wg_added_avg_ms", v["wg_rtt_avg_ms"] - v["base_rtt_avg_ms"]
        if ("ntm_rtt_avg_ms" in v) print "ntm_added_avg_ms", v["ntm_rtt_avg_ms"] - v["base_rtt_avg_ms"]
        if ("rly_rtt_avg_ms" in v) print "rly_added_avg_ms", v["rly_rtt_avg_ms"] - v["base_rtt_avg_ms"]
      }
    }' "$round_file" >>"$round_file.ratios"
  cat "$round_file.ratios" >>"$round_file"
  rm -f "$round_file.ratios"
done

# --- profile phase ----------------------------------------------------------------
profile=$res/profile.txt
: >"$profile"
if [[ $perf_on == 1 ]]; then
  r=profile
  round_file=$res/profile-values.txt
  : >"$round_file"
  fresh_setup prof direct
  pm=${pid_of[ntmd-mn]}
  pc=${pid_of[ntmd-cn]}
  pname=([$pm]=ntmd_mn [$pc]=ntmd_cn)
  {
    echo "== profile: iperf3 over NTM direct, $perf_secs s, MN ntmd pid $pm, CN ntmd pid $pc"
    echo "threads of ntmd (pid tid comm; the data-path threads are the two that move packets):"
    for p in "$pm" "$pc"; do
      for t in /proc/"$p"/task/*; do echo "  $p ${t##*/} $(cat "$t/comm")"; done
    done
  } >>"$profile"
  jq_pkts='[.paths[] | select(.peer == "cn.'$zone'" or .peer == "mn.'$zone'")] | last | "\(.tx_packets) \(.rx_packets)"'
  read -r mtx0 mrx0 < <(ntmd_status mn | jq -r "$jq_pkts" || echo "0 0")
  read -r ctx0 crx0 < <(ntmd_status cn | jq -r "$jq_pkts" || echo "0 0")
  if [[ $have_perf == 1 ]]; then
    (sleep 1.2; exec perf stat --per-thread -x, -o "$res/perf-stat.csv" \
      -e raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_poll,syscalls:sys_enter_ppoll,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches \
      -p "$pm,$pc" -- sleep "$perf_secs" >/dev/null 2>&1) &
    pid_of[perf]=$!
  fi
  secs_saved=$secs
  secs=$((perf_secs + 2))
  run_iperf prof "$vip" "profile" "$pm" "$pc" 2>/dev/null || true
  secs=$secs_saved
  [[ -n ${pid_of[perf]:-} ]] && { wait "${pid_of[perf]}" 2>/dev/null || true; unset "pid_of[perf]"; }
  read -r mtx1 mrx1 < <(ntmd_status mn | jq -r "$jq_pkts" || echo "0 0")
  read -r ctx1 crx1 < <(ntmd_status cn | jq -r "$jq_pkts" || echo "0 0")
  [[ $mtx1 =~ ^[0-9]+$ && $mtx0 =~ ^[0-9]+$ ]] || { mtx0=0 mrx0=0 mtx1=0 mrx1=0; }
  [[ $ctx1 =~ ^[0-9]+$ && $ctx0 =~ ^[0-9]+$ ]] || { ctx0=0 crx0=0 ctx1=0 crx1=0; }
  {
    echo "iperf3 during the profile: $(grep '^prof_tcp_mbps' "$round_file" | cut -d' ' -f2) Mbit/s"
    echo "per-thread CPU, % of one CPU, over the iperf3 run (pid tid comm %):"
    sed 's/^/  /' "$res/rprofile-prof-threads.txt" 2>/dev/null || true
    echo "ntmd packet counters over the run: MN tx $((mtx1 - mtx0)) rx $((mrx1 - mrx0)), CN tx $((ctx1 - ctx0)) rx $((crx1 - crx0)) (whole iperf3 run, $((perf_secs + 2 + omit)) s)"
    if [[ -f $res/perf-stat.csv ]]; then
      echo "system calls per thread over ${perf_secs} s inside the run (perf stat --per-thread; comm-tid,count,,event):"
      grep -v '^#' "$res/perf-stat.csv" | awk -F, 'NF > 3 && $2 + 0 > 0 { printf "  %s %s %s\n", $1, $2, $4 }' || true
    fi
  } >>"$profile"
  if [[ $have_perf == 1 ]]; then
    (sleep 1.2; exec perf record -F 999 -g -e cpu-clock -o "$res/perf-ntmd-mn.data" -p "$pm" -- sleep "$perf_secs" >/dev/null 2>&1) &
    pid_of[perf]=$!
    secs=$((perf_secs + 2))
    run_iperf prof2 "$vip" "profile (perf record)" 2>/dev/null || true
    secs=$secs_saved
    wait "${pid_of[perf]}" 2>/dev/null || true
    unset "pid_of[perf]"
    {
      echo "perf record of MN's ntmd (sender side) during iperf3, self time by DSO, then by symbol (top 30):"
      perf report -i "$res/perf-ntmd-mn.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep '%' | head -8 | sed 's/^/  /' || true
      perf report -i "$res/perf-ntmd-mn.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
        grep '%' | head -30 | sed 's/^/  /' || true
    } >>"$profile"
  fi
  stop_ntmd
  # wireguard-go's threads for comparison
  r=profile
  pname=([${pid_of[wg-mn]}]=wg_mn [${pid_of[wg-cn]}]=wg_cn)
  run_iperf profwg 10.99.0.2 "profile wireguard-go" "${pid_of[wg-mn]}" "${pid_of[wg-cn]}" 2>/dev/null || true
  {
    echo "== wireguard-go over the same kind of run: per-thread CPU (pid tid comm %), busiest 12:"
    head -12 "$res/rprofile-profwg-threads.txt" 2>/dev/null | sed 's/^/  /' || true
  } >>"$profile"
fi

# --- summary ----------------------------------------------------------------------
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_total=$(($(date +%s) - t_start))
summarize "$res/summary.txt" "$res"/round-*.txt

# cell KEY DECIMALS: "median (min–max)", or "n/a"
cell() {
  local m
  m=$(get "$1")
  if [[ -z $m ]]; then echo "n/a"; return; fi
  if [[ $rounds -gt 1 || $(grep -c "^$1 " "$res"/round-*.txt | awk -F: '{ s += $2 } END { print s }' || true) -gt 1 ]]; then
    echo "$(fmt "$1" 1 "$2") ($(fmt "$1" 1 "$2" 3)–$(fmt "$1" 1 "$2" 4))"
  else
    fmt "$1" 1 "$2"
  fi
}
verdict() {  # verdict VALUE OP TARGET
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    if (v == "") { print "**no figure** (measurement failed)"; exit }
    ok = (op == ">=") ? (v >= t) : (v <= t)
    print ok ? "met" : "**missed**" }'
}
n_setup_d=$(grep -h -c '^direct_setup_ms ' "$res"/round-*.txt | awk '{ s += $1 } END { print s }' || true)
n_setup_r=$(grep -h -c '^relay_setup_ms ' "$res"/round-*.txt | awk '{ s += $1 } END { print s }' || true)
fails=$(grep -h '_failed ' "$res"/round-*.txt | cut -d' ' -f1 | sort | uniq -c | awk '{ printf "%s%s ×%s", sep, $2, $1; sep = ", " }' || true)

echo
echo "### Results: $(date -u '+%Y-%m-%d, %H:%M UTC')"
echo
echo "Machine: $(nproc) CPUs, \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\", kernel $(uname -r)," \
  "load average $load_before before and $load_after after; the run took ${t_total} s."
echo "Software: $(iperf3 --version | head -1 | cut -d' ' -f1-2), wireguard-go $wg_version (Debian $(dpkg-query -W -f='${Version}' wireguard-go)), wireguard-tools $(dpkg-query -W -f='${Version}' wireguard-tools), $(ping -V 2>&1 | head -1)."
echo "Code: $code_desc, RelWithDebInfo. Settings: ROUNDS=$rounds SECONDS_PER_ROUND=$secs OMIT=$omit PINGS=$pings PING_INTERVAL=$ping_iv SETUP_REPS=$setup_reps MTU=$mtu (tunnel interfaces of ntmd and wireguard-go) RS_KERNEL_FORWARD=$rs_kernel_forward."
[[ -n $fails ]] && echo "FAILED measurements: $fails (see $res)."
echo
echo "iperf3 TCP MN → CN and ping MN → CN, median over $rounds rounds (min–max):"
echo
echo "| | TCP Mbit/s | retransmits | RTT median, ms | RTT average, ms | added RTT (median − base), ms | busiest thread, % of a CPU | machine busy, % |"
echo "|---|---:|---:|---:|---:|---:|---|---:|"
row() {  # row KEY LABEL THREADS
  echo "| $2 | $(cell "${1}_tcp_mbps" 0) | $(cell "${1}_tcp_retr" 0) | $(cell "${1}_rtt_med_ms" 3) | $(cell "${1}_rtt_avg_ms" 3) | ${4:-$(cell "${1}_added_med_ms" 3)} | $3 | $(cell "${1}_machine_busy_pct" 0) |"
}
thr() {  # thr KEY PROC...: "proc top%" list
  local k=$1 p out=()
  shift
  for p in "$@"; do out+=("$p $(cell "${k}_${p}_top_thread_pct" 0)"); done
  local IFS=';'
  echo "${out[*]}" | sed 's/;/; /g'
}
row base "(a) no tunnel, real addresses" "" "—"
row wg "(b) wireguard-go" "$(thr wg wg_mn wg_cn)"
row ntm "NTM direct (ntmd ↔ ntmd)" "$(thr ntm ntmd_mn ntmd_cn)"
row rly "NTM via RS (ntmd → ntm-rs → ntmd)" "$(thr rly ntmd_mn ntmd_cn rs)"
for k in ntm rly; do
  nrm=$(cat "$res"/round-*.txt | grep -c "^${k}_path_removed " || true)
  nfail=$(cat "$res"/round-*.txt | grep -c "^${k}_iperf_failed " || true)
  if ((nrm + nfail > 0)); then
    echo
    echo "$k: ntmd removed its path as \"silent\" during $nrm of $rounds iperf3 runs; $nfail iperf3 runs failed (no figure)."
  fi
done
echo
echo "Set-up time, from the application's A query to ntmd's answer, fresh path each time (both ntmd restarted):"
echo
echo "| Route | n | median, ms | min–max, ms |"
echo "|---|---:|---:|---:|"
echo "| direct | $n_setup_d | $(fmt direct_setup_ms 1 2) | $(fmt direct_setup_ms 1 2 3)–$(fmt direct_setup_ms 1 2 4) |"
echo "| relay | $n_setup_r | $(fmt relay_setup_ms 1 2) | $(fmt relay_setup_ms 1 2 3)–$(fmt relay_setup_ms 1 2 4) |"
echo
echo "| Headline | Median (min–max over rounds) | Target | Verdict |"
echo "|---|---:|---|---|"
echo "| NTM direct TCP / wireguard-go TCP | $(cell ratio_ntm_wg_tcp 2) | ≥ 2 | $(verdict "$(get ratio_ntm_wg_tcp)" '>=' 2) |"
echo "| NTM via RS TCP / wireguard-go TCP | $(cell ratio_rly_wg_tcp 2) | ≥ 2 | $(verdict "$(get ratio_rly_wg_tcp)" '>=' 2) |"
d_ntm=$(awk -v a="$(get ntm_added_med_ms)" -v b="$(get wg_added_med_ms)" 'BEGIN { if (a != "" && b != "") printf "%.4f", a - b }')
d_rly=$(awk -v a="$(get rly_added_med_ms)" -v b="$(get wg_added_med_ms)" 'BEGIN { if (a != "" && b != "") printf "%.4f", a - b }')
echo "| NTM direct added RTT, ms (wireguard-go's: $(cell wg_added_med_ms 3)) | $(cell ntm_added_med_ms 3) | ≤ wireguard-go's | $(verdict "$d_ntm" '<=' 0) |"
echo "| NTM via RS added RTT, ms (wireguard-go's: $(cell wg_added_med_ms 3)) | $(cell rly_added_med_ms 3) | ≤ wireguard-go's | $(verdict "$d_rly" '<=' 0) |"
echo "| Set-up, direct, ms (n = $n_setup_d) | $(fmt direct_setup_ms 1 2) ($(fmt direct_setup_ms 1 2 3)–$(fmt direct_setup_ms 1 2 4)) | ≤ 10 | $(verdict "$(get direct_setup_ms)" '<=' 10) |"
echo "| Set-up, relayed, ms (n = $n_setup_r) | $(fmt relay_setup_ms 1 2) ($(fmt relay_setup_ms 1 2 3)–$(fmt relay_setup_ms 1 2 4)) | ≤ 20 | $(verdict "$(get relay_setup_ms)" '<=' 20) |"
echo "| (b) wireguard-go TCP / (a) no tunnel | $(cell ratio_wg_base_tcp 3) | | |"
echo "| NTM direct TCP / (a) no tunnel | $(cell ratio_ntm_base_tcp 3) | | |"
echo
echo "Every set-up (route and state from ntmd's status after the query):"
sed 's/^/    /' "$res/setup.txt"
if [[ -s $profile ]]; then
  echo
  echo "Profile (not part of the figures):"
  sed 's/^/    /' "$profile"
fi
echo
echo "Raw results (iperf3 JSON, ping output, per-thread CPU, status JSON): $res"
