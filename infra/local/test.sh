#!/usr/bin/env bash
# `make test`: a private stack on free ports, the whole suite, then teardown.
# Exits non-zero on any failure. Extra arguments go to `cargo test`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p .local
STATE=$(mktemp -d "$ROOT/.local/test-XXXXXX")
cleanup() { bash infra/local/stack.sh down "$STATE"; rm -rf "$STATE"; }
trap cleanup EXIT
bash infra/local/stack.sh up "$STATE" free
# shellcheck disable=SC1091
source "$STATE/stack.env"
export RUST_LOG=${RUST_LOG:-warn}
cargo test --workspace --locked --no-fail-fast "$@"
