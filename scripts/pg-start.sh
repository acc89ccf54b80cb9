#!/usr/bin/env bash
# Starts a PostgreSQL for trying Baton's scale-out on one machine (docs/scale-out.md): a new
# cluster in $PGDATA (default .baton-pg/ in the current folder) listening on 127.0.0.1:$PGPORT
# (default 55432), with a database `baton`, and prints its URL. Uses Debian's PostgreSQL
# (apt-get install postgresql, or scripts/install-test-deps.sh); no systemd needed.
#   scripts/pg-start.sh          start (again: reuses the cluster if it exists)
#   scripts/pg-start.sh stop     stop it
# Runs the server as the `postgres` OS user when started as root (initdb refuses root).
set -euo pipefail
PGBIN=${BATON_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "pg-start: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql" >&2
  exit 2
fi
PGDATA=$(realpath -m "${PGDATA:-.baton-pg}")
PGPORT=${PGPORT:-55432}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "${1:-start}" = stop ]; then
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop
  exit 0
fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDATA"; fi
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1" start >/dev/null
fi
if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'baton'" | grep -q 1; then
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc "CREATE DATABASE baton" >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$PGPORT/baton"
