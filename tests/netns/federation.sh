# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# TOPO_* come from topology.sh, SVC_* and svc_* from services.sh; the FED_*
# globals are for the caller:
# shellcheck disable=SC2034,SC2153
# The two-zone testbed (sourced after topology.sh and services.sh, after
# topo_up): two zones, each served by its own DC cluster with its own
# PostgreSQL, a parent zone that delegates to them, and a recursive resolver
# that nodes and DCs use.  docs/testbed.md §6.
#
#   203.0.113.0/24 (G), in addition to topology.sh's hosts:
#     rec  203.0.113.60   pdns_recursor: forward-zones ntm.test and
#                         example.net to the parent (no recursion to the
#                         parent: it follows the parent's referrals)
#     par  203.0.113.100  pdns_server, bind backend: ntm.test (NS + glue for
#                         za.ntm.test and zb.ntm.test) and example.net (gh)
#     za1  203.0.113.111  zone za.ntm.test, member 1: ntm-dc :4510/:4511 and
#                         its own pdns_server :53 (remote backend over that
#                         member's unix socket) = ns1.za.ntm.test
#     za2  203.0.113.112  member 2 = ns2.za.ntm.test
#     zb1  203.0.113.121  zone zb.ntm.test, member 1 = ns1.zb.ntm.test
#     zb2  203.0.113.122  member 2 = ns2.zb.ntm.test
#     rs2  203.0.113.21   ntm-rs enrolled at zb1 (rs, §1's relay, at za1)
#     rs3  203.0.113.22   ntm-rs enrolled at za2 (with two members per zone:
#     rs4  203.0.113.23   ntm-rs enrolled at zb2  one relay starting at each
#                         member; each fails over to the other member when
#                         its own dies, docs/operations.md "Failover")
#   pga, pgb              namespaces with only lo: each zone's PostgreSQL
#                         (tests/pg/pg_cluster.sh), reached by the members
#                         through its unix socket under $W/pg-za, $W/pg-zb
#
#   fed_up               hosts, PostgreSQL, parent, recursor (no DC yet);
#                        resolv.conf of the relays, gh and the DC hosts point at
#                        the recursor
#   fed_dc_conf Z I      $W/ZI.conf for member I (1, 2) of zone Z (za, zb),
#                        with the [dc] cluster, [federation] and [peer.*]
#                        keys this ntm-dc build accepts (FED_HAS_*)
#   fed_start_dc Z I     ntm-dc serve of that member, then its pdns_server;
#                        member 2 gets member 1's DC key first (a cluster
#                        shares one identity: docs/operations.md)
#   fed_stop_dc Z I      SIGKILL of that member's ntm-dc (its pdns stays up,
#                        as on a host whose DC process died)
#   fed_dcx Z ARGS       the ntm-dc CLI beside member 1 of zone Z
#   fed_dcx_at M ARGS    the same beside member M (za1, za2, zb1, zb2)
#   fed_relays [Z]       the relay hosts of zone Z (default both zones),
#                        one per running member: FED_RELAY_AT[member]
#   fed_enrol_node HOST  node add HOST's FQDN (fed_fqdn) in its zone
#   fed_fqdn HOST        HOST.za.ntm.test / HOST.zb.ntm.test (FED_ZONE_OF),
#                        gh.example.net for gh
#   fed_features         sets FED_HAS_CLUSTER, FED_HAS_FEDERATION (0/1) from
#                        what DC_BIN's configuration parser accepts
#   FED_MEMBERS          members per zone: 2 with cluster support, else 1
#
# Every daemon runs in the foreground in its namespace, recorded by PID in
# SVC_PIDS (svc_stop_all stops them); the PostgreSQL clusters are stopped
# and removed by fed_down.  No address outside the namespaces is used.

FED_PARENT=ntm.test
FED_REC_IP=203.0.113.60
FED_PAR_IP=203.0.113.100
declare -gA FED_DOMAIN=([za]=za.ntm.test [zb]=zb.ntm.test)
declare -gA FED_MEMBER_IP=([za1]=203.0.113.111 [za2]=203.0.113.112 [zb1]=203.0.113.121 [zb2]=203.0.113.122)
declare -gA FED_RELAY_AT=([za1]=rs [za2]=rs3 [zb1]=rs2 [zb2]=rs4)
declare -gA FED_RELAY_IP=([rs2]=203.0.113.21 [rs3]=203.0.113.22 [rs4]=203.0.113.23)
# Which zone a node host is enrolled in: MNs under za, CNs under zb
# (docs/testbed.md §6.2).
declare -gA FED_ZONE_OF=([g1]=za [a2]=za [b1]=za [c1]=za [d1]=za [m]=za [g2]=zb [a1]=zb [m2]=zb)
declare -gA FED_ID=() FED_PEER_KEY=() FED_DCPID=() FED_PDNSPID=() FED_FP=()
FED_MEMBERS=1
FED_HAS_CLUSTER=0
FED_HAS_FEDERATION=0
FED_PG_STARTED=()

fed_fqdn() {
  if [ "$1" = gh ]; then echo "$TOPO_GH_NAME"; else echo "$1.${FED_DOMAIN[${FED_ZONE_OF[$1]}]}"; fi
}

# _fed_accepts DC-KEYS SECTIONS: DC_BIN's configuration parser accepts a
# file with the required keys, DC-KEYS in [dc] and SECTIONS after.  `node
# list` parses the file first and then fails on the database (a socket
# directory that does not exist), so an unknown section or key is told apart
# from everything else by its message.
_fed_accepts() {
  local f=$W/probe.conf out
  printf '[dc]\nid = 0123456789abcdef0123456789abcdef\nzones = za.ntm.test\nlisten = 127.0.0.1:4510\n' >"$f"
  printf 'state_dir = %s\n%s\n[database]\nurl = postgresql://postgres@/postgres?host=%s&port=1\n%s\n' \
    "$W/probe" "$1" "$W/no-such-dir" "$2" >>"$f"
  out=$(timeout 10 "$DC_BIN" -c "$f" --log-level off node list 2>&1)
  rm -rf "$f" "$W/probe"
  ! grep -qi 'unknown' <<<"$out"
}

fed_features() {
  FED_HAS_CLUSTER=0 FED_HAS_FEDERATION=0 FED_MEMBERS=1
  _fed_accepts 'cluster = 127.0.0.1:4510, 127.0.0.2:4510' '' && FED_HAS_CLUSTER=1 FED_MEMBERS=2
  _fed_accepts '' "$(printf '[federation]\nresolver = 127.0.0.1:53\n[peer.x]\ndc_id = %s\nkey = %064d\nzones = zb.ntm.test' \
    fedcba9876543210fedcba9876543210 1)" && FED_HAS_FEDERATION=1
  # Trust between the zones: certificates under one CA, pinned by each
  # zone's _ntm-dc record through the recursor (FED_TRUST=cert, the
  # default where ntm-dc has them), or one configured key (FED_TRUST=key).
  FED_TRUST=${FED_TRUST:-cert}
  if [ "$FED_TRUST" = cert ] &&
    ! _fed_accepts '' "$(printf '[federation]\nca_file = /ca.pem\ncert_file = /cert.pem')"; then
    FED_TRUST=key
  fi
  return 0
}

# ---- the world --------------------------------------------------------------
_fed_parent_files() {
  local d=$W/parent z i
  mkdir -p "$d"
  {
    echo "\$ORIGIN $FED_PARENT."
    echo "\$TTL 300"
    echo "@ IN SOA ns.$FED_PARENT. hostmaster.$FED_PARENT. 1 3600 600 604800 0"
    echo "@ IN NS ns.$FED_PARENT."
    echo "ns IN A $FED_PAR_IP"
    for z in za zb; do
      for ((i = 1; i <= FED_MEMBERS; i++)); do
        echo "$z IN NS ns$i.$z.$FED_PARENT."
        echo "ns$i.$z IN A ${FED_MEMBER_IP[$z$i]}"
      done
    done
  } >"$d/$FED_PARENT.zone"
  cat >"$d/example.net.zone" <<EOF
\$ORIGIN example.net.
\$TTL 300
@ IN SOA ns.$FED_PARENT. hostmaster.$FED_PARENT. 1 3600 600 604800 0
@ IN NS ns.$FED_PARENT.
gh IN A ${TOPO_IP[gh]}
EOF
  cat >"$d/named.conf" <<EOF
options { directory "$d"; };
zone "$FED_PARENT" { type master; file "$d/$FED_PARENT.zone"; };
zone "example.net" { type master; file "$d/example.net.zone"; };
EOF
}

# _fed_wait_dns HOST ADDR NAME TYPE PID LOG WHAT: until ADDR answers NAME
_fed_wait_dns() {
  local i
  for i in $(seq 100); do
    tx "$1" dig +time=1 +tries=1 @"$2" "$3" "$4" 2>/dev/null | grep -q 'status: NOERROR' && return 0
    kill -0 "$5" 2>/dev/null || break
    sleep 0.1
  done
  echo "$7 does not answer $3 $4 (log $6)" >&2
  return 1
}

fed_start_parent() {
  _fed_parent_files
  mkdir -p "$W/parent/run"
  ip netns exec "$TOPO_P-par" pdns_server --no-config --guardian=no --daemon=no --disable-syslog --write-pid=no \
    --socket-dir="$W/parent/run" --launch=bind --bind-config="$W/parent/named.conf" \
    --bind-check-interval=0 --local-address="$FED_PAR_IP" --local-port=53 \
    --receiver-threads=1 --distributor-threads=1 \
    --security-poll-suffix= --webserver=no --api=no --loglevel=4 >"$W/parent.log" 2>&1 &
  local pid=$!
  SVC_PIDS+=("$pid")
  _fed_wait_dns par "$FED_PAR_IP" "$FED_PARENT" SOA "$pid" "$W/parent.log" "the parent pdns_server"
}

# The recursor as the resolver of nodes and DCs: ntm.test and example.net
# are forwarded to the parent without RD, so the recursor follows the
# parent's referral to the zone's own servers as it would from the root.
# dont-query is emptied: its default list holds 203.0.113.0/24
# (documentation addresses), the only addresses here.  No DNSSEC (nothing
# is signed, and proving the test TLD insecure would need the root).
# Caching: the packet cache is off and TTLs are taken as given (node
# records have TTL 0), so an answer is never older than the zone's.
fed_start_recursor() {
  local d=$W/rec
  mkdir -p "$d"
  cat >"$d/recursor.conf" <<EOF
local-address=$FED_REC_IP
local-port=53
allow-from=0.0.0.0/0
dont-query=
forward-zones=$FED_PARENT=$FED_PAR_IP, example.net=$FED_PAR_IP
dnssec=off
security-poll-suffix=
threads=1
disable-packetcache=yes
minimum-ttl-override=0
max-negative-ttl=1
socket-dir=$d
daemon=no
write-pid=no
disable-syslog=yes
loglevel=4
EOF
  ip netns exec "$TOPO_P-rec" pdns_recursor --config-dir="$d" >"$W/recursor.log" 2>&1 &
  local pid=$!
  SVC_PIDS+=("$pid")
  _fed_wait_dns rec "$FED_REC_IP" "$TOPO_GH_NAME" A "$pid" "$W/recursor.log" "pdns_recursor"
}

fed_up() {
  local h z
  for h in za1 za2 zb1 zb2; do topo_add_g "$h" "${FED_MEMBER_IP[$h]}" "$FED_REC_IP" || return 1; done
  topo_add_g par "$FED_PAR_IP" "$FED_REC_IP" || return 1
  topo_add_g rec "$FED_REC_IP" 127.0.0.1 || return 1
  for h in $(fed_relays "za zb"); do
    [ "$h" = rs ] || topo_add_g "$h" "${FED_RELAY_IP[$h]}" "$FED_REC_IP" || return 1
  done
  for h in rs gh; do _topo_netns_etc "$h" "$FED_REC_IP"; done
  for z in za zb; do
    topo_add_lo "pg${z:1}" || return 1
    ip netns exec "$TOPO_P-pg${z:1}" "$SVC_DIR/../pg/pg_cluster.sh" start "$W/pg-$z" 5432 >/dev/null || {
      echo "PostgreSQL for zone $z did not start" >&2
      return 1
    }
    FED_PG_STARTED+=("$W/pg-$z")
    FED_ID[$z]=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  done
  FED_PEER_KEY[zazb]=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  if [ "$FED_TRUST" = cert ]; then _fed_certificates || return 1; fi
  fed_start_parent || return 1
  fed_start_recursor || return 1
}

# A CA for the testbed, and per zone the DC key (made here, before the first
# member starts, so that the CA can issue its certificate; the members use
# the key they find) and its certificate, issued the way an operator would
# (deploy/issue-dc-cert.sh).
_fed_certificates() {
  local d=$W/ca z
  mkdir -p "$d"
  openssl genpkey -algorithm ed25519 -out "$d/ca.key" 2>/dev/null &&
    openssl req -x509 -new -key "$d/ca.key" -subj "/CN=ntm testbed federation CA" -days 2 \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
      -out "$d/ca.pem" 2>/dev/null || { echo "the testbed CA could not be made" >&2; return 1; }
  for z in za zb; do
    mkdir -p "$W/${z}1"
    (umask 077 && openssl genpkey -algorithm x25519 -out "$W/${z}1/dc-key.pem") &&
      openssl pkey -in "$W/${z}1/dc-key.pem" -pubout -out "$d/$z-pub.pem" &&
      "$SVC_DIR/../../deploy/issue-dc-cert.sh" --ca-cert "$d/ca.pem" --ca-key "$d/ca.key" \
        --public-key "$d/$z-pub.pem" --dc-id "${FED_ID[$z]}" --zones "${FED_DOMAIN[$z]}" \
        --days 2 --out "$d/$z-cert.pem" >/dev/null ||
      { echo "no certificate for zone $z" >&2; return 1; }
  done
}

# fed_down: the PostgreSQL clusters (before topo_down deletes the namespaces).
fed_down() {
  local d
  for d in "${FED_PG_STARTED[@]}"; do "$SVC_DIR/../pg/pg_cluster.sh" stop "$d" >/dev/null 2>&1 || true; done
  FED_PG_STARTED=()
}

# ---- DC clusters --------------------------------------------------------------
_fed_other() { if [ "$1" = za ]; then echo zb; else echo za; fi; }

fed_dc_conf() {
  local z=$1 i=$2 m=$1$2 o ns="" glue="" members="" j
  o=$(_fed_other "$z")
  for ((j = 1; j <= FED_MEMBERS; j++)); do
    ns+="${ns:+, }ns$j.${FED_DOMAIN[$z]}"
    glue+="${glue:+, }ns$j.${FED_DOMAIN[$z]}=${FED_MEMBER_IP[$z$j]}"
    members+="${members:+, }${FED_MEMBER_IP[$z$j]}:4510"
  done
  mkdir -p "$W/$m" "$W/run"
  {
    cat <<EOF
[dc]
id = ${FED_ID[$z]}
zones = ${FED_DOMAIN[$z]}
listen = ${FED_MEMBER_IP[$m]}:4510
probe_listen = ${FED_MEMBER_IP[$m]}:4511
state_dir = $W/$m
EOF
    [ "$FED_HAS_CLUSTER" = 1 ] && echo "cluster = $members"
    cat <<EOF
[database]
url = postgresql://postgres@/postgres?host=$W/pg-$z&port=5432
[timers]
keepalive_s = 10
lifetime_s = 40
[dns]
socket = $W/run/$m.sock
nameservers = $ns
ns_addresses = $glue
[log]
level = ${SVC_DC_LOG_LEVEL:-debug}
EOF
    if [ "$FED_HAS_FEDERATION" = 1 ] && [ "$FED_TRUST" = cert ]; then
      cat <<EOF
[federation]
resolver = $FED_REC_IP:53
ca_file = $W/ca/ca.pem
cert_file = $W/ca/$z-cert.pem
EOF
    elif [ "$FED_HAS_FEDERATION" = 1 ]; then
      cat <<EOF
[federation]
resolver = $FED_REC_IP:53
[peer.$o]
dc_id = ${FED_ID[$o]}
key = ${FED_PEER_KEY[zazb]}
zones = ${FED_DOMAIN[$o]}
EOF
    fi
  } >"$W/$m.conf"
}

fed_dcx() { fed_dcx_at "${1}1" "${@:2}"; }
fed_dcx_at() { tx "$1" "$DC_BIN" -c "$W/$1.conf" --log-level warn "${@:2}"; }

fed_relays() {
  local z i
  for z in ${1:-za zb}; do
    for ((i = 1; i <= FED_MEMBERS; i++)); do printf '%s ' "${FED_RELAY_AT[$z$i]}"; done
  done
}

fed_start_dc() {
  local z=$1 i=$2 m=$1$2 pid n
  fed_dc_conf "$z" "$i"
  if [ "$i" != 1 ] && [ -f "$W/${z}1/dc-key.pem" ]; then
    install -m 0600 "$W/${z}1/dc-key.pem" "$W/$m/dc-key.pem"
  fi
  n=$(grep -c 'ntm-dc ready' "$W/$m.log" 2>/dev/null)
  ip netns exec "$TOPO_P-$m" "$DC_BIN" -c "$W/$m.conf" serve >>"$W/$m.log" 2>&1 &
  pid=$!
  FED_DCPID[$m]=$pid
  SVC_PIDS+=("$pid")
  local i2
  for ((i2 = 0; i2 < 600; i2++)); do
    [ "$(grep -c 'ntm-dc ready' "$W/$m.log")" -gt "${n:-0}" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ "$(grep -c 'ntm-dc ready' "$W/$m.log")" -gt "${n:-0}" ] || {
    echo "ntm-dc $m did not get ready (log $W/$m.log):" >&2
    tail -5 "$W/$m.log" >&2
    return 1
  }
  FED_FP[$m]=$(grep -o 'dc key: sha256:[0-9a-f]*' "$W/$m.log" | tail -1 | sed 's/.*sha256://')
  for ((i2 = 0; i2 < 100; i2++)); do
    "$TOPO_PY" -c "import socket,sys;socket.socket(socket.AF_UNIX).connect(sys.argv[1])" \
      "$W/run/$m.sock" 2>/dev/null && break
    sleep 0.05
  done
  # A restarted member keeps the pdns_server it had.
  if [ -z "${FED_PDNSPID[$m]:-}" ] || ! kill -0 "${FED_PDNSPID[$m]}" 2>/dev/null; then
    svc_pdns_remote "$m" "${FED_MEMBER_IP[$m]}" "$W/run/$m.sock" "$W/pdns-$m.log" "${FED_DOMAIN[$z]}" || return 1
    FED_PDNSPID[$m]=${SVC_PIDS[-1]}
  fi
}

fed_stop_dc() {
  local m=$1$2
  [ -n "${FED_DCPID[$m]:-}" ] || return 0
  kill -KILL "${FED_DCPID[$m]}" 2>/dev/null
  wait "${FED_DCPID[$m]}" 2>/dev/null
  FED_DCPID[$m]=""
}

fed_enrol_node() {
  mkdir -p "$W/$1"
  fed_dcx "${FED_ZONE_OF[$1]}" node add "$(fed_fqdn "$1")" -o "$W/$1/node.conf" >/dev/null
}
