#!/usr/bin/env bash
# `make dev`: the local stack plus the local gateway on http://127.0.0.1:${GATEWAY_PORT:-3000}.
# Ctrl-C stops the gateway and every server this script started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE="$ROOT/.local/dev"
cd "$ROOT"

bash infra/local/stack.sh up "$STATE" dev
trap 'bash infra/local/stack.sh down "$STATE"' EXIT INT TERM
# shellcheck disable=SC1091
source "$STATE/stack.env"
export DATABASE_MAX_CONNECTIONS=${DATABASE_MAX_CONNECTIONS:-10}
export GATEWAY_PORT=${GATEWAY_PORT:-3000}
export RUST_LOG=${RUST_LOG:-info}
cat <<INFO

Services (state in .local/dev):
  MariaDB  $DATABASE_URL
  Redis    $REDIS_URL
  moto     $AWS_ENDPOINT_URL   (DynamoDB table $TABLE_NAME)
  With these set (source .local/dev/stack.env), 'cargo lambda watch' serves the same
  functions and 'cargo lambda invoke get-profile --data-file events/get-profile.json' calls one.
INFO
cargo run --quiet -p local-gateway
