#!/usr/bin/env bash
# Starts a PostgreSQL server for payrun's tests and prints the line that
# points them at it:
#
#   eval "$(.ci/postgres.sh)"    # then: go test ./journal/...
#
# Installs Debian's postgresql when it is missing (apt-get, as root), runs
# initdb and pg_ctl as the postgres user (PostgreSQL refuses to run as
# root) in a directory of its own, listening on the loopback only, with
# trust authentication: a throwaway server for tests, never for money.
# Idempotent: a server already answering on the port is reused.
#
# PAYRUN_PG_PORT (default 55432) and PAYRUN_PG_DIR (default
# /tmp/payrun-pg-$PAYRUN_PG_PORT) choose where. Everything but the export
# line goes to stderr.
set -euo pipefail

port="${PAYRUN_PG_PORT:-55432}"
dir="${PAYRUN_PG_DIR:-/tmp/payrun-pg-$port}"
dsn="postgres://postgres@127.0.0.1:$port/postgres"
log() { echo "postgres.sh: $*" >&2; }

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

bin="$(bindir || true)"
if [ -z "$bin" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL is not installed; run this script as root on Debian (it installs the postgresql package)"
    exit 1
  fi
  log "installing postgresql (Debian)"
  apt-get update -qq >&2
  # The package's own cluster is not started by its scripts in a
  # container without an init system, and is not used: ours is below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  bin="$(bindir)"
fi

ready() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; }

if ready; then
  log "a server already answers on 127.0.0.1:$port"
  echo "export PAYRUN_TEST_POSTGRES=$dsn"
  exit 0
fi

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

mkdir -p "$dir"
chown postgres:postgres "$dir" 2>/dev/null || true
chmod 700 "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  log "initdb in $dir/data"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >&2 ||
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >&2
fi
# A server killed without a clean stop leaves its pid file; pg_ctl
# starts over it once the process is gone.
log "starting on 127.0.0.1:$port"
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" >&2 || {
  tail -20 "$dir/server.log" >&2 || true
  exit 1
}
for _ in $(seq 1 60); do
  ready && break
  sleep 1
done
ready || { log "the server did not become ready"; tail -20 "$dir/server.log" >&2; exit 1; }
echo "export PAYRUN_TEST_POSTGRES=$dsn"
