#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Throwaway PostgreSQL cluster for the pg test tier (one per ctest run).
#
#   pg_cluster.sh start DIR PORT   initdb + start; admin URL printed on stdout
#   pg_cluster.sh stop  DIR        stop the cluster and remove its files
#
# DIR is a handle in the build tree: a symlink to the real cluster directory
# under ${TMPDIR:-/tmp}.  The real files live in /tmp because initdb and the
# server run as the postgres user when we are root, and the build tree may sit
# under a directory postgres cannot enter (/root); a short /tmp path also keeps
# the socket path well under the 107-byte sun_path limit.  Clients reach the
# server through DIR/.s.PGSQL.PORT (the symlink is followed) or on
# 127.0.0.1:PORT.
#
# Speed over durability: fsync=off and friends, trust authentication.  This
# cluster holds nothing worth keeping.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

pg_bin() {
  local bin
  bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "pg_cluster: no PostgreSQL server under /usr/lib/postgresql (run scripts/setup.sh)" >&2
    exit 1
  fi
  printf '%s\n' "$bin"
}

# Runs a server binary as the postgres user when we are root (initdb and
# pg_ctl refuse to run as root), as ourselves otherwise.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Stops the cluster DIR points at, if any, and removes its files.  Safe to call
# on a DIR that was never started or is already gone, so that a run killed
# half-way is cleaned up by the next start.
stop_cluster() {
  local dir=$1 real bin
  if [ -L "$dir" ]; then
    real=$(readlink "$dir")
    if [ -f "$real/data/postmaster.pid" ]; then
      bin=$(pg_bin)
      # immediate: nothing here needs a clean shutdown checkpoint.
      as_pg "$bin/pg_ctl" -D "$real/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    # Only ever remove what this script created.
    case "$real" in
      "${TMPDIR:-/tmp}"/ntm-pgtest.*) rm -rf -- "$real" ;;
      *) echo "pg_cluster: not removing unexpected target $real" >&2 ;;
    esac
    rm -f -- "$dir"
  elif [ -e "$dir" ]; then
    echo "pg_cluster: $dir exists and is not a cluster handle; remove it" >&2
    exit 1
  fi
}

start_cluster() {
  local dir=$1 port=$2 bin real
  case "$port" in
    '' | *[!0-9]*) usage ;;
  esac
  bin=$(pg_bin)
  stop_cluster "$dir"

  # A listener already on the port would make the server fail to bind; say so
  # plainly.  ss only reads the socket table, it sends nothing.
  if ss -Hltn "sport = :$port" | grep -q .; then
    echo "pg_cluster: TCP port $port is in use; reconfigure with -DNTM_TEST_PG_PORT=<free port>" >&2
    exit 1
  fi

  real=$(mktemp -d "${TMPDIR:-/tmp}/ntm-pgtest.XXXXXX")
  mkdir -p -- "$(dirname -- "$dir")"
  ln -s -- "$real" "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$real"
  fi
  chmod 0700 "$real"

  as_pg "$bin/initdb" -D "$real/data" -U postgres -A trust --no-sync \
    -E UTF8 --locale=C.UTF-8 >"$real/initdb.log" 2>&1 || {
    cat "$real/initdb.log" >&2
    exit 1
  }
  # Settings go into the config file rather than pg_ctl -o, which the shell
  # would re-parse.  The real path has no quote characters (mktemp template).
  cat >>"$real/data/postgresql.conf" <<EOF
# pg test tier (tests/pg/pg_cluster.sh)
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$real'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  if ! as_pg "$bin/pg_ctl" -D "$real/data" -l "$real/server.log" -w -t 60 start >/dev/null 2>&1; then
    echo "pg_cluster: server did not start; log follows" >&2
    cat "$real/server.log" >&2 || true
    exit 1
  fi
  printf 'postgresql://postgres@/postgres?host=%s&port=%s\n' "$dir" "$port"
}

[ $# -ge 2 ] || usage
case "$1" in
  start)
    [ $# -eq 3 ] || usage
    start_cluster "$2" "$3"
    ;;
  stop)
    [ $# -ge 2 ] || usage
    stop_cluster "$2"
    ;;
  *) usage ;;
esac
