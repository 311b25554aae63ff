# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# VIP, W, TOPO_* and the helpers named below come from the caller:
# shellcheck disable=SC2153
# One Table 1 placement, end to end (sourced by testbed_test.sh and
# federation_test.sh; docs/testbed.md §2, §6).  The caller defines
#   fqdn HOST          the name the MN asks for
#   check LABEL RC TEXT, now, since T   its bookkeeping
#   VIP[HOST]          the MN's VIP (what an NTMobile CN sees as its client)
# and may define
#   case_relay MN      the hosts of the relays that may serve MN's paths
#                      (one of their addresses is what a general host sees;
#                      their status tells whether a relayed path carries
#                      data); default rs
#   CASE_DC_LOGS       DC logs whose direction lines are shown on a failure
#                      (default $W/dc.log)
if ! declare -F case_relay >/dev/null; then case_relay() { echo rs; }; fi

# A case: MN reaches CN by name with unmodified programs, and ntmd reports
# the route docs/route-decision.md prescribes for the placement.
#   tcase MN CN ROUTE TABLE1-ROWS
tcase() {
  local mn=$1 cn=$2 want=$3 rows=$4 name t label client body rc=0 notes=() js path route state rsjs fwd rs rss
  local clients=()
  name=$(fqdn "$cn")
  label="MN $mn@${TOPO_NET[$mn]} -> $cn@${TOPO_NET[$cn]}"
  read -r -a rss < <(case_relay "$mn")
  if [ "$cn" = gh ]; then
    for rs in "${rss[@]}"; do clients+=("${TOPO_IP[$rs]}"); done
  else
    clients=("${VIP[$mn]}")
  fi
  t=$(now)
  body=$(tx "$mn" curl -s --max-time 10 "http://$name:8080/" 2>&1)
  client=${body##*you are }
  [[ " ${clients[*]} " == *" $client "* ]] || client=${clients[*]}
  if [ "$body" = "hello from $name, you are $client" ]; then
    notes+=("curl ok (CN sees $client)")
  else
    notes+=("curl FAILED ('$body', expected the CN to see $client)"); rc=1
  fi
  if tx "$mn" ping -n -c 2 -i 0.2 -W 2 "$name" >"$W/ping.out" 2>&1; then
    notes+=("ping ok ($(grep -o 'time=[0-9.]* ms' "$W/ping.out" | tail -1 | cut -d= -f2))")
  else
    notes+=("ping FAILED ($(tail -2 "$W/ping.out" | head -1))"); rc=1
  fi
  body=$(echo "udp-$mn" | tx "$mn" socat -T 3 - "UDP4:$name:7007" 2>&1)
  if [ "$body" = "$name sees $client: udp-$mn" ]; then
    notes+=("udp ok")
  else
    notes+=("udp FAILED ('$body')"); rc=1
  fi
  js=$(svc_status "$mn")
  read -r path route state < <(jq -r --arg p "$name" \
    '[.paths[] | select(.peer == $p)] | last | "\(.path_id) \(.route) \(.state)"' <<<"$js" 2>/dev/null)
  [ "$route" = "$want" ] && [ "$state" = up ] || rc=1
  if [ "$want" = relay ] || [ "$want" = relay_general ]; then
    for rs in "${rss[@]}"; do
      rsjs=$(svc_rs_status "$rs")
      # mode, capsules carried, and for a forward path whether the kernel
      # carries it and how many of them it did (docs/relay.md, "Kernel
      # forwarding": ntm-rs listens on a concrete address here, so it must)
      fwd=$(jq -r --arg id "$path" '[.paths[] | select(.path_id == $id)] | first | "\(.mode) \(.forwarded) \(.in_kernel) \(.kernel_forwarded)"' \
        <<<"$rsjs" 2>/dev/null)
      [ "$fwd" != "null null null null" ] && [ -n "$fwd" ] && break
    done
    notes+=("$rs: ${fwd:-no path}")
    case $fwd in
      forward\ [1-9]*\ true\ [1-9]* | translate\ [1-9]*) ;;
      *) rc=1 ;;
    esac
  fi
  local line
  line="$label ($name): route ${route:-none} ${state:-} (expected $want; Table 1 $rows), ${notes[*]}, $(since "$t") s"
  check "$label" "$rc" "$line"
  if [ "$rc" -ne 0 ]; then
    echo "    --- $mn ntmd status: $(jq -c . <<<"$js" 2>/dev/null || echo "$js")"
    echo "    --- $mn/ntmd.log"; tail -8 "$W/$mn/ntmd.log" | sed 's/^/    /'
    [ "$cn" != gh ] && { echo "    --- $cn/ntmd.log"; tail -8 "$W/$cn/ntmd.log" | sed 's/^/    /'; }
    echo "    --- DC log directions"
    # shellcheck disable=SC2086
    grep -h 'direction' ${CASE_DC_LOGS:-$W/dc.log} | tail -3 | sed 's/^/    /'
  fi
}
