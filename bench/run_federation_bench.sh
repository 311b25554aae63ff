#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Federation and DC-cluster benchmark (issue 7).  Builds ntm-dc and the
# load generator ntm_bench_dc (Release, in its own build directory), starts
# one throwaway PostgreSQL cluster with durable commits on a unix socket in
# a temporary directory, then runs ROUNDS rounds of two parts:
#
#   xzone    Cross-zone direction round trip.  Two DCs, zones a.bench.test
#            and b.bench.test, each with its own database, peered with a
#            per-peer key.  DC_B is authoritative through a real
#            pdns_server (remote backend); DC_A resolves through a real
#            pdns_recursor that forwards b.bench.test to that pdns (or, if
#            pdns_recursor is missing, straight at the pdns: noted in the
#            output).  The generator plays PAIRS nodes of each zone and
#            measures, one direction at a time, the Direction Request to the
#            MN's Route Direction: cold (first lookup of each name: DC_A's
#            cache and the recursor's hold nothing for it), warm (the same
#            names again), and as the reference in the same run a direction
#            inside zone A (no DNS, no peer DC).  DC_A and the recursor are
#            started afresh each round, so every round starts cold.
#   cluster  Throughput of 1, 2 and 3 ntm-dc processes of one cluster on
#            one database: a registration storm of STORM nodes spread over
#            the processes (closed loop, THREADS x WINDOW outstanding), then
#            Directions offered at DIR_RATE/s for DIR_SECONDS between nodes
#            on different processes.  The reference in the same round:
#            pgbench's single-row upsert (environment.md §5.2).  CPU seconds
#            of the DC processes and of PostgreSQL (all its processes) are
#            read during the storm, to show which one is the limit.
#
# Everything runs on loopback and unix sockets; everything started is
# stopped on exit, also on failure.  Prints a markdown table for
# docs/benchmarks.md; raw per-round values and logs are kept in
# $BUILD_DIR/federation-bench/.
#
# Environment: ROUNDS (3), PARTS ("xzone cluster"), PAIRS (200), STORM
# (10000), THREADS (2), WINDOW (100), DIR_RATE (5000), DIR_SECONDS (5),
# PROCS ("1 2 3"), PGBENCH_SECONDS (8), KEEP (0), BUILD_DIR
# (<repo>/build/bench), SNAPSHOT (0; see summary.sh), CODE_DESC.
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-3}
parts=${PARTS:-xzone cluster}
pairs=${PAIRS:-200}
storm=${STORM:-10000}
threads=${THREADS:-2}
window=${WINDOW:-100}
dir_rate=${DIR_RATE:-5000}
dir_seconds=${DIR_SECONDS:-5}
procs=${PROCS:-1 2 3}
pgbench_seconds=${PGBENCH_SECONDS:-8}
keep=${KEEP:-0}

pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
for tool in cmake awk python3 pdns_server dig "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/pgbench" \
    "$pgbin/psql"; do
  command -v "$tool" >/dev/null || { echo "run_federation_bench.sh: $tool not found" >&2; exit 1; }
done
recursor=$(command -v pdns_recursor || true)
as_pg=()
if [[ $EUID -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

# --- build ----------------------------------------------------------------
snapshot_source "$root" "$build"
log=$build/federation-bench-build.log
if ! { cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target ntm-dc ntm_bench_dc; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_federation_bench.sh: build failed" >&2
  exit 1
fi
dc_bin=$build/dc/ntm-dc
gen_bin=$build/bench/ntm_bench_dc
res=$build/federation-bench

# --- clean-up, whatever happens -----------------------------------------
work=$(mktemp -d /tmp/ntm-fed-bench.XXXXXX)
chmod 711 "$work"  # the cluster runs as postgres below it
pgd=$work/pg
pids=()
pg_started=0

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
  pids=()
}
cleanup() {
  local rc=$?
  stop_all
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

# --- PostgreSQL (durable; unix socket only) -------------------------------
mkdir -p "$pgd"
[[ $EUID -eq 0 ]] && chown postgres:postgres "$pgd"
pgport=$((20000 + RANDOM % 20000))
"${as_pg[@]}" "$pgbin/initdb" -D "$pgd/data" -U postgres -A trust --no-sync -E UTF8 \
  --locale=C.UTF-8 >"$res/initdb.log" 2>&1
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgd/data" -l "$pgd/log" -w \
  -o "-k $pgd -p $pgport -c listen_addresses='' -c max_connections=200" start >/dev/null
pg_started=1
q() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgd" -p "$pgport" -U postgres "$@"; }
pg_version=$(q -d postgres -Atc 'SHOW server_version')
db_url() { echo "postgresql://postgres@/$1?host=$pgd&port=$pgport"; }
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
port() { "$gen_bin" free-port; }

# dc_conf FILE ID ZONE DB LISTEN STATE [EXTRA...]: a DC configuration; the
# extra lines are appended (sections of their own).
dc_conf() {
  local file=$1 id=$2 zone=$3 db=$4 listen=$5 state=$6
  shift 6
  mkdir -p "$state"
  {
    cat <<CONF
[dc]
id = $id
zones = $zone
listen = $listen
state_dir = $state
[database]
url = $(db_url "$db")
[vip]
pool = 100.64.0.0/12
route_prefix_len = 10
general_pool = 100.127.0.0/16
substitute_pool = 100.126.0.0/16
[timers]
lifetime_s = 3600
[log]
level = info
CONF
    printf '%s\n' "$@"
  } >"$file"
}
# start_dc CONF LOG: ntm-dc serve in the background, waits for its ready line.
start_dc() {
  "$dc_bin" -c "$1" serve 2>"$2" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 500); do
    grep -q "ntm-dc ready" "$2" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "run_federation_bench.sh: DC did not start ($2)" >&2
  cat "$2" >&2
  exit 1
}
# load_nodes DB CONF ZONE FILE: a fresh database holding the nodes of FILE,
# inserted as `ntm-dc node add` inserts them (see run_dc_bench.sh).
load_nodes() {
  q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  "$dc_bin" -c "$2" --log-level warn migrate >/dev/null
  q -d "$1" >/dev/null <<SQL
INSERT INTO zones (name) VALUES ('$3') ON CONFLICT (name) DO NOTHING;
CREATE TEMP TABLE bench_nodes (id text, fqdn text, key text, vip text);
\\copy bench_nodes FROM '$4'
INSERT INTO nodes (node_id, fqdn, zone_id, node_key, vip)
  SELECT decode(id, 'hex'), fqdn, (SELECT zone_id FROM zones WHERE name = '$3'),
         decode(key, 'hex'), vip::inet FROM bench_nodes;
UPDATE zones SET serial = serial + 1 WHERE name = '$3';
VACUUM ANALYZE nodes;
SQL
}
progress() { echo "  $(date +%T) round $r: $1" >&2; }

# --- part 1: cross-zone ----------------------------------------------------
za=a.bench.test
zb=b.bench.test
id_a=$(hex 16)
id_b=$(hex 16)
peer_key=$(hex 32)
resolver_desc=""
xzone_round() {  # xzone_round FILE
  local f=$1 d=$work/xz
  rm -rf "$d"
  mkdir -p "$d/run" "$d/pdns" "$d/rec"
  [[ $EUID -eq 0 ]] && chown pdns: "$d/run" "$d/pdns" "$d/rec" 2>/dev/null || true
  local pa pb dnsb recp
  pa=$(port)
  pb=$(port)
  dnsb=$(port)
  recp=$(port)
  "$gen_bin" gen --count $((pairs + 1)) --zone "$za" --out "$d/a.tsv"
  "$gen_bin" gen --count "$pairs" --zone "$zb" --out "$d/b.tsv"
  dc_conf "$d/b.conf" "$id_b" "$zb" xzb "127.0.0.1:$pb" "$d/b" \
    "[dns]" "socket = $d/run/b.sock" "nameservers = ns1.$zb" "ns_addresses = ns1.$zb=127.0.0.1" \
    "[peer.a]" "dc_id = $id_a" "key = $peer_key" "zones = $za"
  local resolver="127.0.0.1:$dnsb"
  [[ -n $recursor ]] && resolver="127.0.0.1:$recp"
  dc_conf "$d/a.conf" "$id_a" "$za" xza "127.0.0.1:$pa" "$d/a" \
    "[federation]" "resolver = $resolver" \
    "[peer.b]" "dc_id = $id_b" "key = $peer_key" "zones = $zb" "endpoints = 127.0.0.1:$pb"
  load_nodes xza "$d/a.conf" "$za" "$d/a.tsv"
  load_nodes xzb "$d/b.conf" "$zb" "$d/b.tsv"
  start_dc "$d/b.conf" "$res/xz$r-dcb.log"
  # pdns as the DNS tests run it: caches off, so every answer is the view's.
  pdns_server --no-config --guardian=no --daemon=no --disable-syslog --write-pid=no \
    --socket-dir="$d/pdns" --launch=remote \
    --remote-connection-string="unix:path=$d/run/b.sock,timeout=2000" --remote-dnssec=no \
    --local-address=127.0.0.1 --local-port="$dnsb" \
    --cache-ttl=0 --query-cache-ttl=0 --negquery-cache-ttl=0 \
    --consistent-backends=yes --receiver-threads=1 --distributor-threads=1 \
    --security-poll-suffix= --webserver=no --api=no --loglevel=4 >"$res/xz$r-pdns.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$dnsb" "$zb" SOA >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [[ -n $recursor ]]; then
    resolver_desc="pdns_recursor $("$recursor" --version 2>&1 | sed -n 's/.*PowerDNS Recursor \([0-9.]*\).*/\1/p' | head -1) forwarding $zb to DC_B's pdns_server (remote backend)"
    "$recursor" --config-dir="$d/rec" --socket-dir="$d/rec" --daemon=no --write-pid=no \
      --local-address=127.0.0.1 --local-port="$recp" --forward-zones="$zb=127.0.0.1:$dnsb" \
      --dnssec=off --threads=1 --disable-syslog --quiet=yes >"$res/xz$r-recursor.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
      dig +time=1 +tries=1 @127.0.0.1 -p "$recp" "$zb" SOA >/dev/null 2>&1 && break
      sleep 0.1
    done
  else
    resolver_desc="DC_B's pdns_server queried directly (pdns_recursor is not installed)"
  fi
  start_dc "$d/a.conf" "$res/xz$r-dca.log"
  "$gen_bin" xzone --dc "127.0.0.1:$pa" --nodes "$d/a.tsv" --cn-dc "127.0.0.1:$pb" \
    --cn-nodes "$d/b.tsv" --pairs "$pairs" >"$res/xz$r-gen.txt" 2>"$res/xz$r-gen.err" || {
    cat "$res/xz$r-gen.err" >&2
    exit 1
  }
  grep -v '^#' "$res/xz$r-gen.txt" >>"$f"
  stop_all
}

# --- part 2: cluster ------------------------------------------------------
cluster_round() {  # cluster_round FILE
  local f=$1 d=$work/cl k
  # Reference first, on the same cluster.
  q -d postgres -c 'DROP DATABASE IF EXISTS ref' -c 'CREATE DATABASE ref' >/dev/null
  q -d ref >/dev/null <<'SQL'
CREATE TABLE node(fqdn text PRIMARY KEY, node_id uuid, real_ip inet, virtual_ip inet,
                  nat_ip inet, nat_port int, updated_at timestamptz);
INSERT INTO node SELECT 'n'||i||'.ntm.example.', gen_random_uuid(), '192.0.2.1', '10.99.0.1',
                        '198.51.100.1', 5000, now() FROM generate_series(1, 100000) i;
CHECKPOINT;
SQL
  cat >"$work/upsert.sql" <<'SQL'
\set k random(1, 100000)
INSERT INTO node VALUES ('n' || :k || '.ntm.example.', gen_random_uuid(), '192.0.2.1', '10.99.0.1',
                         '198.51.100.1', :k % 60000, now())
  ON CONFLICT (fqdn) DO UPDATE SET nat_port = EXCLUDED.nat_port, updated_at = EXCLUDED.updated_at;
SQL
  progress "pgbench reference"
  "$pgbin/pgbench" -n -M prepared -h "$pgd" -p "$pgport" -U postgres -c 4 -j 2 \
    -T "$pgbench_seconds" -f "$work/upsert.sql" ref >"$res/pgbench$r.txt" 2>&1
  awk '/^tps = / { print "pgbench_tps", $3 }' "$res/pgbench$r.txt" >>"$f"
  q -d ref -c 'VACUUM node' -c 'CHECKPOINT' >/dev/null

  local cid
  cid=$(hex 16)
  for k in $procs; do
    progress "cluster of $k"
    rm -rf "$d"
    mkdir -p "$d"
    local ports=() eps="" i
    for ((i = 0; i < k; i++)); do
      ports+=("$(port)")
      eps+="${eps:+,}127.0.0.1:${ports[i]}"
    done
    for ((i = 0; i < k; i++)); do
      dc_conf "$d/m$i.conf" "$cid" cluster.bench.test clb "127.0.0.1:${ports[i]}" "$d/m$i"
      sed -i "/^state_dir/a cluster = $eps" "$d/m$i.conf"
    done
    "$gen_bin" gen --count "$storm" --zone cluster.bench.test --out "$d/nodes.tsv"
    load_nodes clb "$d/m0.conf" cluster.bench.test "$d/nodes.tsv"
    q -d postgres -c 'CHECKPOINT' >/dev/null
    local dcp=()
    for ((i = 0; i < k; i++)); do
      start_dc "$d/m$i.conf" "$res/cl$r-$k-m$i.log"
      dcp+=("${pids[-1]}")
    done
    # CPU of the DCs and of PostgreSQL around the storm (the hook runs
    # after each phase; before_storm is the start).
    cat >"$d/hook.sh" <<HOOK
#!/usr/bin/env bash
# PHASE DC_TICKS PG_TICKS NS: utime + stime (fields 14, 15 of /proc/PID/stat).
ticks() { local p t=0 s; for p in "\$@"; do read -r -a s <"/proc/\$p/stat" && t=\$((t + s[13] + s[14])); done; echo \$t; }
echo "\$1 \$(ticks ${dcp[*]}) \$(ticks \$(pgrep -u postgres -x postgres)) \$(date +%s%N)" >>"$d/cpu.txt"
HOOK
    chmod +x "$d/hook.sh"
    : >"$d/cpu.txt"
    "$gen_bin" run --dc "$eps" --nodes "$d/nodes.tsv" --threads "$threads" --window "$window" \
      --storm "$storm" --dir-rate "$dir_rate" --dir-seconds "$dir_seconds" --no-register-all \
      --hook "$d/hook.sh" >"$res/cl$r-$k-gen.txt" 2>"$res/cl$r-$k-gen.err" || {
      cat "$res/cl$r-$k-gen.err" >&2
      exit 1
    }
    awk -v k="$k" '$1 == "storm_per_s" || $1 == "storm_p99_ms" || $1 == "dir_achieved_per_s" ||
                   $1 == "dir_p50_ms" || $1 == "dir_p99_ms" || $1 == "dir_lost" ||
                   $1 == "dir_errors" || $1 == "storm_failed" { print "c" k "_" $1, $2 }' \
      "$res/cl$r-$k-gen.txt" >>"$f"
    # CPU share during the storm: ticks / (elapsed * ticks per second).
    awk -v k="$k" -v hz="$(getconf CLK_TCK)" '
      $1 == "before_storm" { d0 = $2; p0 = $3; t0 = $4 }
      $1 == "after_storm"  { d1 = $2; p1 = $3; t1 = $4 }
      END { s = (t1 - t0) / 1e9; if (s > 0) {
              printf "c%d_storm_dc_cpu %.3f\nc%d_storm_pg_cpu %.3f\n", k, (d1 - d0) / hz / s, k, (p1 - p0) / hz / s } }' \
      "$d/cpu.txt" >>"$f"
    stop_all
  done
  awk '{ v[$1] = $2 } END {
         if (v["c1_storm_per_s"] > 0) {
           if ("c2_storm_per_s" in v) printf "scale2_storm %.4f\n", v["c2_storm_per_s"] / v["c1_storm_per_s"]
           if ("c3_storm_per_s" in v) printf "scale3_storm %.4f\n", v["c3_storm_per_s"] / v["c1_storm_per_s"]
         }
         if (v["c1_dir_achieved_per_s"] > 0) {
           if ("c2_dir_achieved_per_s" in v) printf "scale2_dir %.4f\n", v["c2_dir_achieved_per_s"] / v["c1_dir_achieved_per_s"]
           if ("c3_dir_achieved_per_s" in v) printf "scale3_dir %.4f\n", v["c3_dir_achieved_per_s"] / v["c1_dir_achieved_per_s"]
         }
         if (v["pgbench_tps"] > 0 && v["c1_storm_per_s"] > 0)
           printf "c1_vs_pgbench %.4f\n", v["c1_storm_per_s"] / v["pgbench_tps"]
       }' "$f" >"$f.tmp"
  cat "$f.tmp" >>"$f"
  rm -f "$f.tmp"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "running $rounds rounds of: $parts ..." >&2
for ((r = 1; r <= rounds; r++)); do
  f=$res/round$r.txt
  : >"$f"
  for part in $parts; do
    case $part in
      xzone) progress "cross-zone"; xzone_round "$f" ;;
      cluster) cluster_round "$f" ;;
      *) echo "run_federation_bench.sh: unknown part $part" >&2; exit 1 ;;
    esac
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
summarize "$res/summary.txt" "$res"/round*.txt

row() {  # row LABEL KEY SCALE DECIMALS UNIT [TARGET] [VERDICT]
  [[ -n $(get "$2") ]] || return 0
  printf '| %s | %s | %s – %s | %s | %s | %s |\n' "$1" "$(fmt "$2" "$3" "$4")" \
    "$(fmt "$2" "$3" "$4" 3)" "$(fmt "$2" "$3" "$4" 4)" "$5" "${6:-}" "${7:-}"
}
cmp() {  # cmp KEY OP LIMIT
  awk -v x="$(get "$1")" -v op="$2" -v l="$3" \
    'BEGIN { ok = (op == "ge") ? x >= l : x <= l; print ok ? "met" : "**missed**" }'
}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=$(git -C "$root" status --porcelain -- dc wire common sim bench schema 2>/dev/null |
  awk '{ split($2, p, "/"); d[p[1] "/"] = 1 } END { for (k in d) printf "%s ", k }' || true)
[[ -n $dirty ]] && commit="$commit + uncommitted changes in ${dirty% }"
commit=${CODE_DESC:-${code_desc:-$commit}}

cat <<EOF
### Federation and cluster benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel
$(uname -r), PostgreSQL $pg_version (durable commits), Release build. Code: $commit.
Load average (1/5/15 min) before: $load_before; after: $load_after. $rounds rounds; median, and
min – max over rounds. Parts: $parts.
Cross-zone: $pairs pairs; DC_A's resolver: ${resolver_desc:-n/a}.
Cluster: $storm nodes, storm with $threads threads × $window outstanding, Directions offered at
$dir_rate/s for $dir_seconds s; processes: $procs.

| Metric | Median | Range | Unit | Target | Verdict |
|---|---:|---:|---|---|---|
EOF
row "**Cross-zone direction**, cold DNS cache: p50" xz_cold_p50_ms 1 3 ms
row "Cross-zone, cold: p99" xz_cold_p99_ms 1 3 ms
row "Cross-zone, warm DNS cache: p50" xz_warm_p50_ms 1 3 ms
row "Cross-zone, warm: p99" xz_warm_p99_ms 1 3 ms "≤ 5 ms" "$(cmp xz_warm_p99_ms le 5)"
row "Reference: direction inside one zone, p50" local_p50_ms 1 3 ms
row "Reference: inside one zone, p99" local_p99_ms 1 3 ms
row "Cross-zone, cold: refused" xz_cold_errors 1 0 directions
row "Cross-zone, warm: refused" xz_warm_errors 1 0 directions
row "Cross-zone, lost (cold)" xz_cold_lost 1 0 directions
row "Cross-zone, lost (warm)" xz_warm_lost 1 0 directions
row "**Reference**: pgbench upsert, durable, 4 clients" pgbench_tps 1 0 tps
for k in $procs; do
  row "**Cluster of $k**: registration storm" "c${k}_storm_per_s" 1 0 "reg/s"
  row "Cluster of $k: storm p99" "c${k}_storm_p99_ms" 1 1 ms
  row "Cluster of $k: CPU of the DC processes during the storm" "c${k}_storm_dc_cpu" 1 2 "cores"
  row "Cluster of $k: CPU of PostgreSQL during the storm" "c${k}_storm_pg_cpu" 1 2 "cores"
  row "Cluster of $k: Directions completed per second" "c${k}_dir_achieved_per_s" 1 0 "dir/s"
  row "Cluster of $k: Direction p99" "c${k}_dir_p99_ms" 1 3 ms
  row "Cluster of $k: Directions lost" "c${k}_dir_lost" 1 0 directions
done
row "Storm, 2 processes vs 1 (per-round ratio)" scale2_storm 1 2 "×" "≥ 1.6×" "$(cmp scale2_storm ge 1.6)"
row "Storm, 3 processes vs 1" scale3_storm 1 2 "×"
row "Directions, 2 processes vs 1" scale2_dir 1 2 "×" "≥ 1.6×" "$(cmp scale2_dir ge 1.6)"
row "Directions, 3 processes vs 1" scale3_dir 1 2 "×"
row "Storm of 1 process vs pgbench" c1_vs_pgbench 1 2 "×"
cat <<EOF

The verdicts compare medians with the targets. Raw per-round values and logs: $res/
EOF
