#!/usr/bin/env bash
# The member journey in a real headless Chromium (tests/browser/journey.mjs) through the
# real local stack: a private stack on free ports, the local gateway serving web/ with the
# widget key pair (infra/local/web-env.sh), the sandbox sending its webhooks to it.
# Installs what it needs: Debian's chromium (as root, with apt-get) and playwright-core
# from npm (which downloads no browser). Screenshots go to .local/browser/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
log() { printf '[browser] %s\n' "$*" >&2; }

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# A Korean font too, or the screenshots show boxes for every Hangul character.
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
[ -d /usr/share/fonts/truetype/nanum ] || missing+=(fonts-nanum)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} from the system packages"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing: ${missing[*]} (sudo apt-get install -y ${missing[*]}, or set CHROMIUM)"
    exit 1
  fi
fi
if [ -z "${BROWSER_STACK_UP:-}" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  GATEWAY_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export GATEWAY_PORT
  # The sandbox sends Toss's webhooks to the gateway, as `make dev` has it.
  export TOSS_SANDBOX_WEBHOOK_URL=http://127.0.0.1:$GATEWAY_PORT/api/payments/toss/webhook
  # The rest of this script runs again inside a private stack (with-stack.sh starts it
  # on free ports, exports its variables and tears it down whatever the outcome).
  BROWSER_STACK_UP=1 exec bash infra/local/with-stack.sh bash "$0"
fi
# shellcheck disable=SC1091
source infra/local/web-env.sh
GATEWAY_LOG=$ROOT/.local/browser-gateway.log
gateway_pid=
stop_gateway() {
  # (The gateway's own exit status after the kill is not the run's.)
  kill "$gateway_pid" 2>/dev/null || true
  wait "$gateway_pid" 2>/dev/null || true
}
# A Toss slower than our confirm's timeout within a browser step's patience (the
# journey's "확인 중" step; the default is 30 s).
export TOSS_TIMEOUT_SECONDS=1

cargo build --quiet --locked -p local-gateway
target/debug/local-gateway >"$GATEWAY_LOG" 2>&1 &
gateway_pid=$!
trap stop_gateway EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$GATEWAY_PORT/config.js" >/dev/null 2>&1 && break
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$GATEWAY_LOG"; exit 1; }
  sleep 0.2
done

rm -rf .local/browser
status=0
BASE_URL=http://127.0.0.1:$GATEWAY_PORT CHROMIUM=$CHROMIUM SCREENSHOTS=$ROOT/.local/browser \
  node tests/browser/journey.mjs || status=$?
if [ "$status" -ne 0 ]; then
  log "the gateway's log:"
  tail -50 "$GATEWAY_LOG" >&2
fi
exit "$status"
