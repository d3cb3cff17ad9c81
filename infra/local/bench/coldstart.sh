#!/usr/bin/env bash
# `make bench-coldstart`: deployment size and init time of every function under functions/.
#
# Size. `cargo lambda build --release --arm64 --output-format zip` of every function (what
# `sam build` and `make build-arm64` run; the workspace release profile: opt-level "s",
# fat LTO, 1 codegen unit, strip, panic=abort; cargo-lambda adds -C target-cpu=neoverse-n1).
# "binary" is target/aarch64-unknown-linux-gnu/release/<fn> (already stripped), "zip" is
# target/lambda/<fn>/bootstrap.zip, the file uploaded to Lambda. Goal: zip <= 8 MB.
#
# Init time. The arm64 binary cannot run here, so the same functions are built for the host
# (x86_64, `cargo build --release`, same profile) into target/release/ and run against
# cargo-lambda's Lambda emulator, with the environment of a private local stack
# (infra/local/stack.sh on free ports: MariaDB, Redis, moto, Toss sandbox; plus the
# DynamoDB table and event bus). For each function, 1 discarded warm-up sample (it also
# applies the migrations, migrate going first), then $COLDSTART_SAMPLES (default 5)
# samples, each against a FRESH `cargo lambda watch --only-lambda-apis`
# (infra/local/bench/coldstart.py does one sample):
#   - invocation #1 (the POST `cargo lambda invoke` sends, with events/<fn>.json) is queued
#     in the watch, then the binary is started: t0 = just before fork/exec;
#   - first answer = t0 -> answer of invocation #1 received: process start, init, the
#     first (cold) invocation with its lazy MySQL/Redis/DynamoDB connects, emulator hops;
#   - warm invoke = median latency of 3 more invocations of the same event: the emulator's
#     own overhead (HTTP hops, queueing; ~1.5-2 ms here) plus the warm handler;
#   - init ms = first answer - warm invoke (per sample, then the median): process start
#     to first answer, less what any invocation costs. Goal: <= 30 ms;
#   - /next ms = t0 -> the function's first GET /runtime/invocation/next, seen by a
#     pass-through proxy in front of the watch's runtime API: the end of Lambda's init
#     phase, i.e. what AWS reports as "Init Duration" (no invocation work in it);
#     init ms - /next ms is the first invocation's cold extra (connects, first use);
#   - cli invoke ms = one more warm invocation through `cargo lambda invoke` itself: the
#     CLI's process start-up (~10 ms) is why the timings above use its HTTP call instead.
# Where the warm handler itself is long (the jobs against moto, ~100 ms), init ms is the
# difference of two noisy numbers: read /next ms there.
# Why not let the watch start the function: without --only-lambda-apis, `cargo lambda
# watch` starts each function through `cargo run` (cargo's start-up and the workspace's
# freshness check, hundreds of ms) and reports no init duration of its own, so the first
# `cargo lambda invoke` against a fresh watch would time cargo, not the function.
# The events are run as they are, in this order (migrate, then by name): login's meets no
# member yet (signup comes later), so it takes the unknown-e-mail path.
# Every sample gets a fresh REDIS_KEY_PREFIX, so rate limits never turn an answer into a
# 429; a 4xx answer (missing profile, bad token) is fine for timing ("answer" column).
# Host x86_64 figures are not Lambda's (no Firecracker, another CPU):
# compare them between builds, and read Lambda's REPORT "Init Duration" for the real one.
#
# Needs: cargo-lambda (pinned below, installed into .local/venv-lambda with pip; it brings
# ziglang for the arm64 cross build) and what infra/local/stack.sh needs.
# Knobs: COLDSTART_SAMPLES (5), COLDSTART_FUNCTIONS (space-separated subset; without
# migrate the database has no tables and the HTTP functions answer 503),
# COLDSTART_SKIP_BUILD=1 (measure the binaries already built),
# COLDSTART_HOST_PROFILE (release): the cargo profile of the host build that is timed;
# "perf" (no LTO, incremental) skips the second set of fat-LTO links, but its binaries are
# twice as large and not what Lambda runs (init matched release within noise in an A/B of
# 3 functions): a quick look only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
VENV="$ROOT/.local/venv-lambda"
CARGO_LAMBDA_VERSION=1.9.2
SAMPLES=${COLDSTART_SAMPLES:-5}
HOST_PROFILE=${COLDSTART_HOST_PROFILE:-release}
ZIP_GOAL_MB=8
INIT_GOAL_MS=30

if [ ! -x "$VENV/bin/cargo-lambda" ]; then
  echo "[coldstart] installing cargo-lambda $CARGO_LAMBDA_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export PATH="$VENV/bin:$PATH"
# aws-lc: no jitter entropy source on Lambda's sandbox (as infra/ci/build-arm64.sh).
export AWS_LC_SYS_NO_JITTER_ENTROPY=1

if [ -n "${COLDSTART_FUNCTIONS:-}" ]; then
  read -r -a functions <<<"$COLDSTART_FUNCTIONS"
else
  functions=()
  for dir in functions/*/; do functions+=("$(basename "$dir")"); done
fi
bins=()
for f in "${functions[@]}"; do bins+=(--bin "$f"); done

phases=()
now() { date +%s%N; }
phase_done() { # name, start (ns)
  local ms=$((($(now) - $2) / 1000000))
  phases+=("$(printf '%-28s %5d.%01d s' "$1" $((ms / 1000)) $((ms % 1000 / 100)))")
}

mkdir -p .local
STATE=$(mktemp -d "$ROOT/.local/coldstart-XXXXXX")
cleanup() {
  bash infra/local/stack.sh down "$STATE/stack" || true
  rm -rf "$STATE"
}
trap cleanup EXIT

t_all=$(now)
if [ "${COLDSTART_SKIP_BUILD:-0}" != 1 ]; then
  t=$(now)
  echo "[coldstart] arm64 release build (cargo lambda build --release --arm64 --output-format zip)" >&2
  nice -n 10 cargo lambda build --release --arm64 --output-format zip "${bins[@]}"
  phase_done "arm64 release build + zip" "$t"
  t=$(now)
  echo "[coldstart] x86_64 $HOST_PROFILE build for the emulator (cargo build --profile $HOST_PROFILE)" >&2
  nice -n 10 cargo build --profile "$HOST_PROFILE" "${bins[@]}"
  phase_done "x86_64 $HOST_PROFILE build" "$t"
fi

t=$(now)
bash infra/local/stack.sh up "$STATE/stack" free
# shellcheck disable=SC1091
source "$STATE/stack/stack.env"
# The DynamoDB table and the event bus the functions use (make dev's gateway creates the
# table; here nothing else would). boto3 comes with moto in stack.sh's venv.
"$ROOT/.local/venv/bin/python" - <<'PY'
import os, boto3
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
ddb = boto3.client("dynamodb", **kw)
ddb.create_table(TableName=os.environ["TABLE_NAME"], BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
boto3.client("events", **kw).create_event_bus(Name=os.environ["EVENT_BUS_NAME"])
PY
phase_done "local stack up" "$t"
export RUST_LOG=${RUST_LOG:-warn}

# migrate first: its warm-up sample applies the migrations the other functions' queries need.
ordered=()
for f in "${functions[@]}"; do [ "$f" = migrate ] && ordered+=("$f"); done
for f in "${functions[@]}"; do [ "$f" != migrate ] && ordered+=("$f"); done
events=()
for f in "${ordered[@]}"; do
  if [ -f "events/$f.json" ]; then
    events+=(--event "$f=events/$f.json")
  else
    echo "[coldstart] no events/$f.json: $f's init is not measured" >&2
  fi
done

load_before=$(cut -d' ' -f1 /proc/loadavg)
t=$(now)
echo "[coldstart] init time: $((${#events[@]} / 2)) functions x (1 warm-up + $SAMPLES) samples, a fresh cargo lambda watch each" >&2
python3 infra/local/bench/coldstart.py --root "$ROOT" --cargo-lambda "$VENV/bin/cargo-lambda" \
  --bin-dir "$ROOT/target/$HOST_PROFILE" --samples "$SAMPLES" --log "$STATE/functions.log" \
  "${events[@]}" >"$STATE/init.jsonl" || {
  echo "[coldstart] init measurement failed; last lines of the watch/function log:" >&2
  tail -n 40 "$STATE/functions.log" >&2
  exit 1
}
phase_done "init measurement" "$t"
load_after=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$STATE/init.jsonl" "$ZIP_GOAL_MB" "$INIT_GOAL_MS" "$SAMPLES" "$HOST_PROFILE" "${functions[@]}" <<'PY'
import json, os, sys
path, zip_goal, init_goal, samples, host_profile, *functions = sys.argv[1:]
zip_goal, init_goal = float(zip_goal), float(init_goal)
init = {}
with open(path) as f:
    for line in f:
        r = json.loads(line)
        init[r["function"]] = r
MB = 1024 * 1024
def size(p):
    return os.path.getsize(p) / MB if os.path.exists(p) else None
fmt = lambda v, d=2: "n/a" if v is None else f"{v:.{d}f}"
print()
print(f"Cold start, {samples} samples per function (median), init timed on the x86_64 '{host_profile}' build; "
      f"binary and zip: arm64 release; MB = 2^20 bytes; goals: zip <= {zip_goal:g} MB, init <= {init_goal:g} ms")
print()
print("| function | binary MB | zip MB (arm64) | init ms median | warm invoke ms | first answer ms | /next ms | cli invoke ms | answer | goals |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
for fn in functions:
    b = size(f"target/aarch64-unknown-linux-gnu/release/{fn}")
    z = size(f"target/lambda/{fn}/bootstrap.zip")
    r = init.get(fn, {})
    i = r.get("init_ms")
    over = []
    if z is None or z > zip_goal: over.append("zip")
    if i is None or i > init_goal: over.append("init")
    print(f"| {fn} | {fmt(b)} | {fmt(z)} | {fmt(i, 1)} | {fmt(r.get('warm_ms'), 2)} | "
          f"{fmt(r.get('first_ms'), 1)} | {fmt(r.get('next_ms'), 1)} | {fmt(r.get('cli_ms'), 1)} | {r.get('answer', 'n/a')} | "
          f"{'ok' if not over else 'OVER: ' + ', '.join(over)} |")
PY
phase_done "total" "$t_all"
echo
echo "Phases:"
printf '  %s\n' "${phases[@]}"
echo
echo "Load average (1 min) before/after the init measurement: $load_before / $load_after on $(nproc) cores"
echo "(the init figures are wall-clock: other work on the machine inflates them)"
echo "Command: make bench-coldstart (bash infra/local/bench/coldstart.sh; COLDSTART_SAMPLES=$SAMPLES COLDSTART_HOST_PROFILE=$HOST_PROFILE)"
