#!/usr/bin/env bash
# `cargo lambda build --release --arm64` of every function (what `sam build` runs), with
# cargo-lambda from a project-local venv. Prints each bootstrap.zip's size.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
VENV="$ROOT/.local/venv-lambda"
CARGO_LAMBDA_VERSION=1.9.2
if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export PATH="$VENV/bin:$PATH"
# aws-lc: built without its CPU-jitter entropy source, the setting recommended for
# Lambda's cold start (the OS entropy source suffices there).
export AWS_LC_SYS_NO_JITTER_ENTROPY=1
bins=()
for dir in functions/*/; do bins+=(--bin "$(basename "$dir")"); done
cargo lambda build --release --arm64 --output-format zip "${bins[@]}"
for dir in functions/*/; do
  name=$(basename "$dir")
  printf '%-22s %s bytes\n' "$name" "$(stat -c %s "target/lambda/$name/bootstrap.zip")"
done
