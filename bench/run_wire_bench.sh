#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Wire-protocol benchmark (issue 2).  Builds ntm_bench_wire (Release, in its
# own build directory), then runs ROUNDS rounds pinned to one core.  Each
# round first measures the ceiling, `openssl speed -evp aes-256-gcm` at
# 1,024 bytes, then runs the benchmark, so that each ratio sets two figures
# taken seconds apart on the same core against each other.  Ratios are
# computed per round and their median reported; figures likewise.
# Prints a markdown table for docs/benchmarks.md; raw per-round values are
# kept in $BUILD_DIR/wire-bench/.
#
# Environment: ROUNDS (5), BENCH_CPU (0), OSSL_SECONDS (2), BENCH_SECONDS
# (0.4 timed seconds per metric), BENCH_SLICES (25), BUILD_DIR
# (<repo>/build/bench).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-5}
cpu=${BENCH_CPU:-0}
ossl_seconds=${OSSL_SECONDS:-2}
bench_seconds=${BENCH_SECONDS:-0.4}
bench_slices=${BENCH_SLICES:-25}
work=$build/wire-bench
bin=$build/bench/ntm_bench_wire

for tool in cmake openssl taskset awk; do
  command -v "$tool" >/dev/null || { echo "run_wire_bench.sh: $tool not found" >&2; exit 1; }
done

# --- build ----------------------------------------------------------------
mkdir -p "$build"
gen=()
# -G only on the first configure: CMake refuses a generator change later.
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
log=$build/wire-bench-build.log
if ! { cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target ntm_bench_wire; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_wire_bench.sh: build failed" >&2
  exit 1
fi

rm -rf "$work"
mkdir -p "$work"

# --- measure --------------------------------------------------------------
# `openssl speed -mr` prints "+F:<n>:<name>:<bytes per second>" per size
# (the human-readable table is in 1000s of bytes per second instead).
ossl_speed() {
  taskset -c "$cpu" openssl speed "$@" -seconds "$ossl_seconds" -mr 2>>"$work/openssl.log" |
    awk -F: '$1 == "+F" { print $4; found = 1 } END { exit !found }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "running $rounds rounds on CPU $cpu ..." >&2
for ((r = 1; r <= rounds; r++)); do
  f=$work/round$r.txt
  # The ceiling as the issue names it: openssl speed divides by user CPU
  # time by default; -elapsed gives the same run against the wall clock,
  # the counterpart of the benchmark's steady_clock figures.
  echo "ceiling_cpu_Bps $(ossl_speed -evp aes-256-gcm -bytes 1024)" >"$f"
  echo "ceiling_wall_Bps $(ossl_speed -elapsed -evp aes-256-gcm -bytes 1024)" >>"$f"
  taskset -c "$cpu" "$bin" --cpu "$cpu" --seconds "$bench_seconds" --slices "$bench_slices" \
    >"$work/bench$r.txt"
  grep -v '^#' "$work/bench$r.txt" >>"$f"
  # Ratios in percent, per round.  aead = 2 x payload / (t_seal + t_open):
  # AES-GCM bytes processed per second by seal+open, the like-for-like
  # counterpart of the one-pass ceiling.  The stream reference is OpenSSL's
  # bulk AES-GCM rate measured inside the benchmark (keyed once).
  ratios=$(awk '{ v[$1] = $2 }
    function pct(name, x, ref) { printf "pct_%s %.6f\n", name, 100 * x / ref }
    END {
      cc = v["ceiling_cpu_Bps"] / 1e6; cw = v["ceiling_wall_Bps"] / 1e6
      bulk = v["ref_gcm_stream1024_cpu_MBps"]
      split("seal open roundtrip aead", m, " ")
      for (i = 1; i <= 4; i++) {
        pct("cpu_" m[i], v["capsule_" m[i] "_cpu_MBps"], cc)
        pct("wall_" m[i], v["capsule_" m[i] "_MBps"], cw)
        pct("bulk_" m[i], v["capsule_" m[i] "_cpu_MBps"], bulk)
      }
      # From the measured round-trip time instead: 2 x payload / t_rt.
      pct("cpu_aead_rt", 2 * v["capsule_roundtrip_cpu_MBps"], cc)
      pct("wall_aead_rt", 2 * v["capsule_roundtrip_MBps"], cw)
      pct("bulk_aead_rt", 2 * v["capsule_roundtrip_cpu_MBps"], bulk)
      pct("ceiling_vs_bulk", cc, bulk)
      # Time of a capsule seal relative to the bare EVP calls it makes.
      pct("seal_vs_evp_packet", v["capsule_seal_cpu_ns"], v["ref_gcm_packet1400_cpu_ns"])
    }' "$f")
  echo "$ratios" >>"$f"
  echo "  round $r done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- medians --------------------------------------------------------------
# key -> "median min max" over the rounds.
summarize "$work/summary.txt" "$work"/round*.txt

row() {  # row LABEL KEY SCALE DECIMALS UNIT
  printf '| %s | %s | %s – %s | %s |\n' "$1" "$(fmt "$2" "$3" "$4")" "$(fmt "$2" "$3" "$4" 3)" \
    "$(fmt "$2" "$3" "$4" 4)" "$5"
}
# pct NAME: "median% (min–max)" of a per-round ratio.
pct() { echo "$(fmt "pct_$1" 1 1)% ($(fmt "pct_$1" 1 0 3)–$(fmt "pct_$1" 1 0 4))"; }
verdict() { awk -v x="$(get "pct_$1")" 'BEGIN { print (x >= 70) ? "met" : "missed" }'; }

# What was measured: the commit, and which measured folders differ from it.
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=$(git -C "$root" status --porcelain -- wire bench 2>/dev/null |
  awk '{ split($2, p, "/"); d[p[1] "/"] = 1 } END { for (k in d) printf "%s ", k }')
[[ -n $dirty ]] && commit="$commit + uncommitted changes in ${dirty% }"
cxx=$(awk -F= '/^CMAKE_CXX_COMPILER:/ { print $2 }' "$build/CMakeCache.txt")
cxx_version=$("$cxx" --version | awk 'NR == 1')
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(awk -F': ' '/^flags/ { print $2; exit }' /proc/cpuinfo)
aes_flags=$(for fl in aes pclmulqdq avx2 avx512f vaes vpclmulqdq; do
  [[ " $flags " == *" $fl "* ]] && printf '%s ' "$fl"
done)

cat <<EOF
### Wire benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) CPUs, $cpu_model (${aes_flags% }), kernel $(uname -r),
$(openssl version), $cxx_version, Release build.
Code: $commit.
Load average (1/5/15 min) before: $load_before; after: $load_after.
Pinned to CPU $cpu.  $rounds rounds; each: \`openssl speed\` (${ossl_seconds} s per run), then
ntm_bench_wire ($bench_slices interleaved slices per metric, $bench_seconds s per metric).
Median over rounds; min – max over rounds in the third column.
"CPU" figures divide by this thread's CPU time, "wall" figures by steady_clock.

| Metric | Median | Range | Unit |
|---|---:|---:|---|
EOF
row "**Ceiling**: \`openssl speed -evp aes-256-gcm -bytes 1024\` (CPU time, its default)" ceiling_cpu_Bps 1e-6 1 "MB/s"
row "Ceiling, same with \`-elapsed\` (wall)" ceiling_wall_Bps 1e-6 1 "MB/s"
row "Capsule seal, 1,400 B (CPU)" capsule_seal_cpu_MBps 1 1 "MB/s"
row "Capsule seal (CPU)" capsule_seal_cpu_ns 1 0 "ns/packet"
row "Capsule seal (wall)" capsule_seal_MBps 1 1 "MB/s"
row "Capsule open, 1,400 B (CPU)" capsule_open_cpu_MBps 1 1 "MB/s"
row "Capsule open (CPU)" capsule_open_cpu_ns 1 0 "ns/packet"
row "Capsule open (wall)" capsule_open_MBps 1 1 "MB/s"
row "Capsule seal+open round trip (CPU)" capsule_roundtrip_cpu_ns 1 0 "ns/packet"
row "Round trip, packet bytes through seal+open (CPU)" capsule_roundtrip_cpu_MBps 1 1 "MB/s"
row "Round trip, AEAD bytes = 2 × 1,400 / (t_seal + t_open) (CPU)" capsule_aead_cpu_MBps 1 1 "MB/s"
row "Round trip, AEAD bytes (wall)" capsule_aead_MBps 1 1 "MB/s"
row "Registration Request seal+encode (CPU)" regreq_seal_cpu_msgps 1e-3 0 "k msg/s"
row "Registration Request seal+encode (CPU)" regreq_seal_cpu_ns 1 0 "ns/msg"
row "Registration Request decode+open (CPU)" regreq_open_cpu_msgps 1e-3 0 "k msg/s"
row "Registration Request decode+open (CPU)" regreq_open_cpu_ns 1 0 "ns/msg"
row "Registration Request datagram" regreq_datagram_bytes 1 0 "bytes"
row "Heap allocations per packet, capsule seal (100k packets)" capsule_seal_allocs_per_pkt 1 3 "allocs"
row "Heap allocations per packet, capsule open (100k packets)" capsule_open_allocs_per_pkt 1 3 "allocs"
row "Heap allocations per message, Registration Request seal" regreq_seal_allocs_per_msg 1 3 "allocs"
row "Heap allocations per message, Registration Request open" regreq_open_allocs_per_msg 1 3 "allocs"
row "Reference: OpenSSL bulk AES-256-GCM, keyed once, 1,024-B updates (CPU)" ref_gcm_stream1024_cpu_MBps 1 1 "MB/s"
row "Reference: bare EVP seal of 1,400 B + 32 B AAD, keyed once (CPU)" ref_gcm_packet1400_cpu_ns 1 0 "ns/packet"
row "Clock reads around one timed open section of 256 packets (CPU)" section_overhead_cpu_ns 1 0 "ns"

cat <<EOF

| Ratio: median of per-round ratios (min–max) | CPU vs ceiling (openssl default) | wall vs ceiling (-elapsed) | CPU vs bulk reference |
|---|---:|---:|---:|
| Capsule seal | $(pct cpu_seal) | $(pct wall_seal) | $(pct bulk_seal) |
| Capsule open | $(pct cpu_open) | $(pct wall_open) | $(pct bulk_open) |
| Round trip, packet bytes through seal+open | $(pct cpu_roundtrip) | $(pct wall_roundtrip) | $(pct bulk_roundtrip) |
| **Round trip, AEAD bytes, 2 × 1,400 / (t_seal + t_open): the 70% target** | **$(pct cpu_aead)** ($(verdict cpu_aead)) | $(pct wall_aead) ($(verdict wall_aead)) | $(pct bulk_aead) |
| Round trip, AEAD bytes from the measured round trip, 2 × 1,400 / t_rt | $(pct cpu_aead_rt) | $(pct wall_aead_rt) | $(pct bulk_aead_rt) |

Ceiling vs bulk reference (CPU): $(pct ceiling_vs_bulk).
Capsule seal time vs the bare EVP calls it makes (CPU): $(pct seal_vs_evp_packet).
The verdicts compare the median with 70%.
Raw per-round values: $work/round*.txt
EOF
