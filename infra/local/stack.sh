#!/usr/bin/env bash
# The local stack: MariaDB (as MySQL), Redis, moto (DynamoDB/EventBridge/Secrets Manager
# emulator, serialized per request by infra/local/moto_serial.py) and the
# Toss sandbox as plain processes with their data in a state folder. No Docker, no
# system services.
#
#   stack.sh up   <state-dir> [dev|free]   install what is missing, start, write <state-dir>/stack.env
#   stack.sh down <state-dir>              stop everything started there
#   stack.sh stop-mysql <state-dir> [term|kill]
#                                          stop that stack's MariaDB only (term: a clean
#                                          shutdown; kill: SIGKILL, a crash), wait until gone
#   stack.sh start-mysql <state-dir>       start it again: same port, data dir and TLS
#                                          setting, back when it answers
# (stack.env names this script as STACK_SCRIPT, so a test can restart MariaDB mid-run.)
#
# "dev" uses fixed non-default ports (overridable: MYSQL_PORT, REDIS_PORT, MOTO_PORT);
# "free" picks free ports, so a test run never collides with a dev stack.
#
# The shape, read from the environment by `up` (the defaults are the plain stack):
#   REDIS_TOPOLOGY=single|cluster  cluster: a Redis Cluster of 6 nodes (3 masters, 3
#                                  replicas), as ElastiCache cluster mode / Serverless speak
#                                  the cluster protocol. In dev mode its ports are REDIS_PORT
#                                  (default 16379) and the next 5.
#   REDIS_TLS=0|1                  Redis (every node, its cluster bus and replication) on TLS
#                                  only, as ElastiCache in-transit encryption
#   MYSQL_TLS=0|1                  MariaDB with a certificate and require_secure_transport, as
#                                  an RDS Proxy that requires TLS
#   STACK_SHAPE=plain|production   production = cluster + both TLS switches; an explicit
#                                  switch still wins
# The certificates (a CA and one server certificate it signed, for 127.0.0.1 and localhost)
# are made in <state-dir>/tls when a TLS switch is on; stack.env says where.
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

free_ports() { # count: that many distinct free ports (all held open until each is picked,
  # so no two are the same)
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

wait_for() { # description, command...: retries the command for 15 s
  local what=$1 deadline=$((SECONDS + 15)); shift
  # By the clock, not by a count of tries: one try can itself take seconds (a timeout).
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "$what did not come up"; return 1
}

wait_for_moto() { # pid, port: until that process answers /moto-api/ on the port (its
  # X-Moto-Serial-Pid header says it is this one, not another server on the port); fails at
  # once if it exited (e.g. the port was taken), else after 30 s (importing moto takes a
  # few seconds on a loaded machine)
  local pid=$1 port=$2 deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || { log "moto exited while starting"; return 1; }
    if python3 -c 'import sys, urllib.request
r = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2)
sys.exit(r.headers.get("X-Moto-Serial-Pid") != sys.argv[2])' "$port" "$pid" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "moto did not come up"; return 1
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

alive() { # pid: the process exists and is not a zombie (one whose parent has not reaped
  # it yet still answers kill -0)
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$state" != Z ]
}

start_mysqld() { # state dir, port, tls (0|1): MariaDB on that data dir and port, waits
  # until it answers; fails at once if it exits (e.g. the port was taken)
  local dir=$1 port=$2 tls=$3 tls_args=() pid deadline=$((SECONDS + 30))
  if [ -f "$dir/mysql/mysqld.pid" ] && alive "$(cat "$dir/mysql/mysqld.pid")"; then
    log "MariaDB is already running in $dir (pid $(cat "$dir/mysql/mysqld.pid"))"; return 1
  fi
  if [ "$tls" = 1 ]; then
    # TCP clients must use TLS; the unix socket counts as secure, so the setup in `up`
    # still works over it.
    tls_args=(--ssl-cert="$dir/tls/server.pem" --ssl-key="$dir/tls/server.key"
      --ssl-ca="$dir/tls/ca.pem" --require-secure-transport=ON)
  fi
  "$(mariadbd_bin)" --no-defaults --datadir="$dir/mysql/data" --user="$(id -un)" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/mysql/mysqld.pid" \
    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$dir/mysql/error.log" --innodb-buffer-pool-size=1G \
    --innodb-flush-log-at-trx-commit=2 --max-connections=500 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "${tls_args[@]}" \
    </dev/null >>"$dir/mysql/stdout.log" 2>&1 &
  pid=$!
  # 30 s, not 15: after a crash (stop-mysql kill) InnoDB first recovers from its log.
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || { log "MariaDB exited while starting"; log_tail "$dir/mysql/error.log"; return 1; }
    # (this process's pidfile: the answer is from this server, not one left running)
    if [ "$(cat "$dir/mysql/mysqld.pid" 2>/dev/null)" = "$pid" ] \
      && mariadb-admin --no-defaults --socket="$dir/mysql/mysqld.sock" -uroot ping >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  log "MariaDB did not come up"; log_tail "$dir/mysql/error.log"; return 1
}

stop_mysqld() { # state dir, signal (TERM|KILL): stops the MariaDB running there and waits
  # until it is gone (its port free again)
  local dir=$1 signal=$2 pid
  [ -f "$dir/mysql/mysqld.pid" ] || { log "no MariaDB pidfile in $dir/mysql"; return 1; }
  pid=$(cat "$dir/mysql/mysqld.pid")
  alive "$pid" || { log "MariaDB (pid $pid) is not running"; return 1; }
  kill "-$signal" "$pid"
  for _ in $(seq 1 300); do alive "$pid" || return 0; sleep 0.1; done
  log "MariaDB (pid $pid) did not stop within 30 s"; return 1
}

stack_var() { # state dir, name: the value stack.env gives that variable
  # (in a subshell, so sourcing it changes nothing here)
  (
    # shellcheck disable=SC1091
    source "$1/stack.env" && printenv "$2"
  )
}

running_pids() { # state dir: the live processes among those its pidfiles name
  local pidfile pid
  for pidfile in "$1/mysql/mysqld.pid" "$1/redis/redis.pid" "$1"/redis/node-*/redis.pid \
    "$1/moto/moto.pid" "$1/toss/toss.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then printf '%s ' "$pid"; fi
  done
}

log_tail() { # file: its last lines, to show why a server did not come up
  [ -f "$1" ] || return 0
  log "last lines of $1:"; tail -n 20 "$1" | sed 's/^/    /' >&2
}

switch() { # name, value, allowed values...: the value, or exit if it is not one of them
  local name=$1 value=$2; shift 2
  local ok; for ok in "$@"; do [ "$value" = "$ok" ] && { echo "$value"; return 0; }; done
  log "$name=$value: expected one of: $*"; return 1
}

make_certs() { # tls-dir: a CA and one server certificate signed by it
  local tls=$1
  # Kept across `up`s of the same state folder (dev), unless it no longer verifies or is
  # about to expire: clients may have been pointed at this ca.pem.
  if [ -f "$tls/server.pem" ] && [ -f "$tls/server.key" ] \
    && openssl verify -CAfile "$tls/ca.pem" -purpose sslserver "$tls/server.pem" >/dev/null 2>&1 \
    && openssl x509 -checkend 86400 -noout -in "$tls/server.pem" >/dev/null 2>&1 \
    && openssl x509 -checkip 127.0.0.1 -noout -in "$tls/server.pem" 2>/dev/null | grep -q 'does match'; then
    return 0
  fi
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=expert-matching local stack CA' \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    >"$tls/openssl.log" 2>&1
  openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' \
    -keyout "$tls/server.key" -out "$tls/server.csr" >>"$tls/openssl.log" 2>&1
  # A leaf, not the CA itself (rustls/webpki reject a CA certificate as an end entity),
  # with SANs (webpki ignores the CN): IP:127.0.0.1 because sqlx's VERIFY_IDENTITY and
  # rustls match the host of the URL. clientAuth because Redis nodes present this same
  # certificate when they connect to each other (cluster bus, replication).
  cat >"$tls/server.ext" <<'EXT'
subjectAltName = IP:127.0.0.1, DNS:localhost
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "$tls/server.ext" \
    -out "$tls/server.pem" >>"$tls/openssl.log" 2>&1
  rm -f "$tls/server.csr"
}

cluster_problems() { # ports...: prints what keeps the cluster from being ready; nothing when it is
  # (`timeout`: redis-cli has no read timeout, and a node that accepts but does not answer
  # would hang the wait below)
  local p info repl replicas=0
  for p in "$@"; do
    if ! info=$(timeout 2 redis-cli "${REDIS_CLI_TLS[@]}" -p "$p" cluster info 2>&1 | tr -d '\r'); then
      echo "node :$p does not answer: $info"; continue
    fi
    grep -qx 'cluster_state:ok' <<<"$info" || echo "node :$p: $(grep '^cluster_state:' <<<"$info" || echo "$info")"
    grep -qx 'cluster_known_nodes:6' <<<"$info" || echo "node :$p: $(grep '^cluster_known_nodes:' <<<"$info")"
    repl=$(timeout 2 redis-cli "${REDIS_CLI_TLS[@]}" -p "$p" info replication 2>&1 | tr -d '\r') || true
    if grep -qx 'role:slave' <<<"$repl"; then
      replicas=$((replicas + 1))
      grep -qx 'master_link_status:up' <<<"$repl" || echo "replica :$p: $(grep '^master_link_status:' <<<"$repl")"
    fi
  done
  [ "$replicas" -eq 3 ] || echo "$replicas replicas, 3 expected"
}

wait_for_cluster() { # ports...: every node sees cluster_state:ok and all 6 nodes, every replica has synced
  local problems deadline=$((SECONDS + 60))
  while :; do
    problems=$(cluster_problems "$@")
    [ -z "$problems" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
  done
  log "the Redis cluster was not ready after 60 s:"
  sed 's/^/    /' <<<"$problems" >&2
  return 1
}

start_redis() { # node dir, port, bus port (empty: not a cluster node)
  local node=$1 port=$2 bus=$3 args
  mkdir -p "$node"
  # As the template's RedisParameterGroup: never evict, and hashes of up to 512 fields
  # stay compact (domain::views::HASH_MAX_LISTPACK_ENTRIES).
  args=(--bind 127.0.0.1 --save '' --appendonly no --dir "$node" --daemonize yes
    --pidfile "$node/redis.pid" --logfile "$node/redis.log"
    --maxmemory-policy noeviction --hash-max-listpack-entries 512)
  if [ "$REDIS_TLS_ON" = 1 ]; then
    # TLS only (--port 0), as ElastiCache with in-transit encryption; no client
    # certificates, as there.
    args+=(--port 0 --tls-port "$port" --tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key"
      --tls-ca-cert-file "$TLS/ca.pem" --tls-auth-clients no)
  else
    args+=(--port "$port")
  fi
  if [ -n "$bus" ]; then
    # The bus port is given explicitly: the default (port + 10000) can be taken, or above
    # 65535 for a free port. Each master has one replica, so the default 5 s wait for more
    # replicas before a (diskless) full sync would only delay readiness.
    args+=(--cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 2000
      --cluster-port "$bus" --repl-diskless-sync-delay 0)
    [ "$REDIS_TLS_ON" = 1 ] && args+=(--tls-cluster yes --tls-replication yes)
  fi
  redis-server "${args[@]}"
}

up() {
  local dir=$1 mode=${2:-dev}
  local shape topology redis_tls mysql_tls
  shape=$(switch STACK_SHAPE "${STACK_SHAPE:-plain}" plain production)
  if [ "$shape" = production ]; then topology=cluster redis_tls=1 mysql_tls=1
  else topology=single redis_tls=0 mysql_tls=0; fi
  topology=$(switch REDIS_TOPOLOGY "${REDIS_TOPOLOGY:-$topology}" single cluster)
  redis_tls=$(switch REDIS_TLS "${REDIS_TLS:-$redis_tls}" 0 1)
  mysql_tls=$(switch MYSQL_TLS "${MYSQL_TLS:-$mysql_tls}" 0 1)
  need_packages
  need_moto
  if [ "$redis_tls$mysql_tls" != 00 ] && ! command -v openssl >/dev/null 2>&1; then
    log "TLS needs the openssl command: sudo apt-get install -y openssl"; exit 1
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # A second `up` of the same folder would find the ports taken, talk to the first stack's
  # servers and (cluster) delete its nodes' state.
  local running; running=$(running_pids "$dir")
  if [ -n "$running" ]; then
    log "a stack is already running in $dir (pids ${running% }); stop it first: bash $0 down $dir"; exit 1
  fi
  # From here on a failed `up` stops what it started, so nothing is left holding the ports.
  trap "status=\$?; if [ \$status -ne 0 ]; then log 'up failed: stopping what it started'; down '$dir'; fi" EXIT
  TLS="$dir/tls" REDIS_TLS_ON=$redis_tls REDIS_CLI_TLS=()
  [ "$redis_tls" = 1 ] && REDIS_CLI_TLS=(--tls --cacert "$TLS/ca.pem")
  [ "$redis_tls$mysql_tls" != 00 ] && make_certs "$TLS"

  local mysql_port redis_port moto_port toss_port cluster_ports=() bus_ports=() i
  local n=$([ "$topology" = cluster ] && echo 15 || echo 4) ports
  if [ "$mode" = free ]; then
    read -r -a ports <<<"$(free_ports "$n")"
    mysql_port=${ports[0]} moto_port=${ports[1]} toss_port=${ports[2]} redis_port=${ports[3]}
    if [ "$topology" = cluster ]; then cluster_ports=("${ports[@]:3:6}") bus_ports=("${ports[@]:9:6}"); fi
  else
    mysql_port=${MYSQL_PORT:-13306}; redis_port=${REDIS_PORT:-16379}; moto_port=${MOTO_PORT:-15000}
    toss_port=${TOSS_SANDBOX_PORT:-17000}
    if [ "$topology" = cluster ]; then
      for i in 0 1 2 3 4 5; do cluster_ports+=($((redis_port + i))) bus_ports+=($((redis_port + 10000 + i))); done
      if [ "${bus_ports[5]}" -gt 65535 ]; then log "REDIS_PORT=$redis_port: the cluster bus needs port + 10005 <= 65535"; exit 1; fi
    fi
  fi

  # MariaDB: a throwaway datadir; small durability settings trade crash safety (which a
  # dev/test database does not need) for speed.
  if [ ! -d "$dir/mysql/data/mysql" ]; then
    mkdir -p "$dir/mysql/data"
    mariadb-install-db --no-defaults --datadir="$dir/mysql/data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/mysql/install.log" 2>&1
  fi
  local mysql_query=''
  [ "$mysql_tls" = 1 ] && mysql_query="?ssl-mode=VERIFY_IDENTITY&ssl-ca=$TLS/ca.pem"
  start_mysqld "$dir" "$mysql_port" "$mysql_tls" || exit 1
  mariadb --no-defaults --socket="$dir/mysql/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS profiles CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL

  mkdir -p "$dir/redis"
  local scheme=redis redis_url p
  [ "$redis_tls" = 1 ] && scheme=rediss
  # Cluster: the first node's address; the client discovers the others from it.
  redis_url="$scheme://127.0.0.1:$redis_port"
  if [ "$topology" = single ]; then
    start_redis "$dir/redis" "$redis_port" ''
    wait_for "Redis" timeout 2 redis-cli "${REDIS_CLI_TLS[@]}" -p "$redis_port" ping || { log_tail "$dir/redis/redis.log"; exit 1; }
  else
    # Redis keeps no data here (--save ''), and a nodes.conf left by an earlier `up` would
    # make the nodes refuse `--cluster create` (they would already be in a cluster).
    rm -rf "$dir"/redis/node-*
    for i in 0 1 2 3 4 5; do start_redis "$dir/redis/node-${cluster_ports[i]}" "${cluster_ports[i]}" "${bus_ports[i]}"; done
    for p in "${cluster_ports[@]}"; do
      wait_for "Redis node :$p" timeout 2 redis-cli "${REDIS_CLI_TLS[@]}" -p "$p" ping || { log_tail "$dir/redis/node-$p/redis.log"; exit 1; }
    done
    # With one host, the first 3 addresses become the masters, the last 3 their replicas.
    if ! timeout 60 redis-cli "${REDIS_CLI_TLS[@]}" --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") \
      --cluster-replicas 1 --cluster-yes >"$dir/redis/cluster-create.log" 2>&1; then
      log "redis-cli --cluster create failed"; log_tail "$dir/redis/cluster-create.log"; exit 1
    fi
    # `--cluster create` returns once the nodes agree on the slots, not when the replicas
    # have synced: a failover (or a test of one) before that would lose the replica.
    wait_for_cluster "${cluster_ports[@]}" || { log_tail "$dir/redis/node-${cluster_ports[0]}/redis.log"; exit 1; }
  fi

  # moto, but one request at a time (infra/local/moto_serial.py): moto_server's threads race
  # on one item (concurrent UpdateItem ADDs lost, a conditional put let through twice),
  # where DynamoDB is atomic per item and the exactly-once tests rely on that. Same
  # application and server as moto_server, one lock around it: no second process, no hop.
  mkdir -p "$dir/moto"
  "$VENV/bin/python" "$ROOT/infra/local/moto_serial.py" -H 127.0.0.1 -p "$moto_port" >"$dir/moto/moto.log" 2>&1 &
  local moto_pid=$!
  echo "$moto_pid" >"$dir/moto/moto.pid"
  wait_for_moto "$moto_pid" "$moto_port" || { log_tail "$dir/moto/moto.log"; exit 1; }

  # The Toss sandbox (infra/local/toss-sandbox), built by cargo like the rest of the project.
  mkdir -p "$dir/toss"
  (cd "$ROOT" && cargo build --quiet -p toss-sandbox)
  # Webhooks go where TOSS_SANDBOX_WEBHOOK_URL says (`make dev`: the local gateway); none unless set.
  TOSS_SANDBOX_PORT=$toss_port TOSS_SANDBOX_WEBHOOK_URL=${TOSS_SANDBOX_WEBHOOK_URL:-} \
    "$ROOT/target/debug/toss-sandbox" >"$dir/toss/toss.log" 2>&1 &
  echo $! >"$dir/toss/toss.pid"
  wait_for "Toss sandbox" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$toss_port/sandbox/clock')"

  cat >"$dir/stack.env" <<ENV
export STACK_DIR='$dir'
# This script; bash "\$STACK_SCRIPT" stop-mysql|start-mysql "\$STACK_DIR" restarts MariaDB.
export STACK_SCRIPT='$ROOT/infra/local/stack.sh'
export MYSQL_PORT=$mysql_port
export REDIS_PORT=$redis_port
# moto's port (one request at a time: infra/local/moto_serial.py); AWS_ENDPOINT_URL is it.
export MOTO_PORT=$moto_port
export MYSQL_ADMIN_URL='mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$mysql_port'
export DATABASE_URL='mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$mysql_port/profiles$mysql_query'
export REDIS_URL='$redis_url'
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
# The shape. MYSQL_URL_QUERY is what DATABASE_URL ends with; code that builds its own URL
# from MYSQL_ADMIN_URL appends it. REDIS_CLI_TLS_ARGS: redis-cli \$REDIS_CLI_TLS_ARGS -p PORT ...
export REDIS_TOPOLOGY=$topology
export REDIS_CLUSTER=$([ "$topology" = cluster ] && echo true || echo false)
export REDIS_CLUSTER_PORTS='${cluster_ports[*]}'
export REDIS_TLS=$redis_tls
export REDIS_CA_FILE='$([ "$redis_tls" = 1 ] && echo "$TLS/ca.pem")'
export REDIS_CLI_TLS_ARGS='${REDIS_CLI_TLS[*]}'
export TLS_DIR='$TLS'
export MYSQL_TLS=$mysql_tls
export MYSQL_URL_QUERY='$mysql_query'
ENV
  local redis_desc=":$redis_port"
  [ "$topology" = cluster ] && redis_desc="cluster :${cluster_ports[*]}"
  [ "$redis_tls" = 1 ] && redis_desc="$redis_desc (TLS)"
  log "MariaDB :$mysql_port$([ "$mysql_tls" = 1 ] && echo ' (TLS)')  Redis $redis_desc  moto :$moto_port  Toss sandbox :$toss_port  (state in $dir)"
  trap - EXIT
}

down() {
  local dir=$1
  [ -d "$dir" ] || return 0
  # Redis: the single server or the 6 cluster nodes, by their pidfiles (that needs no port
  # and no TLS arguments); SIGTERM with --save '' stops without writing anything.
  local pidfile redis_pids=() p
  for pidfile in "$dir/redis/redis.pid" "$dir"/redis/node-*/redis.pid; do
    if [ -f "$pidfile" ]; then redis_pids+=("$(cat "$pidfile")"); fi
  done
  for p in "${redis_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for pidfile in "$dir/moto/moto.pid" "$dir/toss/toss.pid"; do
    # (removed too: unlike Redis and MariaDB, these servers leave their pidfile behind)
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
  # Wait for them, so the caller can remove the state folder (and reuse the ports) at once.
  for p in "${redis_pids[@]}"; do
    for _ in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
  done
  if [ -f "$dir/mysql/mysqld.pid" ]; then
    local pid; pid=$(cat "$dir/mysql/mysqld.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  fi
  log "stopped the stack in $dir"
}

case "${1:-}" in
  up) up "${2:?state dir}" "${3:-dev}" ;;
  down) down "${2:?state dir}" ;;
  stop-mysql)
    signal=$(switch "signal" "${3:-term}" term kill) || exit 2
    stop_mysqld "${2:?state dir}" "$(tr a-z A-Z <<<"$signal")" ;;
  start-mysql)
    dir=${2:?state dir}
    start_mysqld "$dir" "$(stack_var "$dir" MYSQL_PORT)" "$(stack_var "$dir" MYSQL_TLS)" ;;
  *)
    echo "usage: $0 up <state-dir> [dev|free] | down <state-dir>" \
      "| stop-mysql <state-dir> [term|kill] | start-mysql <state-dir>" >&2
    exit 2 ;;
esac
