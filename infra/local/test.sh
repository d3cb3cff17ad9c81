#!/usr/bin/env bash
# The test suite, twice, each on a private stack (free ports) torn down afterwards:
#   1. everything on the plain stack (one Redis node, no TLS);
#   2. the scenarios that touch Redis and MySQL again on the shape we deploy: a Redis
#      Cluster of 6 nodes (3 primaries, 3 replicas) and MariaDB, both TLS-only with
#      verified certificates (infra/local/stack.sh, STACK_SHAPE=production).
# Non-zero if either fails. Extra arguments go to the first `cargo test`.
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
rm -rf .local/reports
# The shape switches (infra/local/stack.sh) are cleared, so a sourced stack.env of a dev
# stack cannot change which shapes the suite runs on.
plain=(env -u STACK_SHAPE -u REDIS_TOPOLOGY -u REDIS_TLS -u MYSQL_TLS)
"${plain[@]}" bash infra/local/with-stack.sh cargo test --workspace --locked --no-fail-fast "$@" || status=1
# View counting, listing, flush, loss recovery, rate limits, Redis faults (and, with them,
# signup and login over TLS MySQL).
# `--workspace` (not `-p`): the same feature set as the first run, so nothing is rebuilt.
"${plain[@]}" STACK_SHAPE=production bash infra/local/with-stack.sh \
  cargo test --workspace --test scenarios --locked --no-fail-fast -- \
  view_counting listing flush redis_ auth:: profile_edit --skip redis_stall || status=1
for report in .local/reports/redis-failover-*.txt; do
  [ -f "$report" ] && { echo; cat "$report"; }
done
exit $status
