#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DNS benchmark (issue 4).  dnsperf against pdns_server 4.7 with its caches
# off (cache-ttl, query-cache-ttl, negquery-cache-ttl 0; zone cache on),
# identical pdns settings for three backends serving the same zone:
#   (a) ntm-dc serve with DNS on, through pdns's remote backend (unix socket);
#   (b) pdns's own gpgsql backend, the same records in another database of
#       the same throwaway PostgreSQL cluster;
#   (c) ntm_bench_dns_constant (bench/dns_constant_backend.cpp), a
#       do-nothing remote backend answering from a constant table: the
#       ceiling of the remote-backend path itself.
# The zone's records are taken from the DC (its `list` answer) and loaded
# into (b) and (c), and a sample of queries is checked to get the same
# answers from all three before anything is measured.
#
# ROUNDS rounds; each runs every pdns thread setting (receiver ×
# distributor threads, SETTINGS) with every backend, backends interleaved
# per setting and their order rotated per round.  One run: start pdns,
# 1 s of warm-up load, DURATION seconds of dnsperf (closed loop: CLIENTS
# sockets, OUTSTANDING queries in flight), pdns's counters, stop pdns.
# Then a latency phase: per round and backend, dnsperf paced at LAT_RATE
# queries/s with per-query output (-v), for p50/p99, at the common setting.
# Medians over rounds (bench/summary.sh); ratios are taken per round and
# their median reported.  Prints a markdown table for docs/benchmarks.md;
# raw dnsperf outputs, pdns counters and logs are kept in
# $BUILD_DIR/dns-bench-results/.  Only 127.0.0.1 and unix sockets are used;
# every process started is stopped by PID on exit, also on failure.
#
# Environment: ROUNDS (3), NODES (10000), DURATION (8 s per run), SETTINGS
# ("1x4 1x8 1x12 1x16 2x8", receiver x distributor), BACKENDS ("a b c"),
# CLIENTS (4, dnsperf -c), DNSPERF_THREADS (1, dnsperf -T), OUTSTANDING
# (100, dnsperf -q), DNSPERF_CPU (empty: dnsperf not pinned; N: pinned to
# CPU N with taskset; docs/benchmarks.md says why not by default),
# LAT_RATE (2000 queries/s), LAT_SECONDS (4), QUERIES (100000 lines in the
# query file), TXT_PCT (10), NX_PCT (5), QUICK (0; 1:
# ROUNDS=1 DURATION=3 SETTINGS="1x2 2x2" LAT_SECONDS=2 unless set), KEEP (0;
# 1 keeps the temporary directory), BUILD_DIR (<repo>/build/dns-bench),
# SNAPSHOT (0; 1 builds the committed HEAD plus the working tree's bench/,
# as run_dc_bench.sh does), CODE_DESC (overrides the "Code:" line),
# DC_LOG_LEVEL (info), DC_PROMPT_INTERVAL_MS (the DC's [dns]
# prompt_interval_ms; empty: its default, 1000; 0 turns the prompts off),
# PERF (0; 1 records `perf record` of the backend process and of pdns in
# extra runs at the common setting, kept in the results; PERF_CALLGRAPH (fp;
# dwarf for user-space stacks without frame pointers, much bigger),
# PERF_FREQ (999 Hz)), AXFR_CHECK (0; 1 times an AXFR of the DC's zone
# through pdns, with the connector's default timeout and a long one).
set -euo pipefail
# shellcheck source=bench/summary.sh
. "$(dirname "$0")/summary.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/dns-bench}
if [[ ${QUICK:-0} == 1 ]]; then
  : "${ROUNDS:=1}" "${DURATION:=3}" "${SETTINGS:=1x2 2x2}" "${LAT_SECONDS:=2}"
fi
rounds=${ROUNDS:-3}
nodes=${NODES:-10000}
duration=${DURATION:-8}
settings=${SETTINGS:-1x4 1x8 1x12 1x16 2x8}
backends=${BACKENDS:-a b c}
clients=${CLIENTS:-4}
dp_threads=${DNSPERF_THREADS:-1}
outstanding=${OUTSTANDING:-100}
dnsperf_cpu=${DNSPERF_CPU:-}
lat_rate=${LAT_RATE:-2000}
lat_seconds=${LAT_SECONDS:-4}
nqueries=${QUERIES:-100000}
txt_pct=${TXT_PCT:-10}
nx_pct=${NX_PCT:-5}
keep=${KEEP:-0}
dc_log_level=${DC_LOG_LEVEL:-info}
perf_on=${PERF:-0}
perf_cg=${PERF_CALLGRAPH:-fp}
perf_freq=${PERF_FREQ:-999}
zone=bench.ntm.example

die() { echo "run_dns_bench.sh: $*" >&2; exit 1; }
has() { [[ " $backends " == *" $1 "* ]]; }
for b in $backends; do [[ $b == [abc] ]] || die "BACKENDS takes a, b and c, not '$b'"; done
for s in $settings; do [[ $s =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "bad setting '$s' (RxD)"; done
((nodes >= 10 && nodes <= 131000)) || die "NODES must be 10..131000 (addresses from 127.16.0.0/15)"

# --- bench-only packages ----------------------------------------------------
# Installed here, not by scripts/setup.sh: only this benchmark needs them.
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
for p in pdns-server pdns-backend-remote pdns-backend-pgsql; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  [[ $EUID -eq 0 ]] || die "missing packages (${need[*]}); install them as root"
  echo "installing ${need[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi
pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
for tool in cmake awk python3 dig dnsperf pdns_server pdns_control taskset "$pgbin/initdb" \
    "$pgbin/pg_ctl" "$pgbin/psql"; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
gpgsql_schema=/usr/share/pdns-backend-pgsql/schema/schema.pgsql.sql
[[ -f $gpgsql_schema ]] || die "$gpgsql_schema not found"
as_pg=()
if [[ $EUID -eq 0 ]]; then as_pg=(runuser -u postgres --); fi
dp_pin=()
if [[ -n $dnsperf_cpu ]]; then dp_pin=(taskset -c "$dnsperf_cpu"); fi

# --- build ----------------------------------------------------------------
snapshot_source "$root" "$build"
targets=(ntm_bench_dns_constant)
if has a; then targets+=(ntm-dc); fi
log=$build/dns-bench-build.log
if ! { cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target "${targets[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  die "build failed"
fi
dc_bin=$build/dc/ntm-dc
const_bin=$build/bench/ntm_bench_dns_constant
res=$build/dns-bench-results

# --- clean-up, whatever happens -----------------------------------------
work=$(mktemp -d /tmp/ntm-dns-bench.XXXXXX)
chmod 711 "$work"  # the cluster runs as postgres below it
pgd=$work/pg
dc_pid=""
const_pid=""
pdns_pid=""
perf_pid=""
pg_started=0

stop_pid() {  # stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (15)
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < ${2:-15} * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT
  stop_pid "$perf_pid"
  stop_pid "$pdns_pid" 5
  stop_pid "$dc_pid"
  stop_pid "$const_pid"
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
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

free_port() {  # a port free for both UDP and TCP on 127.0.0.1
  python3 - <<'PY'
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
PY
}
wait_accept() {  # wait_accept SOCKET SECONDS PID: until the unix socket accepts
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" \
        2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# --- PostgreSQL -----------------------------------------------------------
# Read-only load for (b); the DC writes nothing while nodes are silent.  The
# durability overrides are those of the peer baseline's gpgsql run
# (peer-baselines.md §2.1).  No TCP listener: only the unix socket in the
# private directory, so the port number only names the socket file.
mkdir -p "$pgd"
[[ $EUID -eq 0 ]] && chown postgres:postgres "$pgd"
pgport=$((20000 + RANDOM % 20000))
"${as_pg[@]}" "$pgbin/initdb" -D "$pgd/data" -U postgres -A trust --no-sync -E UTF8 \
  --locale=C.UTF-8 >"$res/initdb.log" 2>&1
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgd/data" -l "$pgd/log" -w -o \
  "-k $pgd -p $pgport -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
pg_started=1
pg_pid=$(head -1 "$pgd/data/postmaster.pid")
q() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgd" -p "$pgport" -U postgres "$@"; }
pg_version=$(q -d postgres -Atc 'SHOW server_version')

# --- the DC (a) -----------------------------------------------------------
dc_port=$(free_port)
dns_port=$(free_port)
mkdir -p "$work/dc" "$work/pdns-run"
dc_sock=$work/dc.sock
const_sock=$work/const.sock
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
[timers]
keepalive_s = 3600
lifetime_s = 86400
[log]
level = $dc_log_level
[dns]
socket = $dc_sock
nameservers = ns1.$zone
ns_addresses = ns1.$zone=127.0.0.53
CONF
if [[ -n ${DC_PROMPT_INTERVAL_MS:-} ]]; then echo "prompt_interval_ms = $DC_PROMPT_INTERVAL_MS" >>"$conf"; fi

# Nodes straight into the DC's database, as run_dc_bench.sh's fresh_db does
# (the node_insert columns, then the zone serial bump), but online and not
# behind NAT, so that each has an A record: observed_addr a distinct address
# per node.  The addresses are loopback ones, 127.16.0.1 upwards (a /15),
# not 198.18.0.0/15: the DC prompts a node whose name is looked up (a
# keepalive, at most one per prompt_interval_ms, 1 s by default), and those
# datagrams must not leave the machine.  Port 9 (discard), where nothing
# listens, so that no other test's node on 0.0.0.0 gets them.  IDs and keys
# are derived from the index: nothing ever answers a prompt.
if has a; then
  q -d postgres -c 'CREATE DATABASE ntm_dc'
  "$dc_bin" -c "$conf" --log-level warn migrate >/dev/null
  q -d ntm_dc <<SQL
INSERT INTO zones (name) VALUES ('$zone') ON CONFLICT (name) DO NOTHING;
INSERT INTO nodes (node_id, fqdn, zone_id, node_key, vip, local_endpoints, observed_addr,
                   observed_port, behind_nat, online, last_seen)
  SELECT decode(md5('id' || i), 'hex'), 'node' || i || '.$zone',
         (SELECT zone_id FROM zones WHERE name = '$zone'),
         decode(md5('k1' || i) || md5('k2' || i), 'hex'), '100.64.0.0'::inet + i,
         ARRAY[host('127.16.0.0'::inet + i) || ':9'], '127.16.0.0'::inet + i, 9,
         false, true, now()
  FROM generate_series(1, $nodes) AS i;
UPDATE zones SET serial = serial + 1 WHERE name = '$zone';
VACUUM ANALYZE nodes;
SQL
  "$dc_bin" -c "$conf" serve 2>"$res/dc.log" &
  dc_pid=$!
  for _ in $(seq 1 600); do
    grep -q 'ntm-dc ready' "$res/dc.log" 2>/dev/null && break
    kill -0 "$dc_pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q 'ntm-dc ready' "$res/dc.log" || { cat "$res/dc.log" >&2; die "ntm-dc did not get ready"; }
  wait_accept "$dc_sock" 30 "$dc_pid" || { cat "$res/dc.log" >&2; die "ntm-dc's DNS socket does not accept"; }
fi

# --- pdns -----------------------------------------------------------------
# The same flags for every backend; only launch and its connection differ.
# reuseport=yes for every setting (with one receiver thread it changes
# nothing), so that receiver threads > 1 share the port.
pdns_common=(--no-config --guardian=no --daemon=no --disable-syslog --write-pid=no
  --socket-dir="$work/pdns-run" --local-address=127.0.0.1 --local-port="$dns_port"
  --cache-ttl=0 --query-cache-ttl=0 --negquery-cache-ttl=0 --zone-cache-refresh-interval=300
  --consistent-backends=yes --reuseport=yes --log-dns-queries=no --loglevel=4
  --security-poll-suffix= --webserver=no --api=no)
pdns_backend() {  # pdns_backend a|b|c: the backend's launch flags
  case $1 in
    a) echo "--launch=remote" "--remote-connection-string=unix:path=$dc_sock,timeout=2000" ;;
    c) echo "--launch=remote" "--remote-connection-string=unix:path=$const_sock,timeout=2000" ;;
    b) echo "--launch=gpgsql" "--gpgsql-host=$pgd" "--gpgsql-port=$pgport" "--gpgsql-dbname=pdns" \
         "--gpgsql-user=postgres" "--gpgsql-dnssec=no" ;;
  esac
}
start_pdns() {  # start_pdns BACKEND R D LOG
  # shellcheck disable=SC2046
  pdns_server "${pdns_common[@]}" $(pdns_backend "$1") --receiver-threads="$2" \
    --distributor-threads="$3" >"$4" 2>&1 &
  pdns_pid=$!
  local i
  for ((i = 0; i < 200; i++)); do
    if dig +time=1 +tries=1 +norec @127.0.0.1 -p "$dns_port" "$zone" SOA 2>/dev/null |
        grep -q 'status: NOERROR'; then return 0; fi
    kill -0 "$pdns_pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$4" >&2
  die "pdns_server ($1, $2x$3) did not answer"
}
stop_pdns() { stop_pid "$pdns_pid" 5; pdns_pid=""; }
pdns_stats() { pdns_control --no-config --socket-dir="$work/pdns-run" show '*' 2>/dev/null | tr ',' '\n'; }

# --- the zone's records, for (b) and (c) ----------------------------------
# From the DC itself when it runs: its `list` answer (what pdns asks for an
# AXFR), read straight from its socket, so that (b) and (c) serve exactly
# its records, TTLs and scopeMasks.  (An AXFR through pdns does not work
# for a zone this size: pdns's unix connector reads a reply in 1,500-byte
# chunks and re-parses the whole buffer after each one, so a reply of a few
# MB takes longer than the connector's timeout.)  Without a DC: generated
# the way the DC publishes them (docs/dns.md §2).  records.tsv: name, type,
# ttl, scopeMask, content.
records=$res/records.tsv
if has a; then
  python3 - "$dc_sock" "$zone." "$records" >"$res/dc-lookup-sample.txt" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def ask(req):
    s.sendall((json.dumps(req) + "\n").encode()); buf = b""
    while not buf.endswith(b"\n"): buf += s.recv(1 << 20)
    return buf.decode()
print(ask({"method": "initialize", "parameters": {}}).rstrip())
# What one node lookup returns, for the record (the constant backend mirrors it).
req = {"method": "lookup", "parameters": {"qname": "node1." + sys.argv[2], "qtype": "ANY", "zone-id": 1,
       "remote": "127.0.0.1", "real-remote": "127.0.0.1/32", "local": "127.0.0.1"}}
print(json.dumps(req)); print(ask(req).rstrip())
recs = json.loads(ask({"method": "list", "parameters": {"zonename": sys.argv[2], "domain_id": -1}}))["result"]
with open(sys.argv[3], "w") as f:
    for r in recs:
        if r["qtype"] == "ENT": continue
        f.write("%s\t%s\t%d\t%d\t%s\n" % (r["qname"].lower(), r["qtype"], r["ttl"], r.get("scopeMask", 0), r["content"]))
PY
  # AXFR_CHECK=1: how long an AXFR of the DC's zone through pdns takes, with
  # the default connector timeout (2000 ms) and a long one (60 s).
  if [[ ${AXFR_CHECK:-0} == 1 ]]; then
    for tmo in 2000 60000; do
      # shellcheck disable=SC2046
      pdns_server "${pdns_common[@]}" --launch=remote \
        --remote-connection-string="unix:path=$dc_sock,timeout=$tmo" >"$res/axfr-$tmo.pdns.log" 2>&1 &
      pdns_pid=$!
      for _ in $(seq 1 100); do
        dig +time=1 +tries=1 +norec @127.0.0.1 -p "$dns_port" "$zone" SOA 2>/dev/null |
          grep -q 'status: NOERROR' && break
        sleep 0.05
      done
      t0=$(date +%s%N)
      dig +norec +onesoa +tries=1 +time=120 @127.0.0.1 -p "$dns_port" "$zone" AXFR >"$res/axfr-$tmo.txt" 2>&1 || true
      echo "axfr timeout=$tmo ms: $(( ($(date +%s%N) - t0) / 1000000 )) ms," \
        "$(grep -c 'IN' "$res/axfr-$tmo.txt" || true) lines, $(grep -c 'error' "$res/axfr-$tmo.txt" || true) errors" \
        | tee -a "$res/axfr-check.txt" >&2
      stop_pdns
    done
  fi
else
  awk -v OFS='\t' -v n="$nodes" -v z="$zone." -v dc="127.0.0.1:$dc_port" 'BEGIN {
    print z, "SOA", 3600, 0, "ns1." z " hostmaster." z " 2 3600 600 604800 0"
    print z, "NS", 3600, 0, "ns1." z
    print "ns1." z, "A", 3600, 0, "127.0.0.53"
    for (i = 1; i <= n; i++) {
      a = 16 * 65536 + i
      printf "node%d.%s\tA\t0\t32\t127.%d.%d.%d\n", i, z, int(a / 65536), int(a / 256) % 256, a % 256
      printf "node%d.%s\tTXT\t0\t32\t\"v=ntm1 dc=%s\"\n", i, z, dc
    } }' >"$records"
fi
nrec=$(wc -l <"$records")
nnode_a=$(awk -F'\t' '$2 == "A" && $1 ~ /^node/' "$records" | wc -l)
[[ $nnode_a == "$nodes" ]] || die "the zone has $nnode_a node A records, not $nodes (see $records)"

# (b): the gpgsql schema and the same records, names without the final dot
# (as pdns stores them), in another database of the same cluster.
if has b; then
  q -d postgres -c 'CREATE DATABASE pdns'
  q -d pdns -f "$gpgsql_schema" >/dev/null
  q -d pdns <<SQL
INSERT INTO domains (name, type) VALUES ('$zone', 'NATIVE');
CREATE TEMP TABLE z (name text, type text, ttl int, scope int, content text);
\\copy z FROM '$records' WITH (FORMAT text)
INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth)
  SELECT (SELECT id FROM domains WHERE name = '$zone'), rtrim(name, '.'), type, content, ttl, 0,
         false, true FROM z;
ANALYZE;
SQL
fi
# (c)
if has c; then
  "$const_bin" "$const_sock" "$records" 2>"$res/constant.log" &
  const_pid=$!
  wait_accept "$const_sock" 30 "$const_pid" || { cat "$res/constant.log" >&2; die "constant backend did not start"; }
fi

# --- queries --------------------------------------------------------------
# The same file for all three: A for random node names (every node has an
# A), TXT_PCT % TXT for node names, NX_PCT % A for names that do not exist
# (NXDOMAIN).  Fixed seed: the same file on every run of the script.
awk -v n="$nodes" -v q="$nqueries" -v txt="$txt_pct" -v nx="$nx_pct" -v z="$zone" 'BEGIN {
  srand(4)
  for (i = 0; i < q; i++) {
    r = rand() * 100; k = 1 + int(rand() * n)
    if (r < nx) print "nx" k "." z " A"
    else if (r < nx + txt) print "node" k "." z " TXT"
    else print "node" k "." z " A"
  } }' >"$work/queries.txt"
q_a=$(grep -c '^node.* A$' "$work/queries.txt" || true)
q_txt=$(grep -c ' TXT$' "$work/queries.txt" || true)
q_nx=$(grep -c '^nx' "$work/queries.txt" || true)

# --- equivalence check ----------------------------------------------------
# The same answers (rcode, answer and authority sections, TTLs included)
# from all three, for the first 40 queries, the apex SOA/NS, the glue, the
# discovery name, an NXDOMAIN and a NODATA.
{
  echo "$zone SOA"; echo "$zone NS"; echo "_ntm-dc.$zone TXT"; echo "ns1.$zone A"
  echo "nx0.$zone A"; echo "node1.$zone AAAA"; echo "node1.$zone TXT"
  head -40 "$work/queries.txt"
} >"$work/check.txt"
for b in $backends; do
  start_pdns "$b" 1 2 "$res/pdns-check-$b.log"
  while read -r name type; do
    dig +norec +nocmd +nostats +noquestion +noadditional +nottlid @127.0.0.1 -p "$dns_port" \
      "$name" "$type" | grep -v -e '^;; ->>HEADER' -e '^;; flags' -e '^;; OPT' -e '^; EDNS' -e '^$' |
      sed "s/^/$name $type: /" || true
    dig +norec +short @127.0.0.1 -p "$dns_port" "$name" "$type" | sort | sed "s/^/$name $type = /"
    dig +norec @127.0.0.1 -p "$dns_port" "$name" "$type" | awk -v p="$name $type" '/status:/ { print p, $5, $6 }'
  done <"$work/check.txt" >"$res/check-$b.txt"
  stop_pdns
done
first=""
for b in $backends; do
  if [[ -z $first ]]; then first=$b; continue; fi
  diff -u "$res/check-$first.txt" "$res/check-$b.txt" >"$res/check-diff-$first-$b.txt" ||
    die "($first) and ($b) answer differently: $res/check-diff-$first-$b.txt"
done
grep -q "node.* A = 127\.1[67]\." "$res/check-$first.txt" || die "no node A answer in the check ($res/check-$first.txt)"
grep -q "NXDOMAIN" "$res/check-$first.txt" || die "no NXDOMAIN in the check"

# --- runs -------------------------------------------------------------------
backend_pids() {  # the processes whose CPU counts as the backend's
  case $1 in
    a) echo "$dc_pid" ;;
    c) echo "$const_pid" ;;
    b) { awk -v pp="$pg_pid" '$4 == pp { print $1 }' /proc/[0-9]*/stat 2>/dev/null || true; }
       echo "$pg_pid" ;;
  esac
}
ticks() {  # ticks PID...: utime + stime, in clock ticks, of the live ones ("pid ticks" lines)
  local p
  for p in "$@"; do
    [[ -r /proc/$p/stat ]] || continue
    awk -v p="$p" '{ sub(/.*\) /, ""); print p, $12 + $13 }' "/proc/$p/stat" 2>/dev/null || true
  done
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
hz=$(getconf CLK_TCK)
order_for_round() {  # rotate the backend order by the round number
  local -a bs
  read -r -a bs <<<"$backends"
  local n=${#bs[@]} i out=""
  for ((i = 0; i < n; i++)); do out+="${bs[((i + $1 - 1) % n)]} "; done
  echo "$out"
}
dnsperf_keys() {  # dnsperf_keys FILE SUFFIX: figures of one dnsperf output
  awk -v s="$2" '
    /Queries completed:/ { print "completed_" s, $3 }
    /Queries lost:/ { print "lost_" s, $3 }
    /Queries per second:/ { print "qps_" s, $4 }
    /Average Latency \(s\):/ { gsub(/[(),]/, ""); print "lat_avg_ms_" s, $4 * 1000; print "lat_max_ms_" s, $8 * 1000 }
    /Response codes:/ { bad = 0
      for (i = 3; i < NF; i += 3) if ($i != "NOERROR" && $i != "NXDOMAIN") bad += $(i + 1)
      print "bad_rcode_" s, bad }' "$1"
}

run_one() {  # run_one ROUND SETTING BACKEND
  local r=$1 s=$2 b=$3 rt=${2%x*} dt=${2#*x}
  local key=${b}_$s out=$res/r$1-$2-$3
  start_pdns "$b" "$rt" "$dt" "$out.pdns.log"
  "${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l 1 -c "$clients" \
    -T "$dp_threads" -q "$outstanding" >"$out.warmup.txt" 2>&1
  local -a pids
  mapfile -t pids < <(echo "$pdns_pid"; backend_pids "$b")
  local busy0 busy1
  ticks "${pids[@]}" >"$out.ticks0"
  busy0=$(busy_ticks)
  TIMEFORMAT='%U %S'
  { time "${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l "$duration" \
      -c "$clients" -T "$dp_threads" -q "$outstanding" >"$out.dnsperf.txt" 2>&1; } 2>"$out.time"
  busy1=$(busy_ticks)
  ticks "${pids[@]}" >"$out.ticks1"
  pdns_stats >"$out.pdns-stats.txt"
  local ppid=$pdns_pid
  stop_pdns
  {
    dnsperf_keys "$out.dnsperf.txt" "$key"
    # CPU over the measured run, µs per completed query: pdns, the backend,
    # dnsperf, and everything on the machine (others' jobs included).
    awk -v k="$key" -v hz="$hz" -v dp="$(cat "$out.time")" -v pdns="$ppid" \
        -v busy=$((busy1 - busy0)) -v ncpu="$(nproc)" -v dur="$duration" \
        -v done_q="$(awk '/Queries completed:/ { print $3 }' "$out.dnsperf.txt")" '
      FNR == NR { t0[$1] = $2; next }
      { d = $2 - (($1 in t0) ? t0[$1] : 0); if ($1 == pdns) p += d; else be += d }
      END {
        split(dp, x, " ")
        printf "cpu_pdns_us_%s %.2f\n", k, p / hz * 1e6 / done_q
        printf "cpu_backend_us_%s %.2f\n", k, be / hz * 1e6 / done_q
        printf "cpu_dnsperf_us_%s %.2f\n", k, (x[1] + x[2]) * 1e6 / done_q
        printf "cpu_server_us_%s %.2f\n", k, (p + be) / hz * 1e6 / done_q
        printf "cpu_all_us_%s %.2f\n", k, busy / hz * 1e6 / done_q
        printf "machine_busy_pct_%s %.1f\n", k, busy / hz / (ncpu * dur) * 100
      }' "$out.ticks0" "$out.ticks1"
    # Backend lookups per UDP query (warm-up and readiness probes included).
    awk -F= -v k="$key" '{ v[$1] = $2 }
      END { if (v["udp-queries"] > 0) printf "lookups_per_query_%s %.3f\n", k, v["backend-queries"] / v["udp-queries"]
            print "servfail_" k, v["servfail-packets"] + 0 }' "$out.pdns-stats.txt"
  } >>"$res/round$r.txt"
  printf '  %s round %s %-4s (%s): %s qps\n' "$(date +%T)" "$r" "$s" "$b" \
    "$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$out.dnsperf.txt")" >&2
}

echo "sweep: $rounds rounds x settings ($settings) x backends ($backends), $duration s each ..." >&2
for ((r = 1; r <= rounds; r++)); do
  : >"$res/round$r.txt"
  order=$(order_for_round "$r")
  for s in $settings; do
    for b in $order; do run_one "$r" "$s" "$b"; done
  done
done

# --- best settings ----------------------------------------------------------
summarize "$res/summary-sweep.txt" "$res"/round*.txt
best_of() {  # best_of BACKEND: the setting with the highest median qps
  local s best="" bq=-1 v
  for s in $settings; do
    v=$(get "qps_$1_$s")
    [[ -n $v ]] || continue
    if awk -v a="$v" -v b="$bq" 'BEGIN { exit !(a > b) }'; then best=$s; bq=$v; fi
  done
  echo "$best"
}
declare -A best
for b in $backends; do best[$b]=$(best_of "$b"); done
if has a; then common=${COMMON_SETTING:-${best[a]}}; else common=${COMMON_SETTING:-${best[c]:-${best[b]}}}; fi

# --- latency phase: paced, per-query latencies ---------------------------
echo "latency: $rounds rounds x backends at $common, $lat_rate queries/s for $lat_seconds s ..." >&2
for ((r = 1; r <= rounds; r++)); do
  for b in $(order_for_round "$r"); do
    out=$res/lat-r$r-$b
    start_pdns "$b" "${common%x*}" "${common#*x}" "$out.pdns.log"
    "${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l 1 -Q "$lat_rate" \
      >/dev/null 2>&1
    "${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l "$lat_seconds" \
      -Q "$lat_rate" -c "$clients" -T "$dp_threads" -v >"$work/lat.txt" 2>&1
    stop_pdns
    grep -v '^>' "$work/lat.txt" >"$out.dnsperf.txt"
    awk '/^> / { print $NF * 1000 }' "$work/lat.txt" | sort -g |
      awk -v b="$b" '{ v[NR] = $1; s += $1 }
        END { if (NR == 0) exit
              printf "paced_p50_ms_%s %.4f\npaced_p99_ms_%s %.4f\npaced_avg_ms_%s %.4f\npaced_n_%s %d\n",
                b, v[int(NR * 0.50) + 1], b, v[int(NR * 0.99) + 1], b, s / NR, b, NR }' \
      >>"$res/round$r.txt"
    echo "  $(date +%T) round $r latency ($b) done" >&2
  done
done
rm -f "$work/lat.txt"

# --- PERF=1: where the backend's time goes, at the common setting ----------
# Not part of the figures (perf itself takes CPU): one extra run per remote
# backend with `perf record -g` on the backend process, and one on pdns.
if [[ $perf_on == 1 ]]; then
  for b in $backends; do
    [[ $b == b ]] && continue
    for target in backend pdns; do
      out=$res/perf-$b-$target
      start_pdns "$b" "${common%x*}" "${common#*x}" "$out.pdns.log"
      if [[ $target == pdns ]]; then tpid=$pdns_pid; else tpid=$(backend_pids "$b" | head -1); fi
      perf record -F "$perf_freq" --call-graph "$perf_cg" -o "$out.data" -p "$tpid" \
        >"$out.record.log" 2>&1 &
      perf_pid=$!
      sleep 0.5
      "${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l "$duration" \
        -c "$clients" -T "$dp_threads" -q "$outstanding" >"$out.dnsperf.txt" 2>&1
      kill -INT "$perf_pid" 2>/dev/null || true
      wait "$perf_pid" 2>/dev/null || true
      perf_pid=""
      stop_pdns
      # Without the padding perf puts after each line, and with nlohmann's
      # basic_json<...> template arguments shortened to "json".
      perf_report() {
        perf report -i "$out.data" --stdio "$@" 2>/dev/null |
          sed -E 's/[[:space:]]+(-[[:space:]]+-[[:space:]]*)?$//' |
          perl -pe 's/nlohmann::json_abi_v[0-9_]+::basic_json<\Qstd::map, std::vector, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, bool, long, unsigned long, double, std::allocator, \Enlohmann::json_abi_v[0-9_]+::adl_serializer, std::vector<unsigned char, std::allocator<unsigned char> > >/json/g' || true
      }
      perf_report --no-children --sort dso,symbol -g none --percent-limit 0.5 >"$out.report.txt"
      perf_report --no-children --sort dso -g none >"$out.dso.txt"
      perf_report --children --sort symbol -g none --percent-limit 3 >"$out.children.txt"
      echo "  $(date +%T) perf ($b, $target): $out.report.txt" >&2
    done
  done
fi

# --- the DC's own counters, logged when it stops ---------------------------
if has a; then
  stop_pid "$dc_pid"
  dc_pid=""
fi

# --- per-round ratios ------------------------------------------------------
for ((r = 1; r <= rounds; r++)); do
  f=$res/round$r.txt
  awk -v settings="$settings" -v ba="${best[a]:-}" -v bb="${best[b]:-}" -v bc="${best[c]:-}" \
      -v common="$common" '
    { v[$1] = $2 }
    END {
      n = split(settings, ss, " ")
      for (i = 1; i <= n; i++) { s = ss[i]
        if (v["qps_b_" s] > 0 && ("qps_a_" s) in v) printf "ratio_ab_%s %.4f\n", s, v["qps_a_" s] / v["qps_b_" s]
        if (v["qps_c_" s] > 0 && ("qps_a_" s) in v) printf "ratio_ac_%s %.4f\n", s, v["qps_a_" s] / v["qps_c_" s]
        if (v["qps_b_" s] > 0 && ("qps_c_" s) in v) printf "ratio_cb_%s %.4f\n", s, v["qps_c_" s] / v["qps_b_" s]
      }
      if (v["cpu_server_us_a_" common] > 0) {
        if (("cpu_server_us_b_" common) in v) printf "cpu_ratio_ba %.4f\n", v["cpu_server_us_b_" common] / v["cpu_server_us_a_" common]
        if (("cpu_server_us_c_" common) in v) printf "cpu_ratio_ca %.4f\n", v["cpu_server_us_c_" common] / v["cpu_server_us_a_" common]
      }
      if (ba != "" && bb != "" && v["qps_b_" bb] > 0) printf "ratio_ab_own %.4f\n", v["qps_a_" ba] / v["qps_b_" bb]
      if (ba != "" && bc != "" && v["qps_c_" bc] > 0) printf "ratio_ac_own %.4f\n", v["qps_a_" ba] / v["qps_c_" bc]
      if (bb != "" && bc != "" && v["qps_b_" bb] > 0) printf "ratio_cb_own %.4f\n", v["qps_c_" bc] / v["qps_b_" bb]
    }' "$f" >"$f.tmp"
  cat "$f.tmp" >>"$f"
  rm -f "$f.tmp"
done
summarize "$res/summary.txt" "$res"/round*.txt
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_start))

# --- report -----------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown")
dirty=$(git -C "$root" status --porcelain -- dc dns-backend common wire bench schema 2>/dev/null |
  awk '{ split($2, p, "/"); d[p[1] "/"] = 1 } END { for (k in d) printf "%s ", k }' || true)
[[ -n $dirty ]] && commit="$commit + uncommitted changes in ${dirty% }"
commit=${CODE_DESC:-${code_desc:-$commit}}
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
name_of() { case $1 in a) echo "(a) ntm-dc" ;; b) echo "(b) gpgsql" ;; c) echo "(c) constant" ;; esac; }
has_key() { [[ -n $(get "$1") ]]; }
cell() {  # cell KEY DECIMALS: "median (min–max)" or "—"
  has_key "$1" || { echo "—"; return; }
  echo "$(fmt "$1" 1 "$2") ($(fmt "$1" 1 "$2" 3)–$(fmt "$1" 1 "$2" 4))"
}
verdict() {  # verdict KEY LIMIT
  has_key "$1" || { echo "not measured"; return; }
  awk -v x="$(get "$1")" -v l="$2" 'BEGIN { print (x >= l) ? "met" : "**missed**" }'
}
pin_desc="not pinned"
[[ -n $dnsperf_cpu ]] && pin_desc="pinned to CPU $dnsperf_cpu (taskset); pdns and the backends not pinned"

cat <<EOF
### DNS benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')

Machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r); pdns_server $(pkgver pdns-server)
(remote and gpgsql backends $(pkgver pdns-backend-remote), $(pkgver pdns-backend-pgsql)), dnsperf $(pkgver dnsperf),
PostgreSQL $pg_version (fsync, synchronous_commit, full_page_writes off; read-only load); Release build.
Code: $commit.
Load average (1/5/15 min) before: $load_before; after: $load_after. Whole run: ${elapsed} s.
Zone $zone: $nodes nodes (A + TXT each), $nrec records in all, $(has a && echo "taken from the DC (its list answer, what pdns asks for an AXFR)" || echo "generated as the DC publishes them (no DC in this run)").
Queries: $nqueries lines, $q_a node A, $q_txt node TXT, $q_nx NXDOMAIN (A), looped by dnsperf.
pdns: caches off (cache-ttl, query-cache-ttl, negquery-cache-ttl 0), zone cache on, reuseport=yes,
loglevel 4, identical flags for all backends; remote connector timeout 2000 ms.
DC: log level $dc_log_level, [dns] prompt_interval_ms ${DC_PROMPT_INTERVAL_MS:-1000 (default)}; node addresses on loopback (127.16.0.0/15), so the prompts stay on the machine.
dnsperf: -c $clients -T $dp_threads -q $outstanding, closed loop, $duration s per run after 1 s of warm-up; $pin_desc.
$rounds rounds, each: every setting × every backend, backends interleaved per setting, order rotated per round.
Median over rounds; (min–max) over rounds. Ratios are per round, then the median.

**Throughput (queries/s) by pdns thread setting, receiver × distributor threads**

| Setting | (a) ntm-dc | (b) gpgsql | (c) constant | a/b | a/c | c/b |
|---|---:|---:|---:|---:|---:|---:|
EOF
for s in $settings; do
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$(cell "qps_a_$s" 0)" "$(cell "qps_b_$s" 0)" \
    "$(cell "qps_c_$s" 0)" "$(cell "ratio_ab_$s" 2)" "$(cell "ratio_ac_$s" 2)" "$(cell "ratio_cb_$s" 2)"
done
echo
echo "Best setting by median qps: $(for b in $backends; do printf '%s %s (%s qps); ' "$(name_of "$b")" "${best[$b]}" "$(fmt "qps_${b}_${best[$b]}" 1 0)"; done)"
echo "Common setting for the headline: **$common**$( [[ -z ${COMMON_SETTING:-} ]] && has a && echo " (the best for (a))")."
cat <<EOF

**Headline**

| Metric | Median (min–max) | Target | Verdict |
|---|---:|---|---|
| (a)/(b) at $common | $(cell "ratio_ab_$common" 2) | ≥ 1.5 | $(verdict "ratio_ab_$common" 1.5) |
| (a)/(c) at $common | $(cell "ratio_ac_$common" 2) | ≥ 0.90 | $(verdict "ratio_ac_$common" 0.90) |
| (a) at ${best[a]:-—} / (b) at ${best[b]:-—}, each at its own best | $(cell ratio_ab_own 2) | ≥ 1.5 | $(verdict ratio_ab_own 1.5) |
| (a) at ${best[a]:-—} / (c) at ${best[c]:-—}, each at its own best | $(cell ratio_ac_own 2) | ≥ 0.90 | $(verdict ratio_ac_own 0.90) |
| (c)/(b) at $common: how far the ceiling itself is above gpgsql | $(cell "ratio_cb_$common" 2) | (information) | |
| (c) at ${best[c]:-—} / (b) at ${best[b]:-—}, each at its own best | $(cell ratio_cb_own 2) | (information) | |
| CPU per query (pdns + backend) of (b) / of (a), at $common | $(cell cpu_ratio_ba 2) | (information) | |
| CPU per query (pdns + backend) of (c) / of (a), at $common | $(cell cpu_ratio_ca 2) | (information) | |

**At $common, per backend**

| Metric | (a) ntm-dc | (b) gpgsql | (c) constant |
|---|---:|---:|---:|
EOF
brow() {  # brow LABEL PREFIX DECIMALS [SUFFIX]
  printf '| %s | %s | %s | %s |\n' "$1" "$(cell "${2}a${4-_$common}" "$3")" \
    "$(cell "${2}b${4-_$common}" "$3")" "$(cell "${2}c${4-_$common}" "$3")"
}
brow "Queries/s" qps_ 0
brow "Average latency under load, ms (dnsperf; ≈ in-flight / qps)" lat_avg_ms_ 2
brow "Max latency under load, ms" lat_max_ms_ 1
brow "Queries lost" lost_ 0
brow "Answers neither NOERROR nor NXDOMAIN" bad_rcode_ 0
brow "pdns SERVFAIL packets (pdns counter)" servfail_ 0
brow "Backend lookups per UDP query (pdns counters)" lookups_per_query_ 2
brow "CPU per query, pdns_server, µs" cpu_pdns_us_ 1
brow "CPU per query, backend process(es), µs" cpu_backend_us_ 1
brow "CPU per query, pdns + backend, µs" cpu_server_us_ 1
brow "CPU per query, dnsperf, µs" cpu_dnsperf_us_ 1
brow "CPU per query, whole machine (others' jobs included), µs" cpu_all_us_ 1
brow "Machine busy during the run, % of $(nproc) CPUs" machine_busy_pct_ 0
brow "Paced $lat_rate q/s: latency p50, ms" paced_p50_ms_ 3 ""
brow "Paced $lat_rate q/s: latency p99, ms" paced_p99_ms_ 3 ""
brow "Paced $lat_rate q/s: latency average, ms" paced_avg_ms_ 3 ""
cat <<EOF

The gpgsql backend's CPU is the whole PostgreSQL cluster's (postmaster and its children); the
DC's is the ntm-dc process (all its threads). Latency percentiles come from the paced runs
(dnsperf -v, $lat_rate queries/s, $lat_seconds s, per round) at $common: dnsperf 2.10 reports
only average/min/max latency for a run.
EOF
if has a; then
  echo
  echo "The DC's counters at its stop (whole run: warm-ups, checks and PERF runs included):"
  echo
  grep -E 'ntm-dc info: (control: received=|dns: )' "$res/dc.log" | sed -E 's/^[^ ]+ ntm-dc info: /    /' || true
fi
echo "Raw per-round values, dnsperf outputs, pdns counters and logs: $res/"
