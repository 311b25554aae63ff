# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# W, NTMD, TOPO_*, VIP, PROBE, BULK_*, PROBE_S, TSV and the helpers named
# below come from the caller; T_MOVE, T_CONF and PREP_NOTE are read there:
# shellcheck disable=SC2034,SC2153
# The machinery of a movement case (sourced after topology.sh, services.sh
# and mobility.sh by mobility_test.sh and federation_test.sh; docs/testbed.md
# §5, §6): the mobile host m at a place with a path to a CN (prepare), a
# paced download and probe streams across an action such as a move
# (run_case), Table 1's rows as concrete places (mob_table1_rows).  The
# caller defines
#   fqdn HOST                         the name m asks for
#   check LABEL RC TEXT, now, since   its bookkeeping
#   VIP[HOST]                         VIPs (the CN sends to m's)
#   PROBE BULK_SIZE BULK_RATE PROBE_S the probe tool and the traffic
#   TSV                               the per-case table (mob_tsv_header)
#   want_case ID                      whether a case runs
# and may set CASE_DC_LOGS, the DC logs shown on a failure (default
# $W/dc.log).  The CN of a case is a host with bulk.py on :9100, or gh.

# path_of HOST PEER-FQDN: "route state moves-json" of HOST's last path to PEER
path_of() {
  svc_status "$1" | jq -r --arg p "$2" \
    '[.paths[] | select(.peer == $p)] | last | if . == null then "none none {}" else
     "\(.route) \(.state) \(.moves | tojson)" end' 2>/dev/null || echo "none none {}"
}

# wait_path HOST PEER WANT SECS: until HOST's path to PEER is up (with route
# WANT unless WANT is "-"); prints "route state"
wait_path() {
  local i r s rest
  for ((i = 0; i < $4 * 10; i++)); do
    read -r r s rest < <(path_of "$1" "$2")
    if [ "$s" = up ] && { [ "$3" = - ] || [ "$r" = "$3" ]; }; then
      echo "$r $s"
      return 0
    fi
    sleep 0.1
  done
  echo "$r $s"
  return 1
}

# observed_for LOC [HOST]: the address the DC sees HOST (default m) at from LOC
observed_for() {
  case $1 in
    G | G2) mob_addr "${2:-m}" "$1" ;;
    A | A2) echo "${TOPO_WAN[a]}" ;;
    B) echo "${TOPO_WAN[b]}" ;;
    C) echo "${TOPO_WAN[c]}" ;;
    D) echo "${TOPO_WAN[d]}" ;;
  esac
}

# wait_registered HOST LOC SECS: until HOST's ntmd is registered and the DC
# has seen it from LOC's address
wait_registered() {
  local i want js
  want=$(observed_for "$2" "$1")
  for ((i = 0; i < $3 * 10; i++)); do
    js=$(svc_status "$1")
    if [ "$(jq -r '"\(.registered) \(.observed | split(":")[0])"' <<<"$js" 2>/dev/null)" = "true $want" ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# restart_ntmd HOST: the recovery when a placement move left HOST unusable
restart_ntmd() {
  local pid
  for pid in $(ip netns pids "$TOPO_P-$1"); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^$NTMD "; then
      kill -TERM "$pid"
      wait "$pid" 2>/dev/null
    fi
  done
  echo "--- restart" >>"$W/$1/ntmd.log"
  ip netns exec "$TOPO_P-$1" "$NTMD" -c "$W/$1/node.conf" run >>"$W/$1/ntmd.log" 2>&1 &
  SVC_PIDS+=("$!")
}

# route_for LOC-OF-MN CN LOC-OF-CN: docs/route-decision.md for a placement
route_for() {
  local a=$1 cn=$2 b=$3
  if [ "$cn" = gh ]; then echo relay_general; return; fi
  case $a in G*) echo direct; return ;; esac
  case $b in G*) echo direct; return ;; esac
  if [ "${a:0:1}" = "${b:0:1}" ]; then echo direct_private; else echo relay; fi
}
# cn_loc HOST: where a CN is (a mobile host: where it is now)
cn_loc() {
  if [ "$1" = gh ]; then
    echo G
  elif [ -n "${MOB_IDX[$1]:-}" ]; then
    mob_loc "$1"
  else
    echo "${TOPO_NET[$1]}"
  fi
}

# wait_cn_registered HOST SECS: until HOST's ntmd says it is registered.
wait_cn_registered() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(svc_status "$1" | jq -r .registered 2>/dev/null)" = true ] && return 0
    sleep 0.1
  done
  return 1
}

# prepare CN LOC: m at LOC (a placement move when it is elsewhere), the CN's
# name resolved on m and the path up.  Prints a note on recovery.
PREP_NOTE=""
prepare() {
  local cn=$1 loc=$2 name vip
  name=$(fqdn "$cn")
  PREP_NOTE=""
  # A CN that lost the DC (seen once in CI: a1 behind NAT A had its
  # keepalives go unanswered while m moved in and out of A, and was taken
  # offline) makes every direction to it fail at once with "peer is
  # offline", faster than any restart of m helps.  What the case measures
  # is m's move, so the CN's registration is waited for (ntmd registers
  # again after 40 s of silence and retries every 8 s), and noted.
  if [ "$cn" != gh ] && ! wait_cn_registered "$cn" 1; then
    if wait_cn_registered "$cn" 45; then
      PREP_NOTE+=" CN $cn was not registered: waited for it;"
    else
      PREP_NOTE+=" CN $cn not registered after 45 s;"
      return 1
    fi
  fi
  if [ "$(mob_loc m)" != "$loc" ]; then
    mob_place m "$loc" || return 1
    if ! wait_registered m "$loc" 10; then
      PREP_NOTE+=" placement at $loc: not registered after 10 s, ntmd restarted;"
      restart_ntmd m
      wait_registered m "$loc" 15 || return 1
    fi
  fi
  vip=$(tx m dig +short +time=8 +tries=1 "$name" A 2>/dev/null | tail -1)
  if [ -z "$vip" ] || ! wait_path m "$name" - 8 >/dev/null; then
    PREP_NOTE+=" path to $name not up at $loc (vip '${vip}'), ntmd restarted;"
    restart_ntmd m
    wait_registered m "$loc" 15 || return 1
    vip=$(tx m dig +short +time=8 +tries=1 "$name" A 2>/dev/null | tail -1)
    [ -n "$vip" ] && wait_path m "$name" - 8 >/dev/null || return 1
  fi
  CN_VIP=$vip
}

# gapof FILE T_MOVE T_CONF [HORIZON]: "gap_ms from_configured_ms lost recovered"
gapof() {
  if [ ! -s "$1" ]; then echo "- - - false"; return; fi
  "$TOPO_PY" "$PROBE" gap "$1" "$2" "$3" --horizon "${4:-1}" |
    jq -r '"\(.gap_ms // "-") \(.from_configured_ms // "-") \(.lost) \(.recovered)"'
}


mob_tsv_header() {
  printf 'case\tmove\tcn\troute_before\troute_after\tgap_ms\tfrom_configured_ms\tlost\tgap_back_ms\tfrom_configured_back_ms\tlost_back\ttransfer\tupdates\tredirects\tresult\n' >"$TSV"
}

# run_case ID MOVE-TEXT CN WANT-AFTER ACTION...: the traffic, the ACTION (a
# function run in this shell: it sets T_MOVE and T_CONF), the checks.
#   CASE_BOUND_MS  if set: the probe streams must recover within this (gap)
#   CASE_BACK_ONLY if 1: no m -> CN stream and no download (idle MN)
#   CASE_HORIZON   probe.py gap --horizon (s)
T_MOVE=0 T_CONF=0
run_case() {
  local id=$1 mv=$2 cn=$3 want=$4 name d spids=() rpids=() cpid spid rb ra sa ma
  shift 4
  name=$(fqdn "$cn")
  d=$W/case-$id
  mkdir -p "$d"
  read -r rb _ < <(path_of m "$name")
  local back=1 fwd=1
  [ "$cn" = gh ] && back=0
  [ "${CASE_BACK_ONLY:-0}" = 1 ] && fwd=0
  local secs=$PROBE_S
  [ "${CASE_BACK_ONLY:-0}" = 1 ] && secs=${CASE_PROBE_S:-$PROBE_S}
  if [ "$fwd" = 1 ]; then
    ip netns exec "$TOPO_P-$cn" "$TOPO_PY" "$PROBE" recv 0.0.0.0 9000 $((secs + 60)) "$d/fwd.txt" &
    rpids+=("$!")
  fi
  if [ "$back" = 1 ]; then
    ip netns exec "$TOPO_P-m" "$TOPO_PY" "$PROBE" recv 0.0.0.0 9001 $((secs + 60)) "$d/back.txt" &
    rpids+=("$!")
  fi
  sleep 0.3
  # The senders run until stopped, a fixed time after the action: on a
  # loaded machine the start can take seconds, and a stream of fixed length
  # could end before the move it is there to measure.
  if [ "$fwd" = 1 ]; then
    ip netns exec "$TOPO_P-m" "$TOPO_PY" "$PROBE" send "$CN_VIP" 9000 1 $((secs + 60)) 2>"$d/fwd.send" &
    spids+=("$!")
    ip netns exec "$TOPO_P-m" curl -s -o /dev/null --max-time 20 -w '%{size_download}' \
      "http://$name:9100/$BULK_SIZE?rate=$BULK_RATE" >"$d/curl.out" 2>&1 &
    cpid=$!
  fi
  if [ "$back" = 1 ]; then
    ip netns exec "$TOPO_P-$cn" "$TOPO_PY" "$PROBE" send "${VIP[m]}" 9001 1 $((secs + 60)) 2>"$d/back.send" &
    spids+=("$!")
  fi
  local sends=()
  [ "$fwd" = 1 ] && sends+=("$d/fwd.send")
  [ "$back" = 1 ] && sends+=("$d/back.send")
  probe_wait_started 10 "${sends[@]}"
  sleep 1
  "$@"
  local tmove=$T_MOVE tconf=$T_CONF want_ok=0 t
  echo "t_move_ns $tmove t_configured_ns $tconf" >"$d/times"
  t=$(now)
  local wout
  wout=$(wait_path m "$name" "$want" 12) || want_ok=1
  read -r ra sa <<<"$wout"
  local t_up
  t_up=$(since "$t")
  ma=$(path_of m "$name" | cut -d' ' -f3-)
  [ -n "$ma" ] || ma='{}'
  local crc=0 got="" transfer="-"
  if [ -n "${cpid:-}" ]; then
    wait "$cpid"
    crc=$?
    got=$(cat "$d/curl.out")
    transfer="$got/$BULK_SIZE"
    [ "$crc" -ne 0 ] && transfer+=",curl-exit-$crc"
  fi
  # As long after the action as the streams ran before it was added to them
  # (PROBE_S in all, about 1.3 s of it before the action).
  local rest
  rest=$(awk -v a="$t" -v b="$(now)" -v s="$secs" 'BEGIN{r = a + s - 1.3 - b; printf "%.2f", (r > 0 ? r : 0)}')
  sleep "$rest"
  for spid in "${spids[@]}"; do kill -TERM "$spid" 2>/dev/null; wait "$spid"; done
  sleep 0.5
  for spid in "${rpids[@]}"; do kill -TERM "$spid" 2>/dev/null; wait "$spid"; done
  local gf=(- - - -) gb=(- - - -)
  [ "$fwd" = 1 ] && read -r -a gf < <(gapof "$d/fwd.txt" "$tmove" "$tconf" "${CASE_HORIZON:-1}")
  [ "$back" = 1 ] && read -r -a gb < <(gapof "$d/back.txt" "$tmove" "$tconf" "${CASE_HORIZON:-1}")
  local rc=0 why=()
  if [ "$want_ok" -ne 0 ]; then
    rc=1
    why+=("route ${ra:-none} ${sa:-} after 12 s, expected $want up")
    # The DC's last word on the path and its reason, in the one line a CI
    # report is sure to keep.
    local pid dcw
    pid=$(svc_status m | jq -r --arg p "$name" '[.paths[] | select(.peer == $p)] | last | .path_id // empty' 2>/dev/null)
    if [ -n "$pid" ]; then
      # shellcheck disable=SC2086
      dcw=$(grep -h "direction: path $pid\|federation: .*path $pid" ${CASE_DC_LOGS:-$W/dc.log} 2>/dev/null |
        sort | tail -3 | sed -E 's/^[0-9-]+T([0-9:.]+) ntm-dc [a-z]+: /\1 /' | tr '\n' '|')
      why+=("DC on ${pid:0:8}: ${dcw:-nothing}")
    fi
  fi
  if [ "$fwd" = 1 ] && { [ "$crc" -ne 0 ] || [ "$got" != "$BULK_SIZE" ]; }; then
    rc=1; why+=("download $transfer (curl exit $crc)")
  fi
  if [ "$fwd" = 1 ] && [ "${gf[3]}" != true ]; then rc=1; why+=("probes m->CN did not recover"); fi
  if [ "$back" = 1 ] && [ "${gb[3]}" != true ]; then rc=1; why+=("probes CN->m did not recover"); fi
  if [ -n "${CASE_BOUND_MS:-}" ]; then
    local g
    for g in "${gf[0]}" "${gb[0]}"; do
      if [ "$g" != - ] && awk -v g="$g" -v b="$CASE_BOUND_MS" 'BEGIN{exit !(g > b)}'; then
        rc=1; why+=("gap $g ms over the bound $CASE_BOUND_MS ms")
      fi
    done
  fi
  local upd red
  upd=$(jq -r '"\(.updates_answered // 0)/\(.updates_sent // 0)"' <<<"$ma" 2>/dev/null)
  red=$(jq -r '.redirects // 0' <<<"$ma" 2>/dev/null)
  # Whether the move held the path for want of a route, and who ended it
  # (informational: it depends on how ntmd's reads split the move's events).
  local bh
  bh=$(jq -r '"\(.blackout_holds // 0), ended by the data path \(.blackout_data_path_releases // 0)"' <<<"$ma" 2>/dev/null)
  local res=PASS
  [ "$rc" -ne 0 ] && res=FAIL
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$mv" "$cn" "${rb:-none}" "${ra:-none}" \
    "${gf[0]}" "${gf[1]}" "${gf[2]}" "${gb[0]}" "${gb[1]}" "${gb[2]}" "$transfer" "${upd:--}" "${red:--}" "$res" >>"$TSV"
  local detail="m $mv, CN $cn: route ${rb:-none} -> ${ra:-none} ${sa:-} (expected $want, up after ${t_up} s), download ${transfer}"
  detail+=", m->CN gap ${gf[0]} ms from-configured ${gf[1]} ms lost ${gf[2]}"
  [ "$back" = 1 ] && detail+=", CN->m gap ${gb[0]} ms from-configured ${gb[1]} ms lost ${gb[2]}"
  detail+=", on the path so far: updates answered/sent $upd, re-directions $red, held without a route ${bh:--}"
  [ -n "$PREP_NOTE" ] && detail+=" [$PREP_NOTE]"
  [ "${#why[@]}" -gt 0 ] && detail+=" -- ${why[*]}"
  check "case $id" "$rc" "$detail"
  if [ "$rc" -ne 0 ]; then
    echo "    --- m ntmd status: $(svc_status m | jq -c --arg p "$name" '{registered, observed, moves, paths: [.paths[] | select(.peer == $p)]}' 2>/dev/null)"
    echo "    --- m/ntmd.log"; tail -8 "$W/m/ntmd.log" | sed 's/^/    /'
    [ "$cn" != gh ] && { echo "    --- $cn/ntmd.log"; tail -5 "$W/$cn/ntmd.log" | sed 's/^/    /'; }
    echo "    --- DC log"
    # shellcheck disable=SC2086
    grep -hi 'direction\|redirect\|move\|update' ${CASE_DC_LOGS:-$W/dc.log} | tail -4 | sed 's/^/    /'
  fi
}

act_place() {  # HOST LOC
  mob_place "$1" "$2" || echo "mob_place $1 $2 failed" >&2
  T_MOVE=$MOB_T_START T_CONF=$MOB_T_CONFIGURED
}

# row FROM-CLASS TO-CLASS CN: FROM and TO as the paper's G/A/B/C; the
# concrete places keep moves short (G -> G is G -> G2 or back, A -> A a new
# address in A; A -> B keeps 192.168.1.20 on purpose).
conc_from() {  # CLASS TO-CLASS
  local cur
  cur=$(mob_loc m)
  case $1 in
    G) case $cur in G | G2) echo "$cur" ;; *) echo G ;; esac ;;
    A) if [ "$2" = B ]; then echo A; else case $cur in A | A2) echo "$cur" ;; *) echo A ;; esac; fi ;;
    *) echo "$1" ;;
  esac
}
conc_to() {  # CLASS FROM-CONCRETE
  case $1 in
    G) case $2 in G) echo G2 ;; *) echo G ;; esac ;;
    A) case $2 in A) echo A2 ;; *) echo A ;; esac ;;
    *) echo "$1" ;;
  esac
}

# mob_table1_rows "N FROM-CLASS TO-CLASS CN"...: each row as a case: m is
# placed at FROM (prepare), moves to TO, and the route after the move must be
# the one route_for gives.  Rows are skipped unless want_case N.
mob_table1_rows() {
  local row n fc tc cn from to
  for row in "$@"; do
    read -r n fc tc cn <<<"$row"
    want_case "$n" || continue
    from=$(conc_from "$fc" "$tc")
    to=$(conc_to "$tc" "$from")
    if ! prepare "$cn" "$from"; then
      check "case $n" 1 "m $from->$to, CN $cn: could not set up the path at $from ($PREP_NOTE)"
      printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tFAIL\n' "$n" "$from->$to" "$cn" >>"$TSV"
      continue
    fi
    run_case "$n" "$from->$to" "$cn" "$(route_for "$to" "$cn" "$(cn_loc "$cn")")" act_place m "$to"
  done
}
