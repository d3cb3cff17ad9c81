#!/usr/bin/env bash
# `make test`: every stage, one timing line each (infra/ci/timed.sh).
#
# Two stages start first and run beside the suite:
# - the arm64 release build of every function (~17 min of both cores, mostly fat-LTO
#   links), at the lowest CPU priority. The suite, the fuzzer and the browser journey
#   spend much of their time waiting on their servers' round trips; the build takes the
#   cores they leave idle, and they get the CPU back whenever they want it. It writes its
#   own directories (target/aarch64-unknown-linux-gnu, target/release, target/lambda),
#   so it never waits on the suite's cargo lock (target/debug);
# - the template checks (mostly installing SAM CLI and cfn-lint).
# Each one's output is printed, and its status counted, where the run waits for it; the
# smoke run needs the build. Whatever ends the run early stops both.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mkdir -p .local/stages
timed=infra/ci/timed.sh
started=()

# start NAME NICENESS COMMAND…: runs COMMAND in a session of its own (so its whole tree,
# cargo and rustc included, can be stopped), output to .local/stages/NAME.log. A new
# session is also a new scheduling group where the kernel groups by session (autogroup):
# groups share the CPU equally whatever their processes' nice values, so the group itself
# is given the niceness too (without autogroup the file is absent and `nice` suffices).
start() {
  local name=$1 niceness=$2
  shift 2
  rm -f ".local/stages/$name.status"
  setsid nice -n "$niceness" bash -c \
    'echo "$3" >/proc/self/autogroup 2>/dev/null; "${@:4}" >"$1" 2>&1; echo $? >"$2"' _ \
    ".local/stages/$name.log" ".local/stages/$name.status" "$niceness" "$@" &
  started+=($!)
}

# await NAME LABEL: waits for a started stage, prints its output, records its time spent
# waiting under LABEL, and fails the run if the stage failed.
await() {
  # shellcheck disable=SC2016
  bash $timed "$2" bash -c 'while [ ! -f "$1.status" ]; do sleep 2; done; cat "$1.log"; exit "$(cat "$1.status")"' \
    _ ".local/stages/$1"
}

stop_started() {
  for session in "${started[@]}"; do kill -- "-$session" 2>/dev/null || true; done
}
trap stop_started EXIT

bash $timed --reset
start arm64-build 19 bash infra/ci/build-arm64.sh
start template-checks 0 bash infra/ci/check-template.sh
bash $timed "suite (plain + production)" bash infra/local/test.sh
await template-checks "template checks (rest)"
FUZZ_MAX_EXAMPLES=20 bash $timed "API fuzzing" bash infra/local/fuzz-api.sh
bash $timed "browser journey (Chromium)" bash infra/local/browser-test.sh
await arm64-build "arm64 build (rest)"
bash $timed "smoke run (Lambda emulator)" bash infra/ci/smoke.sh
bash $timed --report
