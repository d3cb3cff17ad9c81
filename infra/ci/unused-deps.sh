#!/usr/bin/env bash
# Fails when a crate of the workspace declares a dependency its code never uses
# (cargo-machete: a fast, source-based check that needs no nightly toolchain). The tool
# is installed once, at a pinned version, into the project-local .local/cargo-tools
# (`--install-only`: just that, so CI can build it while the tests run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$ROOT/.local/cargo-tools"
VERSION=0.9.2
if [ "$("$TOOLS/bin/cargo-machete" --version 2>/dev/null | awk '{print $NF}')" != "$VERSION" ]; then
  echo "== installing cargo-machete $VERSION into $TOOLS"
  cargo install --quiet --locked --root "$TOOLS" cargo-machete --version "$VERSION"
fi
[ "${1:-}" = --install-only ] && exit 0
cd "$ROOT"
"$TOOLS/bin/cargo-machete"
