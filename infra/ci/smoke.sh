#!/usr/bin/env bash
# Production-shaped smoke run: every function's deployed artifact, started under the Lambda
# runtime emulator with exactly the environment template.yaml gives it, invoked once with
# events/<fn>.json, must answer correctly. A function whose configuration is wrong fails
# here, not in production.
#
#   bash infra/ci/smoke.sh            # SMOKE_SHAPE=production (default) | plain
#
# What runs:
# - Binaries: the arm64 artifacts Lambda gets (target/lambda/<fn>/bootstrap.zip from
#   infra/ci/build-arm64.sh: cargo lambda build --release --arm64, -C target-cpu=neoverse-n1),
#   unzipped and run under user-mode emulation: qemu-aarch64-static -cpu neoverse-n1 (Lambda's
#   arm64 is Graviton2 = Neoverse N1, so an instruction beyond it fails here too) with the
#   Debian arm64 glibc (libc6-arm64-cross) as the loader's root. Built here when missing or
#   older than the sources by mtime (SMOKE_BUILD=auto; `make test` builds them just before);
#   SMOKE_BUILD=always lets cargo decide (a no-op build costs ~10-30 s; use it where mtimes
#   mislead, e.g. a tree unpacked by `git archive`), never = as they are. Under qemu a
#   function's cold start + first answer takes ~0.2-1.5 s here, so emulation is workable;
#   SMOKE_RUNNER=native (x86_64 `cargo lambda build --release` into target/lambda-x86_64)
#   is only for a machine without qemu: it does not run the artifacts that are deployed.
# - Not emulated: VPC, IAM (moto does not enforce the functions' policies), MemorySize as a
#   limit, Firecracker, API Gateway itself (the authorizer's verdict is checked, and the
#   member it names is what the payment events carry as requestContext.authorizer).
# - Stack: a private one, `STACK_SHAPE=$SMOKE_SHAPE infra/local/stack.sh up <dir> free`.
#   production = Redis Cluster over TLS (rediss://, private CA) and MariaDB over TLS
#   (ssl-mode=VERIFY_IDENTITY); plain = redis:// and plain TCP (what the code spoke before
#   TLS support). smoke.py refuses a production run on a stack that is not production-shaped.
#   The template sets REQUIRE_TLS=true, so with it every function rightly refuses the plain
#   shape at cold start: SMOKE_SHAPE=plain is for looking at a template without that.
# - Environment of each function, computed from template.yaml by infra/ci/smoke.py:
#   Globals.Function.Environment.Variables merged with the function's own, every !Ref / !Sub
#   resolved against a local parameter file (.local/smoke-*/parameters.json: the samconfig
#   of this run: ServiceSecretArn = the ARN moto gives the secret the run creates,
#   TossApiBase = the sandbox, RedisClusterMode / RedisCaFile = the stack's REDIS_CLUSTER /
#   REDIS_CA_FILE, ...; others take the template's defaults, checked against the template's
#   constraints) and the resources the run creates in moto (the DynamoDB table with the
#   template's key schema, the event bus with the template's name). A value that does not
#   resolve fails the run. On top of it only what Lambda sets itself (AWS_REGION,
#   credentials, AWS_LAMBDA_FUNCTION_NAME/MEMORY_SIZE/..., the runtime API) and
#   AWS_ENDPOINT_URL (moto: the one emulator-only addition); started with `env -i`, so
#   nothing of this shell leaks in.
# - Secrets: one Secrets Manager secret in moto holding the stack's DATABASE_URL, REDIS_URL,
#   TOSS_SECRET_KEY and TOKEN_SIGNING_KEY; the functions read it through SECRET_ID.
# - Invocation: one `cargo lambda watch --only-lambda-apis`; migrate, signup, login,
#   authorizer, get-profile, edit-profile, list-profiles, checkout, (the sandbox's payment
#   window), confirm, payment-status, get-me, my-points, refund, toss-webhook, flush-views,
#   recover-view-losses,
#   recover-payments, each
#   checked against smoke.py's EXPECTATIONS (status, key fields, metrics, no WARN/ERROR
#   log line, still alive after answering, within the template's Timeout + 10 s init).
# - Self-test: get-profile again with a broken template parameter (RedisCaFile = an
#   unrelated CA, RedisClusterMode flipped; a broken secret while the template has neither);
#   the run fails unless the check rejects it.
# Knobs: SMOKE_SHAPE, SMOKE_BUILD, SMOKE_RUNNER, SMOKE_FUNCTIONS (subset, no self-test
# unless get-profile is in it), SMOKE_PARAMETER_OVERRIDES ("Name=Value ..." on top of the
# local parameter file, e.g. to try a deployment's value), SMOKE_TIMEOUT_FACTOR (multiplies
# the template's Timeout, default 1), SMOKE_KEEP=1 (keep .local/smoke-* with logs; kept
# anyway on failure).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHAPE=${SMOKE_SHAPE:-production}
BUILD=${SMOKE_BUILD:-auto}
RUNNER=${SMOKE_RUNNER:-qemu}
VENV_LAMBDA="$ROOT/.local/venv-lambda"
CARGO_LAMBDA_VERSION=1.9.2 # as infra/ci/build-arm64.sh
QEMU=/usr/bin/qemu-aarch64-static
SYSROOT=/usr/aarch64-linux-gnu

log() { printf '[smoke] %s\n' "$*" >&2; }
now() { date +%s%N; }
phases=()
phase_done() { # name, start (ns)
  local ms=$((($(now) - $2) / 1000000))
  phases+=("$(printf '%-34s %4d.%01d s' "$1" $((ms / 1000)) $((ms % 1000 / 100)))")
}
t_all=$(now)

functions=()
for dir in functions/*/; do functions+=("$(basename "$dir")"); done

# ---- binaries
t=$(now)
stale() { # true when an artifact is missing or older than any source it is built from
  local oldest="" f
  for f in "${functions[@]}"; do
    local z="$1/$f/bootstrap${2:-}"
    [ -f "$z" ] || return 0
    if [ -z "$oldest" ] || [ "$z" -ot "$oldest" ]; then oldest=$z; fi
  done
  [ -n "$(find Cargo.toml Cargo.lock functions shared infra/migrations -newer "$oldest" -type f -print -quit)" ]
}
if [ "$RUNNER" = qemu ]; then
  if [ ! -x "$QEMU" ] || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      log "installing qemu-user-static and the arm64 glibc (libc6-arm64-cross) from the system packages"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
    else
      log "need qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross (apt-get install), or SMOKE_RUNNER=native"
      exit 1
    fi
  fi
  if [ "$BUILD" = always ] || { [ "$BUILD" = auto ] && stale target/lambda .zip; }; then
    log "arm64 artifacts missing or older than the sources: bash infra/ci/build-arm64.sh"
    bash infra/ci/build-arm64.sh
  fi
  for f in "${functions[@]}"; do
    [ -f "target/lambda/$f/bootstrap.zip" ] || { log "missing target/lambda/$f/bootstrap.zip"; exit 1; }
  done
  runner_args=(--runner qemu --qemu "$QEMU" --qemu-sysroot "$SYSROOT" --qemu-cpu neoverse-n1)
else
  if [ ! -x "$VENV_LAMBDA/bin/cargo-lambda" ]; then
    python3 -m venv "$VENV_LAMBDA"
    "$VENV_LAMBDA/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
  if [ "$BUILD" = always ] || { [ "$BUILD" = auto ] && stale target/lambda-x86_64; }; then
    bins=()
    for f in "${functions[@]}"; do bins+=(--bin "$f"); done
    log "x86_64 release build: cargo lambda build --release --lambda-dir target/lambda-x86_64"
    AWS_LC_SYS_NO_JITTER_ENTROPY=1 PATH="$VENV_LAMBDA/bin:$PATH" \
      cargo lambda build --release --compiler cargo --lambda-dir target/lambda-x86_64 "${bins[@]}"
  fi
  runner_args=(--runner native --bin-dir "$ROOT/target/lambda-x86_64")
fi
if [ ! -x "$VENV_LAMBDA/bin/cargo-lambda" ]; then # artifacts built elsewhere: the emulator is still needed
  python3 -m venv "$VENV_LAMBDA"
  "$VENV_LAMBDA/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
phase_done "artifacts ($RUNNER)" "$t"

# ---- private stack
mkdir -p .local
STATE=$(mktemp -d "$ROOT/.local/smoke-XXXXXX")
status=1
cleanup() {
  bash infra/local/stack.sh down "$STATE/stack" >/dev/null 2>&1 || true
  if [ "$status" -eq 0 ] && [ "${SMOKE_KEEP:-0}" != 1 ]; then
    rm -rf "$STATE"
  else
    log "state, logs and parameter file kept in $STATE"
  fi
}
trap cleanup EXIT
t=$(now)
log "stack: STACK_SHAPE=$SHAPE bash infra/local/stack.sh up $STATE/stack free"
# Only the shape decides: REDIS_TOPOLOGY / REDIS_TLS / MYSQL_TLS from this shell would win
# over STACK_SHAPE in stack.sh.
env -u REDIS_TOPOLOGY -u REDIS_TLS -u MYSQL_TLS STACK_SHAPE="$SHAPE" bash infra/local/stack.sh up "$STATE/stack" free
phase_done "private stack up ($SHAPE)" "$t"

# ---- functions
t=$(now)
set +e
"$ROOT/.local/venv/bin/python" infra/ci/smoke.py --root "$ROOT" --state "$STATE" \
  --stack-env "$STATE/stack/stack.env" --shape "$SHAPE" --cargo-lambda "$VENV_LAMBDA/bin/cargo-lambda" \
  --timeout-factor "${SMOKE_TIMEOUT_FACTOR:-1}" --only "${SMOKE_FUNCTIONS:-}" \
  --parameter-overrides "${SMOKE_PARAMETER_OVERRIDES:-}" "${runner_args[@]}"
status=$?
set -e
phase_done "functions + self-test (smoke.py)" "$t"
phase_done "total" "$t_all"
echo
echo "Phases:"
printf '  %s\n' "${phases[@]}"
if [ "$status" -eq 0 ]; then echo "SMOKE OK ($SHAPE shape)"; else echo "SMOKE FAILED ($SHAPE shape)"; fi
exit "$status"
