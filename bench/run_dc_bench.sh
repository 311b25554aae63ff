#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Direction Coordinator benchmark (issue 3).  Builds ntm-dc and the load
# generator ntm_bench_dc (Release, in its own build directory), starts a
# throwaway PostgreSQL cluster with durable commits (no fsync or
# synchronous_commit overrides) on a unix socket in a temporary directory,
# then runs ROUNDS rounds.  Each round:
#   1. the reference: pgbench's single-row upsert (environment.md §5.2:
#      table node, 100k rows, -M prepared -c 4 -j 2) on the same cluster;
#   2. a DC whose database holds the STORM simulated nodes (loaded with SQL
#      that mirrors `ntm-dc node add`): registration storm, Directions at
#      DIR_RATE/s for DIR_SECONDS, then MOVES nodes re-register from a new
#      port with the directed paths in the DC's view;
#   3. a DC whose database holds all NODES nodes: every node registers, the
#      DC's RSS is read, then Directions at FULL_DIR_RATE/s with that many
#      nodes in the view;
#   4. a restart of that DC: SIGTERM, start again, and the time from the
#      new process's start until it answers a registration.
# Both databases also hold one node enrolled through the CLI, which the
# restart probe plays.  Ratios are computed per round and their median
# reported; figures likewise.  Prints a markdown table for
# docs/benchmarks.md; raw per-round values and logs are kept in
# $BUILD_DIR/dc-bench/.  Everything runs on loopback and unix sockets, and
# everything started is stopped on exit, also on failure.
#
# Environment: ROUNDS (3), NODES (100000), STORM (10000), THREADS (2),
# WINDOW (100 outstanding registrations per thread), DIR_RATE (5000),
# DIR_SECONDS (10), MOVES (2000), FULL_DIR_RATE (50), FULL_DIR_SECONDS
# (4), PGBENCH_SECONDS (8), PG_EXTRA_OPTS (more postgres -c options, for experiments), DC_NICE
# (0; the DC's nice value, for experiments), PERF_SCHED (empty;
# N: `perf sched record -a` for N seconds from the first round's direction
# phase, kept as sched.data in the work directory: see KEEP), PERF_RECORD (empty;
# N: `perf record -e cpu-clock -a` for N seconds from the same moment, kept
# as perf.data; PERF_RECORD_OPTS adds options, e.g. --call-graph dwarf), DC_LOG_LEVEL (info, the DC's default), PROFILE
# (0; 1 loads pg_stat_statements and keeps each phase's top statements:
# that adds overhead, so not for the table), KEEP (0; 1 keeps the temporary
# directory), BUILD_DIR (<repo>/build/bench), SNAPSHOT (0; 1 builds the
# committed HEAD plus the working tree's bench/, in BUILD_DIR/snapshot: see
# below), CODE_DESC (overrides what the "Code:" line says).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-3}
nodes=${NODES:-100000}
storm=${STORM:-10000}
threads=${THREADS:-2}
# 2 x 100 outstanding registrations stay below the 256 datagrams that the
# DC's socket holds at the default receive buffer (see dc_load.cpp).
window=${WINDOW:-100}
dir_rate=${DIR_RATE:-5000}
dir_seconds=${DIR_SECONDS:-10}
moves=${MOVES:-2000}
full_dir_rate=${FULL_DIR_RATE:-50}
full_dir_seconds=${FULL_DIR_SECONDS:-4}
pgbench_seconds=${PGBENCH_SECONDS:-8}
log_level=${DC_LOG_LEVEL:-info}
profile=${PROFILE:-0}
perf_sched=${PERF_SCHED:-}
perf_record=${PERF_RECORD:-}
perf_record_opts=${PERF_RECORD_OPTS:-}
keep=${KEEP:-0}
zone=bench.ntm.example

pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
for tool in cmake awk date "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/pgbench" "$pgbin/psql"; do
  command -v "$tool" >/dev/null || { echo "run_dc_bench.sh: $tool not found" >&2; exit 1; }
done
# initdb and pg_ctl refuse to run as root: run them as postgres then.
as_pg=()
if [[ $EUID -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

# --- build ----------------------------------------------------------------
# SNAPSHOT=1 builds the committed HEAD, exported with git archive, plus the
# working tree's bench/ (this benchmark), instead of the working tree: while
# others edit dc/, a build can catch a header half-way through an edit and
# mix two layouts of one struct, and the "Code:" line names what was built.
snapshot_source "$root" "$build"
log=$build/dc-bench-build.log
if ! { cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target ntm-dc ntm_bench_dc; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_dc_bench.sh: build failed" >&2
  exit 1
fi
dc_bin=$build/dc/ntm-dc
gen_bin=$build/bench/ntm_bench_dc
res=$build/dc-bench

# --- clean-up, whatever happens -----------------------------------------
work=$(mktemp -d /tmp/ntm-dc-bench.XXXXXX)
chmod 711 "$work"  # the cluster runs as postgres below it
pgd=$work/pg
dc_pid=""
probe_pid=""
pg_started=0

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 15 s
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$probe_pid"
  stop_pid "$dc_pid"
  if [[ $pg_started == 1 ]]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgd/data" -m fast -w stop >/dev/null 2>&1 ||
      "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgd/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [[ $keep == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$res"
mkdir -p "$res"

# --- PostgreSQL -----------------------------------------------------------
# Durable: no fsync, synchronous_commit or full_page_writes overrides.  No
# TCP listener: only the unix socket in the private directory, so the port
# number below only names the socket file and cannot clash.
mkdir -p "$pgd"
[[ $EUID -eq 0 ]] && chown postgres:postgres "$pgd"
pgport=$((20000 + RANDOM % 20000))
fstype=$(stat -f -c %T "$work")
# track_wal_io_timing: how long WAL fsyncs took, the figure that sets both
# the reference's rate and the DC's commit rate (two clock reads per WAL
# write or sync: negligible next to an fsync).
pg_opts="-k $pgd -p $pgport -c listen_addresses='' -c track_wal_io_timing=on"
if [[ $profile == 1 ]]; then
  pg_opts+=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
fi
# Experiments only (e.g. "-c autovacuum=off"); the table's runs leave it empty.
pg_opts+=" ${PG_EXTRA_OPTS:-}"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgd/data" -U postgres -A trust --no-sync -E UTF8 \
  --locale=C.UTF-8 >"$res/initdb.log" 2>&1
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgd/data" -l "$pgd/log" -w -o "$pg_opts" start >/dev/null
pg_started=1
q() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgd" -p "$pgport" -U postgres "$@"; }
pg_version=$(q -d postgres -Atc 'SHOW server_version')
durability=$(q -d postgres -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')")
# In template1, so that every database created below has it.
if [[ $profile == 1 ]]; then q -d template1 -c 'CREATE EXTENSION pg_stat_statements'; fi

# The reference workload, exactly as environment.md §5.2 has it.
cat >"$work/upsert.sql" <<'SQL'
\set k random(1, 100000)
INSERT INTO node VALUES ('n' || :k || '.ntm.example.', gen_random_uuid(), '192.0.2.1', '10.99.0.1',
                         '198.51.100.1', :k % 60000, now())
  ON CONFLICT (fqdn) DO UPDATE SET nat_port = EXCLUDED.nat_port, updated_at = EXCLUDED.updated_at;
SQL

# --- the DC's configuration --------------------------------------------
# 100,000 nodes do not fit the default /16 pool: a /12 holds a million.
# Nodes send no keepalives here, so their lifetime is an hour: the sweep
# must not take them offline (and write that) in the middle of a round.
dc_port=$("$gen_bin" free-port)
mkdir -p "$work/dc"
conf=$work/dc/ntm-dc.conf
cat >"$conf" <<CONF
[dc]
id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
zones = $zone
listen = 127.0.0.1:$dc_port
state_dir = $work/dc
[database]
url = postgresql://postgres@/ntm_dc?host=$pgd&port=$pgport
[vip]
pool = 100.64.0.0/12
route_prefix_len = 10
general_pool = 100.127.0.0/16
[timers]
lifetime_s = 3600
[log]
level = $log_level
CONF

echo "generating $nodes nodes ..." >&2
"$gen_bin" gen --count "$nodes" --zone "$zone" --out "$work/nodes.tsv"

# Database-side counters between the generator's phases: write
# transactions (each takes one transaction ID; the hook's own query takes
# none) and WAL bytes.  Both are exact at once, unlike pg_stat_*, which
# backends flush up to seconds later.
cat >"$work/hook.sh" <<HOOK
#!/usr/bin/env bash
"$pgbin/psql" -X -q -h "$pgd" -p "$pgport" -U postgres -d postgres -Atc \
  "SELECT '\$1', pg_snapshot_xmax(pg_current_snapshot()), pg_current_wal_lsn() - '0/0'::pg_lsn" \
  >>"\$NTM_BENCH_DBSTATS"
# CPU time so far per program (utime + stime in clock ticks, each process's
# threads included; PostgreSQL's backends outlive the phases), with the time.
# The guest's steal time (what the hypervisor ran elsewhere while a vCPU
# had work) goes along as "steal", summed over the vCPUs.
{ echo "\$1 now \$(date +%s%N)"
  awk -v l="\$1" '\$1 == "cpu" { print l, "steal", \$9 }' /proc/stat
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v l="\$1" '{
    i = index(\$0, "("); j = 0; for (k = length(\$0); k > i; k--) if (substr(\$0, k, 1) == ")") { j = k; break }
    comm = substr(\$0, i + 1, j - i - 1); split(substr(\$0, j + 2), f, " ")
    t[comm] += f[12] + f[13] }
    END { for (c in t) if (c == "postgres" || c == "ntm-dc" || c == "ntm_bench_dc") print l, c, t[c] }'
} >>"\$NTM_BENCH_CPU"
if [[ -n "$perf_sched" && \$1 == after_storm && ! -e "$work/sched-started" ]]; then
  touch "$work/sched-started"
  perf sched record -k CLOCK_MONOTONIC -a -o "$work/sched.data" -- sleep "$perf_sched" >/dev/null 2>&1 &
fi
if [[ -n "$perf_record" && \$1 == after_storm && ! -e "$work/record-started" ]]; then
  touch "$work/record-started"
  perf record -e cpu-clock -F 4000 -a $perf_record_opts -o "$work/perf.data" -- sleep "$perf_record" >/dev/null 2>&1 &
fi
HOOK
chmod +x "$work/hook.sh"

start_dc() {  # start_dc LOG: starts ntm-dc serve, sets dc_pid
  nice -n "${DC_NICE:-0}" "$dc_bin" -c "$conf" serve 2>"$1" &
  dc_pid=$!
}
wait_log() {  # wait_log FILE TEXT SECONDS
  local i
  for ((i = 0; i < $3 * 100; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    if [[ -n $dc_pid ]] && ! kill -0 "$dc_pid" 2>/dev/null; then break; fi
    sleep 0.01
  done
  echo "run_dc_bench.sh: no '$2' in $1" >&2
  cat "$1" >&2
  return 1
}
# Milliseconds since the epoch of a DC log line's timestamp (local time).
log_ms() { date -d "$(awk -v t="$2" 'index($0, t) { print $1; exit }' "$1")" +%s%3N; }

# fresh_db FILE: a fresh DC database holding the nodes of FILE, inserted as
# `ntm-dc node add` inserts them (store.cpp node_insert plus the zone serial
# bump; no NOTIFY, the DC is not running), and one more node enrolled
# through the CLI itself, which the restart probe plays.
fresh_db() {
  q -d postgres -c 'DROP DATABASE IF EXISTS ntm_dc' -c 'CREATE DATABASE ntm_dc'
  "$dc_bin" -c "$conf" --log-level warn migrate >/dev/null
  q -d ntm_dc <<SQL
INSERT INTO zones (name) VALUES ('$zone') ON CONFLICT (name) DO NOTHING;
CREATE TEMP TABLE bench_nodes (id text, fqdn text, key text, vip text);
\\copy bench_nodes FROM '$1'
INSERT INTO nodes (node_id, fqdn, zone_id, node_key, vip)
  SELECT decode(id, 'hex'), fqdn, (SELECT zone_id FROM zones WHERE name = '$zone'),
         decode(key, 'hex'), vip::inet FROM bench_nodes;
UPDATE zones SET serial = serial + 1 WHERE name = '$zone';
VACUUM ANALYZE nodes;
SQL
  rm -f "$work/probe.conf"
  "$dc_bin" -c "$conf" --log-level warn node add "probe.$zone" -o "$work/probe.conf" >/dev/null
  # As before the reference: neither side starts with dirty pages to write.
  q -d postgres -c 'CHECKPOINT'
  if [[ $profile == 1 ]]; then q -d ntm_dc -Atc 'SELECT pg_stat_statements_reset()' >/dev/null; fi
}
# run_gen NAME ARGS...: the load generator against the running DC; its
# figures go to gen-NAME.txt, the hook's database snapshots to db-NAME.txt.
run_gen() {
  local name=$1
  shift
  export NTM_BENCH_DBSTATS=$res/db-$name.txt NTM_BENCH_CPU=$res/cpu-$name.txt
  : >"$NTM_BENCH_DBSTATS"
  : >"$NTM_BENCH_CPU"
  if ! "$gen_bin" run --dc "127.0.0.1:$dc_port" --nodes "$work/nodes.tsv" --threads "$threads" \
      --window "$window" --dc-pid "$dc_pid" --hook "$work/hook.sh" "$@" \
      >"$res/gen-$name.txt" 2>"$res/gen-$name.err"; then
    cat "$res/gen-$name.err" >&2
    exit 1
  fi
}
# db_delta NAME FROM TO PREFIX: write transactions and WAL bytes between two
# hook snapshots.
db_delta() {
  awk -v from="$2" -v to="$3" -v p="$4" '{ split($0, a, "|"); x[a[1]] = a[2]; w[a[1]] = a[3] }
    END { if ((from in x) && (to in x))
            printf "%s_commits %d\n%s_wal_bytes %d\n", p, x[to] - x[from], p, w[to] - w[from] }' \
    "$res/db-$1.txt"
}
# cpu_delta NAME FROM TO PREFIX: cores used per program between two hook
# snapshots (CPU seconds over wall seconds).
cpu_delta() {
  awk -v from="$2" -v to="$3" -v p="$4" -v hz="$(getconf CLK_TCK)" '
    { v[$1 " " $2] = $3 }
    END { if (!((from " now") in v) || !((to " now") in v)) exit
          s = (v[to " now"] - v[from " now"]) / 1e9
          n = split("postgres ntm-dc ntm_bench_dc steal", c, " ")
          for (i = 1; i <= n; i++)
            printf "%s_cpu_%s %.3f\n", p, c[i], (v[to " " c[i]] - v[from " " c[i]]) / hz / s }' \
    "$res/cpu-$1.txt"
}
# dc_counters LOG PREFIX: the DC's own counters, which it logs when it stops.
dc_counters() {
  awk -v p="$2" '/store: [0-9]+ operations in/ {
         for (i = 1; i <= NF; i++) { if ($i == "operations") o = $(i - 1); if ($i == "transactions,") t = $(i - 1) }
         print p "_write_ops", o; print p "_write_transactions", t }
       /control: received=/ {
         for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) print p "_" kv[1], kv[2] }' "$1"
}
stop_dc() {  # SIGTERM and wait: the DC drains its write queue first
  kill -TERM "$dc_pid"
  wait "$dc_pid" || true
  dc_pid=""
}
# WAL fsyncs since wal_reset, as "PREFIX_wal_syncs N" and
# "PREFIX_wal_sync_ms_avg X".  Backends add their counts when their
# transaction or connection ends: read after the clients have gone.
wal_reset() { q -d postgres -Atc "SELECT pg_stat_reset_shared('wal')" >/dev/null; }
wal_read() {
  sleep 0.3
  q -d postgres -Atc "SELECT '$1_wal_syncs ' || wal_sync || E'\n$1_wal_sync_ms_avg ' ||
      round((wal_sync_time / greatest(wal_sync, 1))::numeric, 4) FROM pg_stat_wal"
}
progress() { echo "  $(date +%T) round $r: $1" >&2; }
statements() {  # statements FILE: the top statements since the last reset
  [[ $profile == 1 ]] || return 0
  q -d ntm_dc -c "SELECT calls, round(mean_exec_time::numeric, 4) AS mean_ms,
      round(total_exec_time::numeric, 1) AS total_ms,
      left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12" >"$1"
  q -d ntm_dc -Atc 'SELECT pg_stat_statements_reset()' >/dev/null
}

head -n "$storm" "$work/nodes.tsv" >"$work/storm.tsv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "running $rounds rounds ..." >&2
for ((r = 1; r <= rounds; r++)); do
  f=$res/round$r.txt
  : >"$f"

  # 1. Reference.  A checkpoint first, as before the DC's runs.
  q -d postgres -c 'DROP DATABASE IF EXISTS ref' -c 'CREATE DATABASE ref'
  q -d ref <<'SQL'
CREATE TABLE node(fqdn text PRIMARY KEY, node_id uuid, real_ip inet, virtual_ip inet,
                  nat_ip inet, nat_port int, updated_at timestamptz);
INSERT INTO node SELECT 'n'||i||'.ntm.example.', gen_random_uuid(), '192.0.2.1', '10.99.0.1',
                        '198.51.100.1', 5000, now() FROM generate_series(1, 100000) i;
CHECKPOINT;
SQL
  if [[ $profile == 1 ]]; then q -d ref -Atc 'SELECT pg_stat_statements_reset()' >/dev/null; fi
  progress "pgbench reference"
  wal_reset
  "$pgbin/pgbench" -n -M prepared -h "$pgd" -p "$pgport" -U postgres -c 4 -j 2 \
    -T "$pgbench_seconds" -f "$work/upsert.sql" ref >"$res/pgbench$r.txt" 2>&1
  awk '/^tps = / { print "pgbench_tps", $3 } /^latency average/ { print "pgbench_latency_ms", $4 }' \
    "$res/pgbench$r.txt" >>"$f"
  wal_read pgbench >>"$f"
  # The reference leaves dead tuples and dirty pages behind; autovacuum and
  # the checkpointer would clean them up during the DC's run that follows
  # and take CPU from it.  Do it now, before anything is measured.
  q -d ref -c 'VACUUM node' -c 'CHECKPOINT' >/dev/null
  if [[ $profile == 1 ]]; then
    q -d ref -c "SELECT calls, round(mean_exec_time::numeric, 4) AS mean_ms,
        round(total_exec_time::numeric, 1) AS total_ms, left(query, 70) AS query
      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8" >"$res/statements$r-ref.txt"
  fi

  # 2. The simulated population alone (STORM nodes): registration storm,
  # paced Directions, then MOVES nodes re-register from a new port.
  progress "DC with $storm nodes"
  fresh_db "$work/storm.tsv"
  wal_reset
  start_dc "$res/dc$r-a.log"
  wait_log "$res/dc$r-a.log" 'ntm-dc ready' 60
  run_gen "$r-a" --limit "$storm" --storm "$storm" --dir-rate "$dir_rate" \
    --dir-seconds "$dir_seconds" --moves "$moves" --no-register-all
  stop_dc
  statements "$res/statements$r-a.txt"
  wal_read dc >>"$f"
  {
    grep -v '^#' "$res/gen-$r-a.txt"
    db_delta "$r-a" before_storm after_storm storm
    db_delta "$r-a" after_directions after_moves move
    cpu_delta "$r-a" after_storm after_directions dir
    dc_counters "$res/dc$r-a.log" dc
  } >>"$f"

  # 3. Every node (NODES): registration of all of them, the DC's RSS, and
  # Directions at a low rate with that many nodes in the DC's view.
  progress "DC with $nodes nodes"
  fresh_db "$work/nodes.tsv"
  start_dc "$res/dc$r-b.log"
  wait_log "$res/dc$r-b.log" 'ntm-dc ready' 60
  run_gen "$r-b" --storm "$nodes" --dir-rate "$full_dir_rate" --dir-seconds "$full_dir_seconds" \
    --no-register-all
  statements "$res/statements$r-b.txt"
  {
    grep -v '^#' "$res/gen-$r-b.txt" | sed 's/^/full_/'
    db_delta "$r-b" before_storm after_storm full_storm
  } >>"$f"

  # 4. Restart with every node in the database and registered.  The probe
  # is up and sending before the DC starts; the clock starts right before
  # the fork of the new process.
  progress "restart"
  t=$(date +%s%N)
  stop_dc
  echo "stop_ms $(( ($(date +%s%N) - t) / 1000000 ))" >>"$f"
  "$gen_bin" probe --dc "127.0.0.1:$dc_port" --credentials "$work/probe.conf" --interval-ms 5 \
    --timeout-s 60 >"$res/probe$r.txt" 2>&1 &
  probe_pid=$!
  for _ in $(seq 1 500); do grep -q probing "$res/probe$r.txt" && break; sleep 0.01; done
  t0_ns=$(date +%s%N)
  start_dc "$res/dc$r-restart.log"
  if ! wait "$probe_pid"; then
    probe_pid=""
    cat "$res/probe$r.txt" >&2
    exit 1
  fi
  probe_pid=""
  answered_ns=$(awk '$1 == "probe_answered_unix_ns" { print $2 }' "$res/probe$r.txt")
  wait_log "$res/dc$r-restart.log" 'ntm-dc ready' 60
  t0_ms=$((t0_ns / 1000000))
  {
    echo "restart_answer_ms $(( (answered_ns - t0_ns) / 1000000 ))"
    echo "restart_ready_ms $(( $(log_ms "$res/dc$r-restart.log" 'ntm-dc ready') - t0_ms ))"
    echo "restart_first_log_ms $(( $(date -d "$(awk 'NR == 1 { print $1 }' "$res/dc$r-restart.log")" +%s%3N) - t0_ms ))"
    awk '/view: .* loaded in/ { for (i = 1; i <= NF; i++) if ($i == "in") print "restart_view_load_ms", $(i + 1); exit }' \
      "$res/dc$r-restart.log"
  } >>"$f"
  stop_dc

  # Ratios against the reference of the same round, and derived figures.
  awk '{ v[$1] = $2 }
       END {
         printf "ratio_storm %.6f\n", v["storm_per_s"] / v["pgbench_tps"]
         printf "ratio_full_storm %.6f\n", v["full_storm_per_s"] / v["pgbench_tps"]
         if (v["storm_commits"] > 0) printf "storm_regs_per_commit %.3f\n", v["storm_acked"] / v["storm_commits"]
         if (v["full_storm_commits"] > 0)
           printf "full_storm_regs_per_commit %.3f\n", v["full_storm_acked"] / v["full_storm_commits"]
         if (v["storm_acked"] > 0) printf "storm_wal_per_reg %.1f\n", v["storm_wal_bytes"] / v["storm_acked"]
         printf "rss_mib_loaded %.1f\n", v["full_rss_kb_loaded"] / 1024
         printf "rss_mib_all_registered %.1f\n", v["full_rss_kb_after_storm"] / 1024
         printf "hwm_mib_all_registered %.1f\n", v["full_hwm_kb_after_storm"] / 1024
       }' "$f" >"$f.tmp"
  cat "$f.tmp" >>"$f"
  rm -f "$f.tmp"
  echo "  round $r done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- medians --------------------------------------------------------------
# key -> "median min max" over the rounds.
summarize "$res/summary.txt" "$res"/round*.txt

row() {  # row LABEL KEY SCALE DECIMALS UNIT [TARGET] [VERDICT]
  printf '| %s | %s | %s – %s | %s | %s | %s |\n' "$1" "$(fmt "$2" "$3" "$4")" \
    "$(fmt "$2" "$3" "$4" 3)" "$(fmt "$2" "$3" "$4" 4)" "$5" "${6:-}" "${7:-}"
}
cmp() {  # cmp KEY OP LIMIT: "met" or "missed" for the median
  awk -v x="$(get "$1")" -v op="$2" -v l="$3" \
    'BEGIN { ok = (op == "ge") ? x >= l : x <= l; print ok ? "met" : "**missed**" }'
}
# Direction target: p99 within 2 ms while the DC keeps up with the offered
# rate (at least 99% of it achieved, nothing lost or refused).
dir_verdict() {
  awk -v p99="$(get dir_p99_ms)" -v ach="$(get dir_achieved_per_s)" -v off="$dir_rate" \
    -v lost="$(get dir_lost)" -v err="$(get dir_errors)" \
    'BEGIN { ok = p99 <= 2 && ach >= 0.99 * off && lost == 0 && err == 0
             print ok ? "met" : "**missed**" }'
}
# 300 MB read as 300 × 10^6 bytes (286.1 MiB), the stricter reading.
rss_limit_kb=292969

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=$(git -C "$root" status --porcelain -- dc wire common sim bench schema 2>/dev/null |
  awk '{ split($2, p, "/"); d[p[1] "/"] = 1 } END { for (k in d) printf "%s ", k }' || true)
[[ -n $dirty ]] && commit="$commit + uncommitted changes in ${dirty% }"
commit=${CODE_DESC:-${code_desc:-$commit}}
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

cat <<EOF
### DC benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r), PostgreSQL $pg_version
($durability; data on $fstype), Release build.
Code: $commit.
Load average (1/5/15 min) before: $load_before; after: $load_after.
$rounds rounds; each: pgbench reference (${pgbench_seconds} s); a DC holding the $storm simulated
nodes: storm ($threads threads × $window outstanding), Directions at $dir_rate/s for $dir_seconds s,
$moves moves; a DC holding $nodes nodes: all register, RSS, Directions at $full_dir_rate/s for
$full_dir_seconds s, restart.  Both databases also hold the CLI-enrolled probe node.
DC log level: $log_level.  Median over rounds; min – max over rounds in the third column.

| Metric | Median | Range | Unit | Target | Verdict |
|---|---:|---:|---|---|---|
EOF
row "**Reference**: pgbench upsert, prepared, durable, 4 clients" pgbench_tps 1 0 "tps"
row "pgbench average latency" pgbench_latency_ms 1 3 "ms"
row "WAL fsync, average, during the reference" pgbench_wal_sync_ms_avg 1 3 "ms"
row "WAL fsync, average, during the $storm-node DC's run" dc_wal_sync_ms_avg 1 3 "ms"
row "**Registration storm**, $storm nodes: acknowledged registrations" storm_per_s 1 0 "reg/s"
row "Storm vs reference (per-round ratio)" ratio_storm 1 2 "×" "≥ 3×" "$(cmp ratio_storm ge 3)"
row "Storm latency p50 (first send → ack)" storm_p50_ms 1 1 "ms"
row "Storm latency p99" storm_p99_ms 1 1 "ms"
row "Storm retransmissions (1 s timeout)" storm_retransmits 1 0 "requests"
row "Storm registrations per commit" storm_regs_per_commit 1 1 "reg/txn"
row "Storm WAL per registration" storm_wal_per_reg 1 0 "bytes"
row "**Registration storm**, all $nodes nodes" full_storm_per_s 1 0 "reg/s"
row "Same vs reference" ratio_full_storm 1 2 "×" "≥ 3×" "$(cmp ratio_full_storm ge 3)"
row "Same, latency p50" full_storm_p50_ms 1 1 "ms"
row "Same, latency p99" full_storm_p99_ms 1 1 "ms"
row "Same, retransmissions" full_storm_retransmits 1 0 "requests"
row "Same, registrations per commit" full_storm_regs_per_commit 1 1 "reg/txn"
row "**Directions**, $storm nodes: offered" dir_offered_per_s 1 0 "dir/s"
row "Directions sent (generator's achieved send rate)" dir_sent_per_s 1 0 "dir/s"
row "Directions completed per second (first request → last completion)" dir_achieved_per_s 1 0 "dir/s"
row "Direction round trip p50 (request → initiator's Route Direction)" dir_p50_ms 1 3 "ms"
row "Direction round trip p99" dir_p99_ms 1 3 "ms" "≤ 2 ms at $dir_rate/s" "$(dir_verdict)"
row "Direction round trip p99.9" dir_p999_ms 1 3 "ms"
row "Direction round trip max" dir_max_ms 1 1 "ms"
row "Directions refused (Error replies)" dir_errors 1 0 "directions"
row "Directions lost (no answer within 5 s)" dir_lost 1 0 "directions"
row "Route Directions the DC sent again (retransmissions seen)" dir_duplicate_rd 1 0 "messages"
row "Generator send lag p99 (behind its schedule)" dir_send_lag_p99_ms 1 3 "ms"
row "Writer backlog after directions (one registration's wait)" dir_drain_ms 1 0 "ms"
row "CPU during the directions: the DC (all its threads)" dir_cpu_ntm-dc 1 2 "cores"
row "CPU during the directions: PostgreSQL (every backend)" dir_cpu_postgres 1 2 "cores"
row "CPU during the directions: the load generator" dir_cpu_ntm_bench_dc 1 2 "cores"
row "Steal during the directions (vCPU time the host took, both vCPUs)" dir_cpu_steal 1 3 "cores"
row "**Moves**: $moves nodes re-register from a new port, paths in view" move_per_s 1 0 "reg/s"
row "Moves, latency p50" move_p50_ms 1 1 "ms"
row "Moves, latency p99" move_p99_ms 1 1 "ms"
row "Paths established before the moves" dir_completed 1 0 "paths"
row "**Directions**, $nodes nodes in the view: offered" full_dir_offered_per_s 1 0 "dir/s"
row "Same: completed per second" full_dir_achieved_per_s 1 0 "dir/s"
row "Same: round trip p50" full_dir_p50_ms 1 3 "ms"
row "Same: round trip p99" full_dir_p99_ms 1 3 "ms"
row "Same: refused" full_dir_errors 1 0 "directions"
row "Same: lost" full_dir_lost 1 0 "directions"
row "**DC RSS**, database loaded, nothing registered" rss_mib_loaded 1 1 "MiB"
row "DC RSS, $((nodes + 1)) nodes known, $nodes registered" rss_mib_all_registered 1 1 "MiB" \
  "≤ 300 MB (286.1 MiB)" "$(cmp full_rss_kb_after_storm le "$rss_limit_kb")"
row "DC peak RSS (VmHWM) at that point" hwm_mib_all_registered 1 1 "MiB"
row "**Restart**: process start → first registration answered" restart_answer_ms 1 0 "ms" \
  "≤ 3,000 ms" "$(cmp restart_answer_ms le 3000)"
row "Restart: process start → ready line" restart_ready_ms 1 0 "ms"
row "Restart: view load (log)" restart_view_load_ms 1 0 "ms"
row "Stop (SIGTERM → exit, write queue drained)" stop_ms 1 0 "ms"

cat <<EOF

DC counters of the $storm-node DC (logged at its stop; median over rounds): $(fmt dc_write_ops 1 0)
write operations in $(fmt dc_write_transactions 1 0) transactions; $(fmt dc_received 1 0) datagrams
received ($(fmt dc_dropped_unauthenticated 1 0) dropped before authentication,
$(fmt dc_rate_limited 1 0) rate-limited, $(fmt dc_replayed 1 0) replayed);
$(fmt dc_directions 1 0) Direction Requests handled, $(fmt dc_directions_failed 1 0) failed;
$(fmt dc_retransmissions 1 0) Route Direction retransmissions; $(fmt dc_errors_sent 1 0) errors sent.
The generator sent $(fmt gen_sent 1 0) datagrams to that DC.
The verdicts compare medians with the targets.
Raw per-round values and logs: $res/
EOF
