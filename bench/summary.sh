# SPDX-License-Identifier: MIT
# Shared by the bench scripts (sourced): medians over rounds and formatting.
# Each round file holds "key value" lines.

# summarize OUT ROUND_FILE...: writes "key median min max" lines to OUT and
# sets $summary to OUT for get/fmt.
summarize() {
  summary=$1
  shift
  cat "$@" | sort -k1,1 -k2,2g |
    awk '{ n[$1]++; val[$1, n[$1]] = $2 }
         END {
           for (k in n) {
             c = n[k]
             med = (c % 2) ? val[k, (c + 1) / 2] : (val[k, c / 2] + val[k, c / 2 + 1]) / 2
             print k, med, val[k, 1], val[k, c]
           }
         }' | sort >"$summary"
}

# get KEY [COL]: COL 2 median (default), 3 min, 4 max.
get() { awk -v k="$1" -v col="${2:-2}" '$1 == k { print $col }' "$summary"; }
# fmt KEY SCALE DECIMALS [COL]: a value from the summary, scaled.
fmt() { awk -v x="$(get "$1" "${4:-2}")" -v s="$2" -v d="$3" 'BEGIN { printf "%.*f", d, x * s }'; }
