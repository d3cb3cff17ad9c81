# shellcheck shell=bash
# Sourced (not run) after a stack's stack.env, with GATEWAY_PORT and TOSS_API_BASE set:
# the settings under which the local gateway serves the web front end (web/) and a browser
# can pay through the sandbox's stand-in of the Toss payment widget. Used by
# infra/local/dev.sh and infra/local/browser-test.sh.
#
#   source "$STATE/stack.env"; GATEWAY_PORT=3100 source infra/local/web-env.sh
#
# The widget needs a widget client key (test_gck_…), and Toss requires the confirm to use
# the secret key of the same pair (docs/toss.md §1, key pairing), so this switches both to
# the docs' widget pair. The test suite and the rest of the local stack keep the
# API-individual pair stack.sh writes.
if [ -z "${GATEWAY_PORT:-}" ] || [ -z "${TOSS_API_BASE:-}" ]; then
  echo "web-env.sh: set GATEWAY_PORT and TOSS_API_BASE first (source the stack's stack.env)" >&2
  return 1 2>/dev/null || exit 1
fi
# The success and fail URLs name this port, so the gateway must listen on it: export it
# for good (`GATEWAY_PORT=3100 source …` alone sets it only while this file runs).
declare -gx GATEWAY_PORT="$GATEWAY_PORT"
export TOSS_CLIENT_KEY=test_gck_docs_Ovk5rk1EwkEbP0W43n07xlzm
export TOSS_SECRET_KEY=test_gsk_docs_OaPz8L5KdmQXkzRz3y47BMw6
# Where the payment window sends the member back: the site's own pages (checkout answers
# them; read by shared/api/src/services.rs).
export TOSS_SUCCESS_URL=http://127.0.0.1:$GATEWAY_PORT/success.html
export TOSS_FAIL_URL=http://127.0.0.1:$GATEWAY_PORT/fail.html
# The site folder the gateway serves, and the SDK script its /config.js names: the
# sandbox's stand-in (a real SDK would open Toss's real window, which cannot pay a
# sandbox order).
WEB_ROOT=${WEB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../web" && pwd)}
export WEB_ROOT
export WEB_TOSS_SDK_URL=${WEB_TOSS_SDK_URL:-${TOSS_API_BASE%/}/v2/standard}
