#!/usr/bin/env bash
# Ensures a local PostgreSQL is installed, running and has the chat role and
# database, then prints the DATABASE_URL to use. Idempotent and quick when
# everything is already there. Honours an existing DATABASE_URL.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi

say() { echo "postgres: $*" >&2; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root (or sudo) to run: $*"; exit 1; fi
}
as_postgres() { as_root su postgres -s /bin/sh -c "$*"; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing the postgresql package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  say "creating cluster $ver/main"
  as_root pg_createcluster "$ver" main >&2
fi
read -r ver name port status _ < <(pg_lsclusters -h | head -n1)
if [ "$status" != online ]; then
  say "starting cluster $ver/$name on port $port"
  as_root pg_ctlcluster "$ver" "$name" start >&2
fi
for _ in $(seq 1 100); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
pg_isready -q -h 127.0.0.1 -p "$port" || { say "cluster $ver/$name is not accepting connections"; exit 1; }

if [ "$(as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'chat'\"")" != 1 ]; then
  say "creating role chat"
  as_postgres "psql -p $port -qc \"CREATE ROLE chat LOGIN PASSWORD 'chat' CREATEDB\"" >&2
fi
# The benchmark starts each scenario after a CHECKPOINT (PostgreSQL 15 and
# later let a role do that through pg_checkpoint).
if [ "$(as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'pg_checkpoint' AND NOT pg_has_role('chat', oid, 'MEMBER')\"")" = 1 ]; then
  say "letting role chat run CHECKPOINT"
  as_postgres "psql -p $port -qc \"GRANT pg_checkpoint TO chat\"" >&2
fi
if [ "$(as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'chat'\"")" != 1 ]; then
  say "creating database chat"
  as_postgres "psql -p $port -qc \"CREATE DATABASE chat OWNER chat\"" >&2
fi
echo "postgres://chat:chat@127.0.0.1:$port/chat?sslmode=disable"
