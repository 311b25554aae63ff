# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Everything here runs in federation_test.sh's shell, which defines W, P,
# HERE, VIP, check, log, want_phase, not_run and the FED_* globals:
# shellcheck disable=SC2004,SC2034,SC2153
# The two-zone testbed's data plane (sourced by federation_test.sh once the
# DNS checks passed and ntmd, ntm-rs and a federating ntm-dc exist;
# docs/testbed.md §6): MNs enrolled under za, CNs under zb, Table 1's
# placements across the zones with tcase (table1_cases.sh), movement
# patterns across the zones with run_case (mobility_cases.sh), and one
# member of each DC cluster killed during traffic.

# shellcheck source-path=SCRIPTDIR source=mobility.sh
. "$HERE/mobility.sh"
# shellcheck source-path=SCRIPTDIR source=table1_cases.sh
. "$HERE/table1_cases.sh"
# shellcheck source-path=SCRIPTDIR source=mobility_cases.sh
. "$HERE/mobility_cases.sh"

fqdn() { fed_fqdn "$1"; }
# A federated path is relayed by DC_MN's relays (docs/federation.md, "Whose
# relay"): the MN's zone's, never the other zone's.
case_relay() { fed_relays "${FED_ZONE_OF[$1]:-za}"; }
CASE_DC_LOGS="$W/za1.log $W/zb1.log"
[ "$FED_MEMBERS" = 2 ] && CASE_DC_LOGS+=" $W/za2.log $W/zb2.log"
PROBE=$HERE/probe.py
BULK_SIZE=3000000
BULK_RATE=1000000
PROBE_S=6
TSV=$W/mobility.tsv
# Movement patterns across the zones (mobility_test.sh's numbering, with
# g2 (G, zb) in place of g1).  The default leaves out the general host's
# rows (gh is in no zone: netns.mobility has them) and the two moves within
# one network (1, 7), and keeps every route change: G -> P(A) (3), back
# (5), P(A) -> P(B) (9), a CN behind NAT (11), into its network (12), away
# from it onto the relay (13, 16), off the relay (14) and relay to relay
# (17).  All 17 take about 145 s instead of 80 (docs/testbed.md §6.3).
FED_MOB_ROWS=${FED_MOB_ROWS:-3 5 9 11 12 13 14 16 17 cnmove}
want_case() { [[ " $FED_MOB_ROWS " == *" $1 "* ]]; }

# ---- services -----------------------------------------------------------------
mob_add m || die "mob_add m"
mob_place m G || die "mob_place m G"
fed_enrol_node m || die "node add m"
# m2 (zb, behind NAT B at 192.168.1.22) is used only after the kill, so
# that its relayed paths there are new directions, not ones a node reuses.
mob_add m2 || die "mob_add m2"
mob_place m2 B || die "mob_place m2 B"
fed_enrol_node m2 || die "node add m2"
for h in gh "${MN_NODES[@]}" "${CN_NODES[@]}" m2; do svc_start_srv "$h" "$(fqdn "$h")" || die "servers"; done
for h in gh g2 a1; do
  ip netns exec "$TOPO_P-$h" "$TOPO_PY" "$HERE/bulk.py" 9100 >"$W/bulk-$h.log" 2>&1 &
  SVC_PIDS+=("$!")
done
for r in $(fed_relays "za zb"); do svc_start_rs "$r" || die "ntm-rs on $r"; done
SVC_DNS_UPSTREAM=$FED_REC_IP svc_start_ntmd "${MN_NODES[@]}" "${CN_NODES[@]}" m m2 || die "ntmd"
for h in "${MN_NODES[@]}" "${CN_NODES[@]}" m m2; do
  VIP[$h]=$(svc_status "$h" | jq -r .vip)
  if [ -z "${VIP[$h]}" ] || [ "${VIP[$h]}" = null ]; then die "no VIP for $h"; fi
done
for h in gh g2 a1; do
  for _ in $(seq 50); do tx "$h" ss -Hltn 'sport = :9100' | grep -q . && break; sleep 0.1; done
done
log "ntm-rs on $(fed_relays za)(za) and $(fed_relays zb)(zb), ntmd on ${MN_NODES[*]} m (za) and ${CN_NODES[*]} m2 (zb)"

# ---- Table 1 across the zones ------------------------------------------------------
if want_phase table1; then
  echo
  log "Table 1 across zones: MN under za, CN under zb (docs/route-decision.md)"
  tcase g1 g2 direct "rows 1, 5"
  tcase g1 gh relay_general "rows 2, 6 (general host)"
  tcase a2 g2 direct "rows 3, 7"
  tcase a2 gh relay_general "rows 4, 8 (general host)"
  tcase b1 g2 direct "row 9"
  tcase b1 gh relay_general "row 10 (general host)"
  tcase g1 a1 direct "rows 11, 14 (CN sends first)"
  tcase a2 a1 direct_private "rows 12, 15 (same NAT and /24, two zones)"
  tcase b1 a1 relay "rows 13, 16 (two NATs, same private prefix)"
  tcase c1 a1 relay "row 17 (two NATs)"
  tcase d1 g2 direct "MN behind symmetric NAT sends first"
  tcase g2 d1 direct "zb's MN to za's CN behind symmetric NAT"
  tcase d1 a1 relay "symmetric NAT and another NAT"
fi

# ---- moves across the zones ---------------------------------------------------------
if want_phase moves; then
  echo
  log "movement patterns across zones (m under za moves; CN g2 or a1 under zb): rows $FED_MOB_ROWS"
  mob_tsv_header
  rows=()
  for r in "1 G G g2" "2 G G gh" "3 G A g2" "4 G A gh" "5 A G g2" "6 A G gh" "7 A A g2" "8 A A gh" \
    "9 A B g2" "10 A B gh" "11 G G a1" "12 G A a1" "13 G B a1" "14 B G a1" "15 B A a1" \
    "16 A B a1" "17 B C a1"; do
    rows+=("$r")
  done
  mob_table1_rows "${rows[@]}"
  # Two moves FED_TWICE_MS apart (G -> A -> G, CN a1 behind NAT A): the
  # second comes while the re-direction the first caused is still on its
  # way through both DCs, so DC_MN must send its Route Direction to m's
  # newest address (resend_to_moved on a federated path).
  if want_case twice && prepare a1 G; then
    act_twice_fed() {
      mob_place m "$1"
      T_MOVE=$MOB_T_START
      sleep "$(awk -v ms="${FED_TWICE_MS:-20}" 'BEGIN{print ms / 1000}')"
      mob_place m "$2"
      T_CONF=$MOB_T_CONFIGURED
    }
    CASE_HORIZON=0.5 run_case twice "G->${FED_TWICE_VIA:-A}->G (${FED_TWICE_MS:-20} ms)" a1 direct act_twice_fed "${FED_TWICE_VIA:-A}" G
  fi
  # The CN moves (docs/federation.md §5): a2 (za, behind NAT A) has a direct
  # path to m2 (zb) on a global address; m2 moves behind NAT B.  No direct
  # route is left between two NATs, and NAT A drops m2's NTM Update from its
  # new address; only zb's DC sees the move and only za's may re-direct, so
  # zb's tells za's (Path Moved).  The path must be on za's relay within
  # 2 s of the move: the nodes' own dead-path detection, the only way
  # before, starts after 3 s of silence.  m2 ends at B, where it started.
  if want_case cnmove; then
    d=$W/case-cnmove
    mkdir -p "$d"
    name=$(fqdn m2)
    ok=1 detail="m2 not registered at G"
    if mob_place m2 G && wait_registered m2 G 10; then
      v=$(tx a2 dig +short +time=8 +tries=1 "$name" A 2>/dev/null | tail -1)
      read -r rb _ < <(wait_path a2 "$name" direct 8)
      detail="a2 -> m2 before the move: '$rb' (VIP '$v'), expected direct"
      if [ "$rb" = direct ]; then
        ip netns exec "$TOPO_P-m2" "$TOPO_PY" "$PROBE" recv 0.0.0.0 9004 8 "$d/fwd.txt" &
        rpid=$!
        sleep 0.3
        ip netns exec "$TOPO_P-a2" "$TOPO_PY" "$PROBE" send "$v" 9004 1 5 2>"$d/fwd.send" &
        spid=$!
        probe_wait_started 10 "$d/fwd.send"
        sleep 1
        mob_place m2 B
        t_move=$MOB_T_START t_conf=$MOB_T_CONFIGURED t=$(now)
        read -r ra _ < <(wait_path a2 "$name" relay 2)
        took=$(since "$t")
        read -r rm2 _ < <(wait_path m2 "$(fqdn a2)" relay 1)
        wait "$spid"
        sleep 0.5
        kill -TERM "$rpid" 2>/dev/null
        wait "$rpid" 2>/dev/null
        read -r -a g < <(gapof "$d/fwd.txt" "$t_move" "$t_conf" 1)
        [ "$ra" = relay ] && [ "$rm2" = relay ] && [ "${g[3]}" = true ] && [ "${g[1]}" != - ] &&
          awk -v x="${g[1]}" 'BEGIN{exit !(x < 1000)}'
        ok=$?
        detail="a2 -> m2 after m2 G->B: a2 '$ra' (after ${took} s), m2 '$rm2', expected relay within 2 s;"
        detail+=" probes a2 -> m2: recovered ${g[3]}, ${g[1]} ms after the configured moment (bound 1000), lost ${g[2]}"
      fi
    fi
    check "case cnmove" "$ok" "$detail"
    printf 'cnmove\tm2 G->B\ta2\t%s\t%s\t-\t%s\t%s\t-\t-\t-\t-\t-\t-\t%s\n' "${rb:--}" "${ra:--}" \
      "${g[1]:--}" "${g[2]:--}" "$([ "$ok" = 0 ] && echo PASS || echo FAIL)" >>"$TSV"
    [ "$(mob_loc m2)" = B ] || mob_place m2 B
  fi
  echo "-- moves across zones (gaps in ms, '-' = no data; $TSV)"
  column -t -s $'\t' "$TSV"
fi

# ---- one member of each cluster killed during traffic ------------------------------------
if ! want_phase cluster; then
  :
elif [ "$FED_MEMBERS" != 2 ]; then
  not_run cluster "this ntm-dc has no [dc] cluster: one member per zone"
else
  echo
  log "cluster: SIGKILL of za1 and zb1 during traffic on established cross-zone paths"
  d=$W/cluster
  mkdir -p "$d"
  # Established paths (from the Table 1 phase, or made here): g1 -> g2
  # direct, b1 -> a1 relayed; a 1 ms probe stream each way on each.
  for pair in "g1 g2" "b1 a1"; do
    read -r mn cn <<<"$pair"
    tx "$mn" dig +short +time=8 +tries=1 "$(fqdn "$cn")" A >/dev/null 2>&1
  done
  streams=("g1 g2 9010" "g2 g1 9011" "b1 a1 9012" "a1 b1 9013")
  rpids=() spids=()
  for st in "${streams[@]}"; do
    read -r from to port <<<"$st"
    ip netns exec "$TOPO_P-$to" "$TOPO_PY" "$PROBE" recv 0.0.0.0 "$port" 10 "$d/$from-$to.txt" &
    rpids+=("$!")
  done
  sleep 0.3
  for st in "${streams[@]}"; do
    read -r from to port <<<"$st"
    ip netns exec "$TOPO_P-$from" "$TOPO_PY" "$PROBE" send "${VIP[$to]}" "$port" 1 6 2>"$d/$from-$to.send" &
    spids+=("$!")
  done
  probe_wait_started 10 "$d"/*.send
  sleep 1
  T_KILL=$(nowns)
  fed_stop_dc za 1
  fed_stop_dc zb 1
  t_kill=$(now)
  log "za1 and zb1 killed (SIGKILL); their pdns_servers stay up without a backend"
  # New directions while the established streams run: each MN asks its
  # resolver (ntmd) until the name gives a VIP; ntmd must have failed over
  # to the zone's other member, which must reach the peer zone's survivor.
  declare -A T_NEW=()
  for pair in "c1 g2" "a1 g1" "c1 m2" "m2 d1"; do
    read -r mn cn <<<"$pair"
    T_NEW[$pair]=-
    while awk -v a="$t_kill" -v b="$(now)" 'BEGIN{exit !(b - a < 30)}'; do
      v=$(tx "$mn" dig +short +time=5 +tries=1 "$(fqdn "$cn")" A 2>/dev/null | tail -1)
      if [[ $v =~ ^[0-9.]+$ ]]; then T_NEW[$pair]=$(since "$t_kill"); break; fi
      sleep 0.2
    done
  done
  for p in "${spids[@]}"; do wait "$p"; done
  sleep 0.5
  for p in "${rpids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for st in "${streams[@]}"; do
    read -r from to port <<<"$st"
    read -r -a g < <(gapof "$d/$from-$to.txt" "$T_KILL" "$T_KILL" 1)
    # The data path does not go through a DC: the kill must not show.
    [ "${g[3]}" = true ] && [ "${g[0]}" != - ] && awk -v x="${g[0]}" 'BEGIN{exit !(x < 500)}'
    check "established $from -> $to across the kill" $? \
      "probes $from -> $to (VIP ${VIP[$to]}): largest gap after the kill ${g[0]} ms (bound 500), lost ${g[2]}, recovered ${g[3]}"
  done
  got=$(qr gh "g1.za.ntm.test" A)
  [ "$got" = "NOERROR|${TOPO_IP[g1]}" ]
  check "dns after the kill za" $? "g1.za.ntm.test A via the recursor with za1's backend gone: '$got'"
  got=$(qr gh "g2.zb.ntm.test" A)
  [ "$got" = "NOERROR|${TOPO_IP[g2]}" ]
  check "dns after the kill zb" $? "g2.zb.ntm.test A via the recursor with zb1's backend gone: '$got'"
  log "new directions after the kill: first answer after ${T_NEW[c1 g2]} s (c1 -> g2), ${T_NEW[a1 g1]} s (a1 -> g1)," \
    "${T_NEW[c1 m2]} s (c1 -> m2), ${T_NEW[m2 d1]} s (m2 -> d1)"
  tcase c1 g2 direct "new direction after the kill (za MN behind NAT C, zb CN global)"
  tcase a1 g1 direct "new direction after the kill (zb MN behind NAT A, za CN global)"
  tcase c1 m2 relay "new direction after the kill (za MN at NAT C, zb CN at NAT B: a za relay)"
  tcase m2 d1 relay "new direction after the kill (zb MN at NAT B, za CN at symmetric NAT D: a zb relay)"
  tcase g1 g2 direct "the established path after the kill, by name again"
fi
