#!/usr/bin/env bash
# `make fuzz-api`: schemathesis against shared/api/openapi.yaml, on a private stack (free
# ports) and the local gateway, then teardown: one run of every operation and phase, then
# a stateful run of the payment flow (checkout → confirm → status), both with real orders
# from infra/local/fuzz_hooks.py. Exits non-zero on any failure.
#
#   FUZZ_MAX_EXAMPLES    test cases per operation and phase (default 50)
#   FUZZ_SEED            schemathesis/hypothesis seed (default fixed, for reproducible runs)
#   FUZZ_WORKERS         concurrent workers (default 1: the order of requests, and so the
#                        per-minute rate limits and Idempotency-Key replays, is reproducible)
#   FUZZ_FIXTURE_ORDERS  orders the hooks create before each run (default 4)
#   extra arguments      go to both `schemathesis run`s (e.g. --max-failures 1); the second
#                        adds `--include-tag payments --phases stateful` after them
#
# Reports (JUnit XML, the failing cases as a pytest file) are left in
# .local/fuzz-report/{all,payment-flow}/, the gateway's log in .local/fuzz-report/.
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
read -r TOKEN MEMBER_ID < <(printf '%s' "$SIGNUP" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(r["accessToken"], r["memberId"])') || {
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
EXCLUDE_ARGS=()
if [ -n "$EXCLUDE_CHECKS" ]; then EXCLUDE_ARGS=(--exclude-checks "$EXCLUDE_CHECKS"); fi

# infra/local/fuzz_hooks.py gives the payment routes real orders of this member: fixtures
# it creates on loading, and every order a checkout answers, paid for at the Toss sandbox
# ($TOSS_API_BASE, from stack.env) the way the Toss window would; it also keeps
# Idempotency-Keys from colliding. Run from the state folder: schemathesis and hypothesis
# keep their caches in the working directory, which the teardown removes.
fuzz() { # report subfolder, schemathesis run arguments
  local reports=$REPORT/$1
  shift
  (cd "$STATE" && FUZZ_BASE_URL=$BASE FUZZ_BEARER_TOKEN=$TOKEN FUZZ_MEMBER_ID=$MEMBER_ID \
    SCHEMATHESIS_HOOKS="$ROOT/infra/local/fuzz_hooks.py" \
    "$VENV/bin/schemathesis" --config-file "$STATE/schemathesis.toml" run "$ROOT/shared/api/openapi.yaml" \
    --url "$BASE" \
    --checks all "${EXCLUDE_ARGS[@]}" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers "$WORKERS" \
    --generation-database none \
    --request-timeout 30 \
    --report junit,pytest --report-dir "$reports" \
    "$@")
}

set +e
log "schemathesis $SCHEMATHESIS_VERSION: every operation and phase, max $MAX_EXAMPLES examples per operation, seed $SEED"
fuzz all "$@"
STATUS=$?
# schemathesis starts stateful scenarios only at operations it takes for entry points, and
# it does not take checkout for one while signup and list-profiles are: checkout's body
# names a member (`memberId`) that no response of the document produces under that name.
# Among the payment routes alone checkout is the entry point, so a second, stateful-only
# run follows the document's links checkout → confirm → status with generated bodies.
log "schemathesis: the payment flow (stateful: checkout → confirm → status)"
fuzz payment-flow "$@" --include-tag payments --phases stateful
FLOW_STATUS=$?
set -e
if grep -q '"level":"ERROR"\|panicked' "$REPORT/gateway.log"; then
  log "the gateway logged errors or panics (see $REPORT/gateway.log):"
  grep '"level":"ERROR"\|panicked' "$REPORT/gateway.log" | head -20 >&2
fi
log "reports in $REPORT"
if [ "$STATUS" -ne 0 ]; then exit "$STATUS"; fi
exit "$FLOW_STATUS"
