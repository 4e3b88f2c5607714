#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server on loopback for the tests, starting one if none runs:
#   1. POSTERN_TEST_PG_URL, when set, is used as it is;
#   2. a server on 127.0.0.1:5432 (the project's machines run one, trust auth);
#   3. Debian's cluster, if installed but stopped;
#   4. a private cluster in a temp dir on 127.0.0.1:55432, installing Debian's postgresql if need be.
# Diagnostics go to stderr; stdout is only the URL.
set -euo pipefail

if [ -n "${POSTERN_TEST_PG_URL:-}" ]; then
  echo "$POSTERN_TEST_PG_URL"
  exit 0
fi

ready() { pg_isready -q -h 127.0.0.1 -p "$1" >/dev/null 2>&1; }

if command -v pg_isready >/dev/null 2>&1 && ready 5432; then
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql); do
    echo "starting Debian's PostgreSQL $version cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  done
  for _ in $(seq 1 30); do
    if ready 5432; then
      echo "postgres://postgres@127.0.0.1:5432/postgres"
      exit 0
    fi
    sleep 0.5
  done
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
port=55432
dir=/tmp/postern-test-pg
if ! ready "$port"; then
  rm -rf "$dir"
  mkdir -p "$dir"
  # initdb refuses to run as root: the cluster belongs to the postgres user (or ourselves).
  owner=$(id -un)
  if [ "$(id -u)" = 0 ]; then owner=postgres; chown postgres "$dir"; fi
  run() { if [ "$owner" = "$(id -un)" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }
  run "$bin/initdb" -D "$dir/data" -U postgres -A trust >&2
  run "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >&2
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
