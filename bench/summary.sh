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

# snapshot_source ROOT BUILD: sets src (what to configure), build (where)
# and code_desc.  With SNAPSHOT=1 the source is the committed HEAD plus the
# working tree's bench/ (so a run measures committed code while the bench
# scripts themselves may be edited), built in BUILD/snapshot.  Also sets
# gen: -G Ninja on the first configure only (CMake refuses a generator
# change later).
snapshot_source() {
  src=$1
  build=$2
  code_desc=""
  if [[ ${SNAPSHOT:-0} == 1 ]]; then
    src=$2/snapshot-src
    build=$2/snapshot
    # Only files whose content changed are rewritten (and so get a new
    # mtime): git archive stamps every file with the commit's time, which
    # can be older than objects of an earlier snapshot build, and ninja
    # would then keep stale objects of changed headers.
    local tmp f
    tmp=$(mktemp -d)
    git -C "$1" archive HEAD | tar -x -C "$tmp"
    cp -r "$1"/bench/. "$tmp/bench/"
    mkdir -p "$src"
    while IFS= read -r f; do
      cmp -s "$tmp/$f" "$src/$f" || { mkdir -p "$(dirname "$src/$f")"; cp "$tmp/$f" "$src/$f"; }
    done < <(cd "$tmp" && find . -type f)
    while IFS= read -r f; do
      [[ -e $tmp/$f ]] || rm -f "$src/$f"
    done < <(cd "$src" && find . -type f)
    rm -rf "$tmp"
    code_desc="$(git -C "$1" rev-parse --short HEAD) (git archive of HEAD) + bench/ from the working tree"
  fi
  mkdir -p "$build"
  gen=()
  if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
}
