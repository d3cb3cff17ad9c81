#!/usr/bin/env bash
# Runs a command against a private stack on free ports (its variables exported), then
# tears the stack down, whatever the command's outcome. Used by make test and the benches.
# The stack's shape switches (STACK_SHAPE, REDIS_TOPOLOGY, REDIS_TLS, MYSQL_TLS; see
# stack.sh) are read from the environment, so e.g. `STACK_SHAPE=production make test` works.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p .local
STATE=$(mktemp -d "$ROOT/.local/stack-XXXXXX")
cleanup() { bash infra/local/stack.sh down "$STATE"; rm -rf "$STATE"; }
trap cleanup EXIT
bash infra/local/stack.sh up "$STATE" free
# shellcheck disable=SC1091
source "$STATE/stack.env"
export RUST_LOG=${RUST_LOG:-warn}
"$@"
