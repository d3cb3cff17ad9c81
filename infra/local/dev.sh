#!/usr/bin/env bash
# `make dev`: the local stack plus the local gateway on http://127.0.0.1:${GATEWAY_PORT:-3000}.
# Ctrl-C stops the gateway and every server this script started.
#
# The stack's shape comes from the environment, as infra/local/stack.sh reads it:
# SHAPE=production (what `make dev SHAPE=production` passes; an alias of STACK_SHAPE, and
# it wins over it) or the single switches REDIS_TOPOLOGY, REDIS_TLS, MYSQL_TLS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE="$ROOT/.local/dev"
cd "$ROOT"

if [ -n "${SHAPE:-}" ]; then export STACK_SHAPE=$SHAPE; fi
export GATEWAY_PORT=${GATEWAY_PORT:-3000}
# The sandbox sends Toss's webhooks to the gateway's webhook route, as the URL registered
# in Toss's developer center would be (set it empty for none).
export TOSS_SANDBOX_WEBHOOK_URL=${TOSS_SANDBOX_WEBHOOK_URL-http://127.0.0.1:$GATEWAY_PORT/api/payments/toss/webhook}
# (An `up` that fails stops what it had started itself.)
bash infra/local/stack.sh up "$STATE" dev
trap 'bash infra/local/stack.sh down "$STATE"' EXIT INT TERM
# shellcheck disable=SC1091
source "$STATE/stack.env"
# The web front end's settings (the widget key pair, success/fail pages on this gateway).
# shellcheck disable=SC1091
source infra/local/web-env.sh
export DATABASE_MAX_CONNECTIONS=${DATABASE_MAX_CONNECTIONS:-10}
export RUST_LOG=${RUST_LOG:-info}

if [ "$REDIS_TOPOLOGY" = cluster ] && [ "$REDIS_TLS" = 1 ] && [ "$MYSQL_TLS" = 1 ]; then shape=production
elif [ "$REDIS_TOPOLOGY" = single ] && [ "$REDIS_TLS" = 0 ] && [ "$MYSQL_TLS" = 0 ]; then shape=plain
else shape=custom; fi
redis_desc="single node"
[ "$REDIS_TOPOLOGY" = cluster ] && redis_desc="cluster of 6 nodes (3 masters, 3 replicas) on $REDIS_CLUSTER_PORTS"
[ "$REDIS_TLS" = 1 ] && redis_desc="$redis_desc, TLS only"
redis_cli="redis-cli${REDIS_CLI_TLS_ARGS:+ $REDIS_CLI_TLS_ARGS}"
[ "$REDIS_CLUSTER" = true ] && redis_cli="$redis_cli -c"
redis_cli="$redis_cli -p $REDIS_PORT"
mysql_desc=$([ "$MYSQL_TLS" = 1 ] && echo "TLS required (CA $TLS_DIR/ca.pem)" || echo "plain TCP")
cat <<INFO

Shape: $shape (REDIS_TOPOLOGY=$REDIS_TOPOLOGY REDIS_TLS=$REDIS_TLS MYSQL_TLS=$MYSQL_TLS)
Services (state in .local/dev):
  MariaDB  $DATABASE_URL
           $mysql_desc
  Redis    $REDIS_URL
           $redis_desc
           $redis_cli
  moto     $AWS_ENDPOINT_URL   (DynamoDB table $TABLE_NAME)
  Toss     $TOSS_API_BASE   webhooks to ${TOSS_SANDBOX_WEBHOOK_URL:-(none)}
           (curl $TOSS_API_BASE/sandbox/webhooks lists them)
  Site     http://127.0.0.1:$GATEWAY_PORT/   (web/ as served to browsers; the widget
           key pair $TOSS_CLIENT_KEY, SDK $WEB_TOSS_SDK_URL)
  With these set (source .local/dev/stack.env), 'cargo lambda watch' serves the same
  functions and 'cargo lambda invoke get-profile --data-file events/get-profile.json' calls one.
INFO
cargo run --quiet -p local-gateway
