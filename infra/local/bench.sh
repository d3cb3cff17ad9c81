#!/usr/bin/env bash
# `make bench-<name>`: a private stack on free ports, one benchmark binary, teardown.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p .local
STATE=$(mktemp -d "$ROOT/.local/bench-XXXXXX")
cleanup() { bash infra/local/stack.sh down "$STATE"; rm -rf "$STATE"; }
trap cleanup EXIT
cargo build --profile perf -p bench --locked
bash infra/local/stack.sh up "$STATE" free
# shellcheck disable=SC1091
source "$STATE/stack.env"
export RUST_LOG=${RUST_LOG:-warn}
./target/perf/bench "$@"
