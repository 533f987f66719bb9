#!/usr/bin/env bash
# Make sure a RabbitMQ (with the management plugin) and, with --postgres, a PostgreSQL are reachable
# on localhost. Order of preference: already running → docker compose (when a Docker engine runs) →
# the local Debian packages (installed first when missing and we are root on Debian/Ubuntu) → say
# exactly how to get one and fail.
set -euo pipefail

want_postgres=0
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=1 ;;
    *) echo "usage: $0 [--postgres]" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf '==> %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port seconds what
  for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done
  say "$3 did not open port $1 within $2s"; return 1
}

docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /var/lib/apt/periodic/gateway-updated ] ; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/gateway-updated
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_rabbitmq() {
  if port_open 5672 && port_open 15672; then return 0; fi
  if ! port_open 5672 && docker_engine && [ -f "$here/docker-compose.yml" ]; then
    say "starting RabbitMQ with docker compose"
    docker compose -f "$here/docker-compose.yml" up -d rabbitmq
    wait_port 5672 90 RabbitMQ && wait_port 15672 60 "RabbitMQ management"
    return
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if can_apt; then apt_install rabbitmq-server; else
      cat >&2 <<'MSG'
No RabbitMQ is reachable on localhost:5672 and none can be started here. Either
  - install Docker and run `docker compose up -d rabbitmq`, or
  - install RabbitMQ (Debian/Ubuntu: `sudo apt-get install rabbitmq-server`), or
  - point GATEWAY_AMQP_URL (and GATEWAY_TEST_AMQP_URL for tests) at a broker you have.
MSG
      exit 1
    fi
  fi
  # The management plugin gives tests their own virtual hosts and lets them cut connections.
  rabbitmq-plugins --offline enable rabbitmq_management >/dev/null 2>&1 || true
  if ! port_open 5672; then
    say "starting rabbitmq-server"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_port 5672 120 RabbitMQ
  fi
  if ! port_open 15672; then
    rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
    wait_port 15672 60 "RabbitMQ management"
  fi
}

pg_ok() { PGCONNECT_TIMEOUT=3 psql "postgresql://postgres:postgres@127.0.0.1:5432/postgres" -qAtc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if port_open 5432 && pg_ok; then return 0; fi
  if ! port_open 5432; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
      if can_apt; then apt_install postgresql postgresql-client; else
        say "No PostgreSQL on localhost:5432: install one (apt-get install postgresql) or set GATEWAY_TEST_DATABASE_URL"
        exit 1
      fi
    fi
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432 60 PostgreSQL
  fi
  if ! pg_ok; then
    # A fresh Debian cluster asks for a password over TCP: give the postgres role the one tests use.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    pg_ok || { say "cannot log in to PostgreSQL as postgres/postgres on 127.0.0.1:5432"; exit 1; }
  fi
}

ensure_rabbitmq
[ "$want_postgres" = 1 ] && ensure_postgres
say "services ready"
