#!/usr/bin/env bash
# `make bench-<name>`: one benchmark binary (optimised) on a private stack, then teardown.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --profile perf -p bench --locked
exec bash infra/local/with-stack.sh ./target/perf/bench "$@"
