#!/usr/bin/env bash
# Makes sure a PostgreSQL server for the ledger tests runs on this machine and
# prints its DSN (role treue, database treue_test, on 127.0.0.1). Installs
# PostgreSQL from Debian packages when it is missing. Needs root; .ci/run uses it.
set -euo pipefail

log() { printf 'postgres: %s\n' "$*" >&2; }

# --if-possible: print nothing and succeed where this machine cannot run one (not
# root, not Debian), so that `make test` runs everything else and the PostgreSQL
# suite says it skipped. CI calls it without the flag and fails instead.
#
# --for-pods CIDR: also listen beyond loopback and let the role treue in, with its
# password, from that network (the local cluster's pods; hack/e2e.sh uses it).
if_possible=false
pods_cidr=""
while [ $# -gt 0 ]; do
  case "$1" in
    --if-possible) if_possible=true ;;
    --for-pods) pods_cidr="${2:?--for-pods needs a CIDR}"; shift ;;
    *) log "unknown argument $1"; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" -ne 0 ] || { ! command -v pg_lsclusters >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; }; then
  $if_possible && exit 0
  log "needs root and Debian packages to install or start PostgreSQL; set TREUE_TEST_POSTGRES_DSN to a server of yours instead"
  exit 1
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
fi

cluster="$(pg_lsclusters --no-header | head -n 1)"
if [ -z "$cluster" ]; then
  ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
  log "creating cluster ${ver}/main"
  pg_createcluster "$ver" main >&2
  cluster="$(pg_lsclusters --no-header | head -n 1)"
fi
read -r ver name port status _ <<<"$cluster"
if [ "$status" != online ]; then
  log "starting cluster ${ver}/${name} on port ${port}"
  pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || { log "cluster ${ver}/${name} does not accept connections"; exit 1; }

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }
if [ -n "$pods_cidr" ]; then
  hba="$(psql_admin -tAc 'SHOW hba_file')"
  rule="host all treue ${pods_cidr} scram-sha-256"
  if ! grep -qxF "$rule" "$hba"; then
    log "letting role treue in from ${pods_cidr} (${hba})"
    printf '%s\n' "$rule" >>"$hba"
    psql_admin -c "SELECT pg_reload_conf()" >/dev/null
  fi
  if [ "$(psql_admin -tAc 'SHOW listen_addresses')" != "*" ]; then
    log "listening on every address (was loopback only): restarting ${ver}/${name}"
    psql_admin -c "ALTER SYSTEM SET listen_addresses = '*'" >&2
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart >&2
    for _ in $(seq 1 60); do
      pg_isready -q -h 127.0.0.1 -p "$port" && break
      sleep 0.5
    done
  fi
fi
psql_admin -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'treue') THEN
    CREATE ROLE treue LOGIN PASSWORD 'treue' CREATEDB;
  END IF;
END \$\$;" >&2
if ! psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'treue_test'" | grep -q 1; then
  psql_admin -c "CREATE DATABASE treue_test OWNER treue" >&2
fi
echo "postgres://treue:treue@127.0.0.1:${port}/treue_test?sslmode=disable"
