#!/bin/bash
# SPDX-License-Identifier: MIT
# deploy/pdns/zz-ntmobile.conf as Debian 12 lays pdns's configuration out
# (pdns.conf with launch= and include-dir, pdns.d/bind.conf adding bind):
# pdns accepts the file, and the effective settings are the ones
# docs/dns.md relies on: remote as the only backend, every cache off.
# usage: pdns_snippet_test.sh SNIPPET
set -euo pipefail
SNIPPET=$1
command -v pdns_server >/dev/null || { echo "SKIP: pdns_server not installed"; exit 77; }
DIR=$(mktemp -d /tmp/ntm-pdns-conf.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir "$DIR/pdns.d"
printf 'launch=\ninclude-dir=%s/pdns.d\nsecurity-poll-suffix=\n' "$DIR" >"$DIR/pdns.conf"
printf 'launch+=bind\n' >"$DIR/pdns.d/bind.conf"
cp "$SNIPPET" "$DIR/pdns.d/"
current=$(pdns_server --config-dir="$DIR" --config=current 2>&1) || {
  echo "FAIL: pdns rejects the snippet:"; echo "$current"; exit 1; }
# (--config=current prints the settings that differ from pdns's defaults.)
for want in launch=remote cache-ttl=0 query-cache-ttl=0 negquery-cache-ttl=0 \
            distributor-threads=8; do
  grep -qx "$want" <<<"$current" || { echo "FAIL: effective setting $want missing"; \
    grep -E "^(${want%%=*})=" <<<"$current" || true; exit 1; }
  echo "ok  $want"
done
echo PASS
