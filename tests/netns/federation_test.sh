#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The two-zone testbed (docs/testbed.md §6): zone za.ntm.test and zone
# zb.ntm.test, each served by its own DC cluster (ntm-dc members on one
# PostgreSQL per zone, each member with its own pdns_server), a parent
# pdns_server (bind backend) delegating both zones from ntm.test, and
# pdns_recursor as the resolver of nodes and DCs.
#
#   federation_test.sh NTM_DC NTM_SIM [NTMD NTM_RS]
#
#   dns      every daemon up; nodes registered with `ntm-sim register`; then
#            through the recursor: node A records and TXT markers of both
#            zones, each zone's _ntm-dc discovery TXT with the fingerprint
#            the DC logged, NXDOMAIN, the general host, the parent's
#            referral, each member's pdns answering with authority, the DC
#            hosts' system resolver
#   table1   (needs ntmd, ntm-rs and an ntm-dc with federation) MN under za,
#            CN under zb: every Table 1 placement by name over the VIPs
#   moves    cross-zone movement patterns (mobility_cases.sh)
#   cluster  (needs the DC cluster) one member of each zone killed during
#            traffic: the paths keep working, new directions succeed
#
# Phases whose parts this build lacks are reported as not run, with the
# reason.  Exit 77 (skipped) when not root, without /dev/net/tun,
# pdns_server with its remote and bind backends, pdns_recursor, PostgreSQL
# or the tools.  Every packet stays in the namespaces made here (prefix
# fd<pid>); the EXIT trap stops every process started here, the two
# PostgreSQL clusters, and removes the namespaces and /etc/netns/PREFIX-*.
#   KEEP=1        keep the world up after the run (Ctrl-C tears it down)
#   TB_PREFIX=P   namespace prefix (default fd<pid>)
#   FED_ONLY="dns table1"  run only these phases (dns always runs)
set -uo pipefail

DC_BIN=${1:?usage: federation_test.sh NTM_DC NTM_SIM [NTMD NTM_RS]}
SIM=${2:?ntm-sim binary}
NTMD=${3:-}
NTMRS=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TUN, iptables)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
command -v pdns_server >/dev/null || skip "pdns_server not installed (scripts/setup.sh)"
command -v pdns_recursor >/dev/null || skip "pdns_recursor not installed (scripts/setup.sh: pdns-recursor)"
ls /usr/lib/*/pdns/libremotebackend.so >/dev/null 2>&1 || skip "pdns-backend-remote not installed"
ls /usr/lib/*/pdns/libbindbackend.so >/dev/null 2>&1 || skip "pdns-backend-bind not installed"
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || skip "PostgreSQL server not installed"
for t in ip iptables nft dig python3 jq getent runuser; do
  command -v "$t" >/dev/null || skip "$t not installed (scripts/setup.sh)"
done
[ -x "$DC_BIN" ] || skip "ntm-dc is not built"
[ -x "$SIM" ] || skip "ntm-sim is not built"

# shellcheck source-path=SCRIPTDIR source=topology.sh
. "$HERE/topology.sh"
# shellcheck source-path=SCRIPTDIR source=services.sh
. "$HERE/services.sh"
# shellcheck source-path=SCRIPTDIR source=federation.sh
. "$HERE/federation.sh"

P=${TB_PREFIX:-fd$$}
W=$(mktemp -d /tmp/ntm-fed.XXXXXX)
chmod 711 "$W"
T0=$(date +%s.%N)
FAILS=0
PASSES=0
SUMMARY=()
NOT_RUN=()
declare -A VIP=()

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
log() { echo "[$(since "$T0")s] $*"; }
nowns() { echo "${EPOCHREALTIME//[.,]/}000"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  svc_stop_all
  fed_down
  topo_down "$P"
  if [ "$FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "logs kept in $W"
  else
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "FAIL: $*"
  local f
  for f in "$W"/z[ab][12].log "$W"/pdns-z*.log "$W"/parent.log "$W"/recursor.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }
  done
  FAILS=$((FAILS + 1))
  exit 1
}

check() {  # LABEL RESULT(0/1) DETAIL
  if [ "$2" -eq 0 ]; then
    PASSES=$((PASSES + 1)); echo "PASS $1: $3"
  else
    FAILS=$((FAILS + 1)); echo "FAIL $1: $3"
  fi
  SUMMARY+=("$([ "$2" -eq 0 ] && echo PASS || echo FAIL) $1")
}
not_run() { NOT_RUN+=("$1: $2"); echo "NOT RUN $1: $2"; }
want_phase() { [ -z "${FED_ONLY:-}" ] || [[ " $FED_ONLY " == *" $1 "* ]]; }

# ---- the world ---------------------------------------------------------------
topo_up "$P" || die "topology"
fed_features
log "ntm-dc accepts: [dc] cluster $([ "$FED_HAS_CLUSTER" = 1 ] && echo yes || echo no)," \
  "[federation]/[peer.*] $([ "$FED_HAS_FEDERATION" = 1 ] && echo yes || echo no): $FED_MEMBERS member(s) per zone," \
  "trust between zones: $([ "${FED_TRUST:-key}" = cert ] && echo "certificates under one CA, pinned in DNS" || echo "a configured key")"
fed_up || die "two-zone world"
log "topology $P up: $(ip netns list | grep -c "^$P-") namespaces; PostgreSQL per zone, parent and recursor answer"

for z in za zb; do
  for ((i = 1; i <= FED_MEMBERS; i++)); do fed_start_dc "$z" "$i" || die "ntm-dc $z$i"; done
done
log "DC members ready: $(for m in za1 za2 zb1 zb2; do [ -n "${FED_DCPID[$m]:-}" ] && printf '%s ' "$m"; done)"

MN_NODES=(g1 a2 b1 c1 d1)
CN_NODES=(g2 a1)
for h in "${MN_NODES[@]}" "${CN_NODES[@]}"; do fed_enrol_node "$h" || die "node add $h"; done
fed_dcx zb node add "off.${FED_DOMAIN[zb]}" -o "$W/off.conf" >/dev/null || die "node add off"
for z in za zb; do
  for ((i = 1; i <= FED_MEMBERS; i++)); do
    r=${FED_RELAY_AT[$z$i]}
    mkdir -p "$W/$r"
    fed_dcx_at "$z$i" relay add "$r.${FED_DOMAIN[$z]}" -o "$W/$r/relay.conf" >/dev/null || die "relay add $r"
  done
done
log "enrolled: za $(fed_dcx za node list | grep -c "${FED_DOMAIN[za]}") nodes, zb $(fed_dcx zb node list | grep -c "${FED_DOMAIN[zb]}") nodes; relays $(fed_relays za)(za) $(fed_relays zb)(zb), one per member"

# ---- DNS through the recursor --------------------------------------------------
echo
log "DNS: parent ntm.test -> za/zb, through pdns_recursor $FED_REC_IP"
for h in g1 g2 a1; do
  out=$(tx "$h" "$SIM" register "$W/$h/node.conf" --bind "${TOPO_IP[$h]}" 2>&1)
  grep -q 'vip ' <<<"$out"
  check "register $h ($(fed_fqdn "$h"))" $? "$out"
done

# qr HOST NAME TYPE [@SERVER]: "STATUS|answer;answer" as HOST sees it
qr() {
  local out st
  out=$(tx "$1" dig +time=2 +tries=2 "${4:-@$FED_REC_IP}" "$2" "$3" 2>&1)
  st=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")
  echo "${st:-NO-ANSWER}|$(awk -v t="$3" '/^;/ || NF < 5 {next} $4 == t {$1=$2=$3=$4=""; sub(/^ +/, ""); print}' <<<"$out" | paste -sd';')"
}
# qr_until HOST NAME TYPE WANT SECS: until qr gives WANT (the other member
# may see a registration a moment later); prints the last answer
qr_until() {
  local i got
  for ((i = 0; i < $5 * 10; i++)); do
    got=$(qr "$1" "$2" "$3")
    [ "$got" = "$4" ] && break
    sleep 0.1
  done
  echo "$got"
}

za_eps="${FED_MEMBER_IP[za1]}:4510 ${FED_MEMBER_IP[za2]}:4510"
zb_eps="${FED_MEMBER_IP[zb1]}:4510 ${FED_MEMBER_IP[zb2]}:4510"
in_list() { [[ " $2 " == *" $1 "* ]]; }

got=$(qr_until gh "g1.za.ntm.test" A "NOERROR|${TOPO_IP[g1]}" 3)
[ "$got" = "NOERROR|${TOPO_IP[g1]}" ]
check "dns A za" $? "g1.za.ntm.test A via the recursor: '$got' (expected NOERROR|${TOPO_IP[g1]})"
got=$(qr_until gh "g2.zb.ntm.test" A "NOERROR|${TOPO_IP[g2]}" 3)
[ "$got" = "NOERROR|${TOPO_IP[g2]}" ]
check "dns A zb" $? "g2.zb.ntm.test A via the recursor: '$got' (expected NOERROR|${TOPO_IP[g2]})"
got=$(qr gh "a1.zb.ntm.test" A)
[ "$got" = "NOERROR|" ]
check "dns A behind NAT" $? "a1.zb.ntm.test A: '$got' (expected NOERROR with no address: behind NAT, no nat_address)"
for pair in "g1.za.ntm.test za" "a1.zb.ntm.test zb" "g2.zb.ntm.test zb"; do
  read -r name z <<<"$pair"
  got=$(qr gh "$name" TXT)
  ep=$(sed -n 's/^NOERROR|"v=ntm1 dc=\([0-9.:]*\)"$/\1/p' <<<"$got")
  eps=$za_eps
  [ "$z" = zb ] && eps=$zb_eps
  [ -n "$ep" ] && in_list "$ep" "$eps"
  check "dns marker $name" $? "TXT '$got' (expected v=ntm1 dc= one of $eps)"
done
for z in za zb; do
  got=$(qr gh "_ntm-dc.${FED_DOMAIN[$z]}" TXT)
  ep=$(sed -n 's/^NOERROR|"v=ntm1 endpoint=\([0-9.:]*\) fp=sha256:\([0-9a-f]*\)"$/\1 \2/p' <<<"$got")
  eps=$za_eps
  [ "$z" = zb ] && eps=$zb_eps
  [ -n "${FED_FP[${z}1]}" ] && in_list "${ep% *}" "$eps" && [ "${ep#* }" = "${FED_FP[${z}1]}" ]
  check "dns discovery $z" $? "_ntm-dc.${FED_DOMAIN[$z]} TXT '$got' (expected endpoint one of $eps, fp ${FED_FP[${z}1]:-none logged})"
done
if [ "$FED_MEMBERS" = 2 ]; then
  for z in za zb; do
    [ "${FED_FP[${z}1]}" = "${FED_FP[${z}2]}" ]
    check "cluster key $z" $? "members log dc key ${FED_FP[${z}1]:-?} and ${FED_FP[${z}2]:-?} (one identity per cluster)"
  done
fi
got=$(qr gh "nosuch.za.ntm.test" A)
[ "${got%%|*}" = NXDOMAIN ]
check "dns NXDOMAIN" $? "nosuch.za.ntm.test A: '$got' (expected NXDOMAIN)"
got=$(qr gh "$TOPO_GH_NAME" A)
[ "$got" = "NOERROR|${TOPO_IP[gh]}" ]
check "dns general host" $? "$TOPO_GH_NAME A: '$got' (expected ${TOPO_IP[gh]})"
got=$(qr gh "$TOPO_GH_NAME" TXT)
[ "$got" = "NOERROR|" ]
check "dns general host no marker" $? "$TOPO_GH_NAME TXT: '$got' (expected NOERROR, no TXT: not an NTMobile node)"
# The parent refers, it does not answer: NS of the zone in the authority
# section, the glue in the additional one, no AA.
out=$(tx gh dig +norec +time=2 +tries=1 @"$FED_PAR_IP" g1.za.ntm.test A 2>&1)
ns=$(awk '/AUTHORITY SECTION/{f=1;next} /^$/{f=0} f && $4=="NS"{print $5}' <<<"$out" | sort | paste -sd' ')
glue=$(awk '/ADDITIONAL SECTION/{f=1;next} /^$/{f=0} f && $4=="A"{print $5}' <<<"$out" | sort | paste -sd' ')
want_ns=$(for ((i = 1; i <= FED_MEMBERS; i++)); do echo "ns$i.za.ntm.test."; done | sort | paste -sd' ')
want_glue=$(for ((i = 1; i <= FED_MEMBERS; i++)); do echo "${FED_MEMBER_IP[za$i]}"; done | sort | paste -sd' ')
grep -q 'status: NOERROR' <<<"$out" && ! grep -q 'flags:.* aa' <<<"$out" && [ "$ns" = "$want_ns" ] && [ "$glue" = "$want_glue" ]
check "parent referral" $? "parent for g1.za.ntm.test: NS '$ns' glue '$glue' (expected a referral to '$want_ns' at '$want_glue')"
for m in za1 za2 zb1 zb2; do
  [ -n "${FED_DCPID[$m]:-}" ] || continue
  z=${m:0:2}
  want=g1 && [ "$z" = zb ] && want=g2
  out=$(tx gh dig +norec +time=2 +tries=1 @"${FED_MEMBER_IP[$m]}" "$want.${FED_DOMAIN[$z]}" A 2>&1)
  # A registration at one member reaches the other's view within the
  # cluster's bound: allow 3 s.
  for ((i = 0; i < 30; i++)); do
    grep -q "^$want\.${FED_DOMAIN[$z]}\..*A.*${TOPO_IP[$want]}" <<<"$out" && break
    sleep 0.1
    out=$(tx gh dig +norec +time=2 +tries=1 @"${FED_MEMBER_IP[$m]}" "$want.${FED_DOMAIN[$z]}" A 2>&1)
  done
  grep -q 'flags:.* aa' <<<"$out" && grep -q "^$want\.${FED_DOMAIN[$z]}\..*A.*${TOPO_IP[$want]}" <<<"$out"
  check "member pdns $m" $? "ns at ${FED_MEMBER_IP[$m]} answers $want.${FED_DOMAIN[$z]} A with authority: $(grep -c 'flags:.* aa' <<<"$out") aa, answer '$(awk '$4=="A"{print $5}' <<<"$out")'"
done
# Resolution as the DCs do it (their system resolver is the recursor) and
# as a node behind NAT asks it (the recursor sees NAT A's address).
got=$(tx za1 getent ahostsv4 g2.zb.ntm.test | awk 'NR==1{print $1}')
[ "$got" = "${TOPO_IP[g2]}" ]
check "dc system resolver" $? "za1 getent g2.zb.ntm.test: '$got' (expected ${TOPO_IP[g2]})"
got=$(qr a2 "_ntm-dc.zb.ntm.test" TXT)
[ "${got%%|*}" = NOERROR ] && [ -n "${got#*|}" ]
check "dns from behind NAT" $? "a2 (behind NAT A) asks the recursor for _ntm-dc.zb.ntm.test: '$got'"

# ---- the data plane across zones -------------------------------------------------
DATA=1
if [ -z "$NTMD" ] || [ ! -x "$NTMD" ] || [ -z "$NTMRS" ] || [ ! -x "$NTMRS" ]; then
  DATA=0; not_run "table1, moves, cluster" "ntmd or ntm-rs is not built"
elif [ "$FED_HAS_FEDERATION" = 0 ]; then
  DATA=0; not_run "table1, moves, cluster" "this ntm-dc has no federation ([federation]/[peer.*] unknown): a cross-zone name would be a general host"
fi
if [ "$DATA" = 1 ] && [ -f "$HERE/federation_cases.sh" ]; then
  # shellcheck source-path=SCRIPTDIR source=federation_cases.sh
  . "$HERE/federation_cases.sh"
fi

# With certificates, every path above went between DCs that share no key:
# each zone admitted the other's DC from its certificate, pinned by the
# _ntm-dc record the other zone's pdns publishes, found through the recursor.
if [ "$DATA" = 1 ] && [ "${FED_TRUST:-key}" = cert ]; then
  for z in za zb; do
    o=$([ "$z" = za ] && echo zb || echo za)
    grep -qh "admitted by certificate for ${FED_DOMAIN[$o]}: key sha256:${FED_FP[${o}1]}" "$W/$z"[12].log
    check "certificate trust $z" $? "a member of $z admitted ${FED_DOMAIN[$o]}'s DC by its certificate, key sha256:${FED_FP[${o}1]:-?}"
  done
fi

# Not asserted (a killed member's peers may log the loss): the DCs' error
# lines, the first place to look when a case failed.
errs=$(grep -h ' error: ' "$W"/z[ab][12].log 2>/dev/null | sed -E 's/^[0-9T:.-]+ //' | sort | uniq -c | sort -rn)
if [ -n "$errs" ]; then
  echo
  echo "-- DC error lines (count, message):"
  head -8 <<<"$errs"
fi

echo
echo "== summary (prefix $P, $FED_MEMBERS member(s) per zone, $(since "$T0") s)"
printf '  %s\n' "${SUMMARY[@]}"
[ "${#NOT_RUN[@]}" -gt 0 ] && printf '  NOT RUN %s\n' "${NOT_RUN[@]}"
echo "federation: $PASSES passed, $FAILS failed"

if [ "${KEEP:-0}" = 1 ]; then
  echo
  echo "KEEP=1: the world stays up. Work dir $W. Try:"
  echo "  ip netns exec $P-gh dig @$FED_REC_IP g1.za.ntm.test A"
  echo "  ip netns exec $P-gh dig +norec @$FED_PAR_IP g1.za.ntm.test A   # the referral"
  echo "  ip netns exec $P-g1 curl http://g2.zb.ntm.test:8080/"
  echo "Ctrl-C tears everything down."
  while :; do sleep 3600; done
fi
[ "$FAILS" -eq 0 ]
