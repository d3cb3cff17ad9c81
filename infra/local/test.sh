#!/usr/bin/env bash
# The test suite on a private stack (free ports), then teardown; non-zero on any failure.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash infra/local/with-stack.sh cargo test --workspace --locked --no-fail-fast "$@"
