#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The data path's route check during a move's blackout (issue 6;
# docs/benchmarks.md, "The data path's route check").  Builds
# ntm_bench_route_check (Release, in build/bench), makes a network namespace
# rc<pid> that stands for a laptop on a network: a veth (both ends inside
# the namespace) with 192.168.77.2/24 and a default route via .1, and two
# more interfaces with addresses, as a host has.  Then ROUNDS rounds pinned
# to one core; each round sets the cost of one route check against sealing
# one 1,400-byte capsule, measured in turns in the same round.  Prints the
# medians over the rounds (min – max).
#
# Network safety: no datagram leaves (a UDP connect() only looks the route
# up; the destination 203.0.113.50 is TEST-NET-3 and reachable only through
# the namespace's own veth).  Everything is made inside the namespace, which
# the EXIT trap deletes.
#
# Environment: ROUNDS (5), BENCH_CPU (0), SLICES (41), CALLS (500),
# BUILD_DIR (<repo>/build/bench).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-5}
cpu=${BENCH_CPU:-0}
slices=${SLICES:-41}
calls=${CALLS:-500}
work=$build/route-check-bench
bin=$build/bench/ntm_bench_route_check
ns=rc$$

die() { echo "run_route_check_bench.sh: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root (a network namespace)"
for tool in cmake ip taskset awk; do command -v "$tool" >/dev/null || die "$tool not found"; done

mkdir -p "$build"
gen=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
log=$build/route-check-bench-build.log
if ! { cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target ntm_bench_route_check; } >"$log" 2>&1; then
  tail -40 "$log" >&2
  die "build failed (log $log)"
fi

cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name v-eth0
ip -n "$ns" link set v-eth0 up
ip -n "$ns" link set eth0 up
ip -n "$ns" addr add 192.168.77.2/24 dev eth0
ip -n "$ns" route add default via 192.168.77.1 dev eth0
for i in 1 2; do
  ip -n "$ns" link add "eth$i" type veth peer name "v-eth$i"
  ip -n "$ns" link set "v-eth$i" up
  ip -n "$ns" link set "eth$i" up
  ip -n "$ns" addr add "10.77.$i.2/24" dev "eth$i"
done

rm -rf "$work"
mkdir -p "$work"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  ip netns exec "$ns" taskset -c "$cpu" "$bin" 203.0.113.50:4500 "$slices" "$calls" >"$work/raw$r.txt"
  grep -v '^#' "$work/raw$r.txt" >"$work/round$r.txt"
  echo "  round $r done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
summarize "$work/summary.txt" "$work"/round*.txt

line() {  # line LABEL KEY DECIMALS UNIT
  printf '| %s | %s | %s – %s | %s |\n' "$1" "$(fmt "$2" 1 "$3")" "$(fmt "$2" 1 "$3" 3)" "$(fmt "$2" 1 "$3" 4)" "$4"
}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- node bench 2>/dev/null || commit="$commit + uncommitted changes in node/ or bench/"
echo "### Results: $(date -u '+%Y-%m-%d, %H:%M UTC')"
echo
echo "Machine: $(nproc) CPUs, \"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)\", kernel $(uname -r), load average $load_before before, $load_after after."
echo "Code: $commit, Release. $rounds rounds on CPU $cpu, each $slices slices of $calls calls per figure, taken in turns; $(head -1 "$work/raw1.txt" | sed 's/^# //')."
echo
echo "| figure | median | min – max over rounds | unit |"
echo "|---|---:|---|---|"
line "one route check (\`route_source\`: socket, connect, getsockname, close; the carrier by SIOCGIFCONF + SIOCGIFFLAGS)" route_check_ns 0 "ns"
line "… of which the route lookup (socket, connect, getsockname, close)" route_lookup_ns 0 "ns"
line "an address dump (\`getifaddrs\`: how the carrier was read before)" address_dump_ns 0 "ns"
line "sealing one 1,400-byte capsule" capsule_seal_1400_ns 0 "ns"
line "one route check, in capsule seals" route_check_in_seals 1 "seals"
line "the interface thread's time at one check every 200 µs" share_at_200us_pct 1 "%"
