#!/usr/bin/env bash
# The local stack: MariaDB (as MySQL), Redis, moto (DynamoDB/EventBridge emulator) and the
# Toss sandbox as plain processes with their data in a state folder. No Docker, no
# system services.
#
#   stack.sh up   <state-dir> [dev|free]   install what is missing, start, write <state-dir>/stack.env
#   stack.sh down <state-dir>              stop everything started there
#
# "dev" uses fixed non-default ports (overridable: MYSQL_PORT, REDIS_PORT, MOTO_PORT);
# "free" picks free ports, so a test run never collides with a dev stack.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/.local/venv"
MOTO_VERSION=5.2.5
DB_USER=app
DB_PASSWORD=app

log() { printf '[stack] %s\n' "$*" >&2; }

need_packages() {
  local missing=()
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} from the system packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing system packages: ${missing[*]}"
    log "install them first, e.g.: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
}

need_moto() {
  if [ -x "$VENV/bin/moto_server" ]; then return 0; fi
  log "installing moto $MOTO_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "$what did not come up"; return 1
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

up() {
  local dir=$1 mode=${2:-dev}
  need_packages
  need_moto
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local mysql_port redis_port moto_port toss_port
  if [ "$mode" = free ]; then
    mysql_port=$(free_port); redis_port=$(free_port); moto_port=$(free_port); toss_port=$(free_port)
  else
    mysql_port=${MYSQL_PORT:-13306}; redis_port=${REDIS_PORT:-16379}; moto_port=${MOTO_PORT:-15000}
    toss_port=${TOSS_SANDBOX_PORT:-17000}
  fi

  # MariaDB: a throwaway datadir; small durability settings trade crash safety (which a
  # dev/test database does not need) for speed.
  if [ ! -d "$dir/mysql/data/mysql" ]; then
    mkdir -p "$dir/mysql/data"
    mariadb-install-db --no-defaults --datadir="$dir/mysql/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/mysql/install.log" 2>&1
  fi
  "$(mariadbd_bin)" --no-defaults --datadir="$dir/mysql/data" --user="$(id -un)" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/mysql/mysqld.pid" \
    --port="$mysql_port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$dir/mysql/error.log" --innodb-buffer-pool-size=1G \
    --innodb-flush-log-at-trx-commit=2 --max-connections=500 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >"$dir/mysql/stdout.log" 2>&1 &
  wait_for "MariaDB" mariadb-admin --no-defaults --socket="$dir/mysql/mysqld.sock" -uroot ping
  mariadb --no-defaults --socket="$dir/mysql/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS profiles CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL

  mkdir -p "$dir/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir/redis" --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
  wait_for "Redis" redis-cli -p "$redis_port" ping

  mkdir -p "$dir/moto"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$dir/moto/moto.log" 2>&1 &
  echo $! >"$dir/moto/moto.pid"
  wait_for "moto" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/')"

  # The Toss sandbox (infra/toss-sandbox), built by cargo like the rest of the project.
  mkdir -p "$dir/toss"
  (cd "$ROOT" && cargo build --quiet -p toss-sandbox)
  TOSS_SANDBOX_PORT=$toss_port "$ROOT/target/debug/toss-sandbox" >"$dir/toss/toss.log" 2>&1 &
  echo $! >"$dir/toss/toss.pid"
  wait_for "Toss sandbox" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$toss_port/sandbox/clock')"

  cat >"$dir/stack.env" <<ENV
export STACK_DIR='$dir'
export MYSQL_PORT=$mysql_port
export REDIS_PORT=$redis_port
export MOTO_PORT=$moto_port
export MYSQL_ADMIN_URL='mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$mysql_port'
export DATABASE_URL='mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$mysql_port/profiles'
export REDIS_URL='redis://127.0.0.1:$redis_port'
export AWS_ENDPOINT_URL='http://127.0.0.1:$moto_port'
export AWS_REGION=ap-northeast-2
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export TABLE_NAME=service-table
export EVENT_BUS_NAME=payments
export TOSS_API_BASE='http://127.0.0.1:$toss_port'
# Toss' public docs test keys (no real money); the sandbox accepts them.
export TOSS_SECRET_KEY=test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R
export TOSS_CLIENT_KEY=test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq
# Signs access tokens; a fresh random key per local stack.
export TOKEN_SIGNING_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
ENV
  log "MariaDB :$mysql_port  Redis :$redis_port  moto :$moto_port  Toss sandbox :$toss_port  (state in $dir)"
}

down() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/redis/redis.pid" ]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
  fi
  for pidfile in "$dir/moto/moto.pid" "$dir/toss/toss.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  if [ -f "$dir/mysql/mysqld.pid" ]; then
    local pid; pid=$(cat "$dir/mysql/mysqld.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  log "stopped the stack in $dir"
}

case "${1:-}" in
  up) up "${2:?state dir}" "${3:-dev}" ;;
  down) down "${2:?state dir}" ;;
  *) echo "usage: $0 up <state-dir> [dev|free] | down <state-dir>" >&2; exit 2 ;;
esac
