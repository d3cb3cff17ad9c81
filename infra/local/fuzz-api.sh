#!/usr/bin/env bash
# `make fuzz-api`: schemathesis against shared/api/openapi.yaml, on a private stack (free
# ports) and the local gateway, then teardown. Exits non-zero on any failure.
#
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   FUZZ_SEED          schemathesis/hypothesis seed (default fixed, for reproducible runs)
#   FUZZ_WORKERS       concurrent workers (default 1: the order of requests, and so the
#                      per-minute rate limits and Idempotency-Key replays, is reproducible)
#   extra arguments    go to `schemathesis run` (e.g. --include-operation-id checkout)
#
# Reports (JUnit XML, the failing cases as a pytest file) and the gateway's log are left
# in .local/fuzz-report/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/.local/venv-fuzz"
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
SEED=${FUZZ_SEED:-20261124}
WORKERS=${FUZZ_WORKERS:-1}
REPORT="$ROOT/.local/fuzz-report"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { printf '[fuzz] %s\n' "$*" >&2; }

mkdir -p "$ROOT/.local"
STATE=$(mktemp -d "$ROOT/.local/fuzz-XXXXXX")
GATEWAY_PID=
cleanup() {
  if [ -n "$GATEWAY_PID" ]; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  bash infra/local/stack.sh down "$STATE"
  rm -rf "$STATE"
}
trap cleanup EXIT

bash infra/local/stack.sh up "$STATE" free
# shellcheck disable=SC1091
source "$STATE/stack.env"

# schemathesis, pinned, in its own venv (the stack's venv holds moto).
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

log "building the local gateway"
cargo build --quiet -p local-gateway
rm -rf "$REPORT"
mkdir -p "$REPORT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
DATABASE_MAX_CONNECTIONS=10 GATEWAY_PORT=$PORT RUST_LOG=${RUST_LOG:-warn} \
  "$TARGET_DIR/debug/local-gateway" >"$REPORT/gateway.log" 2>&1 &
GATEWAY_PID=$!
for _ in $(seq 1 300); do
  if curl -s -o /dev/null "$BASE/api/profiles?size=1"; then break; fi
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
    log "the local gateway exited:"; cat "$REPORT/gateway.log" >&2; exit 1
  fi
  sleep 0.1
done
curl -s -o /dev/null "$BASE/api/profiles?size=1" || { log "the local gateway did not come up"; exit 1; }
log "local gateway at $BASE"

# One member, so the payment routes are exercised with a valid token (the token lives
# 15 minutes; later requests get API Gateway's 403, which the document allows).
SIGNUP=$(curl -s -X POST "$BASE/api/members/signup" -H 'content-type: application/json' \
  -d "{\"name\":\"퍼즈 테스터\",\"email\":\"fuzz-$(date +%s)-$$@example.com\",\"headline\":\"schemathesis\",\"category\":\"OTHER\",\"careerYears\":1,\"region\":\"ONLINE\",\"password\":\"correct horse battery\"}")
TOKEN=$(printf '%s' "$SIGNUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["accessToken"])') || {
  log "signup failed: $SIGNUP"; exit 1
}

# The token is given to the document's `bearerAuth` scheme (sent as
# `Authorization: Bearer <token>`), so schemathesis knows which header its missing- and
# bad-credentials probes must drop or spoil.
# The checks keep schemathesis' defaults, except that valid data may also meet what the
# document promises when an Idempotency-Key is reused (schemathesis draws few distinct
# keys): 422 IDEMPOTENCY_KEY_REUSED for another body, and the stored answer of an earlier
# request with the same body, which can be a 415 (the fingerprint is method, path and
# body; the Content-Type is not part of it).
cat >"$STATE/schemathesis.toml" <<'TOML'
[auth]
auto-signup = false

[auth.openapi.bearerAuth]
bearer = "${FUZZ_BEARER_TOKEN}"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "415", "422", "429", "5xx"]
TOML

# FUZZ_EXCLUDE_CHECKS names schemathesis checks to skip (none by default).
EXCLUDE_CHECKS=${FUZZ_EXCLUDE_CHECKS-}
mkdir -p "$STATE/hooks"
printf 'import schemathesis\n' >"$STATE/hooks/fuzz_hooks.py"
# schemathesis draws few distinct Idempotency-Keys, so most payment requests would only
# meet 422 IDEMPOTENCY_KEY_REUSED: three valid keys in four get a unique suffix, so their
# bodies are really processed; the fourth keeps its key (replays and 422 stay tested).
cat >>"$STATE/hooks/fuzz_hooks.py" <<'PY'

import itertools
import re

_calls = itertools.count(1)
_VALID_KEY = re.compile(r"[!-~]{1,240}")


@schemathesis.hook("before_call")
def unique_idempotency_keys(context, case, kwargs):
    n = next(_calls)
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and _VALID_KEY.fullmatch(value) and n % 4:
            case.headers[name] = f"{value}-{n}"
PY
EXCLUDE_ARGS=()
if [ -n "$EXCLUDE_CHECKS" ]; then EXCLUDE_ARGS=(--exclude-checks "$EXCLUDE_CHECKS"); fi

log "schemathesis $SCHEMATHESIS_VERSION: max $MAX_EXAMPLES examples per operation, seed $SEED"
set +e
# Run from the state folder: schemathesis and hypothesis keep their caches in the working
# directory, which the teardown removes.
(cd "$STATE" && FUZZ_BEARER_TOKEN=$TOKEN PYTHONPATH="$STATE/hooks" SCHEMATHESIS_HOOKS=fuzz_hooks \
  "$VENV/bin/schemathesis" --config-file "$STATE/schemathesis.toml" run "$ROOT/shared/api/openapi.yaml" \
  --url "$BASE" \
  --checks all "${EXCLUDE_ARGS[@]}" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --workers "$WORKERS" \
  --generation-database none \
  --request-timeout 30 \
  --report junit,pytest --report-dir "$REPORT" \
  "$@")
STATUS=$?
set -e
if grep -q '"level":"ERROR"\|panicked' "$REPORT/gateway.log"; then
  log "the gateway logged errors or panics (see $REPORT/gateway.log):"
  grep '"level":"ERROR"\|panicked' "$REPORT/gateway.log" | head -20 >&2
fi
log "reports in $REPORT"
exit "$STATUS"
