#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prints the normalised schema of the database at a libpq URL:
#   pg_dump --schema-only --no-owner --no-privileges
# without what varies between runs or pg_dump builds (comment lines, version
# banners, SET lines, the random \restrict key) and with blank-line runs
# squeezed, so that two dumps of equal schemas compare equal.
# Used by schema/update-snapshot.sh and by the pg snapshot test.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 LIBPQ_URL" >&2
  exit 2
fi

# The pg_dump matching the server (the newest installed), not whichever
# version Debian's pg_wrapper picks.
bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
dump=${bin:+$bin/}pg_dump

"$dump" --schema-only --no-owner --no-privileges --dbname="$1" |
  awk '
    /^--/ { next }
    /^SET [a-z_]+ = / { next }
    /^SELECT pg_catalog\.set_config\(/ { next }
    /^\\(un)?restrict / { next }
    /^[[:space:]]*$/ { blank = 1; next }
    { if (blank && printed) print ""; blank = 0; printed = 1; print }
  '
