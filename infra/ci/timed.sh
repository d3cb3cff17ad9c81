#!/usr/bin/env bash
# One stage of CI with its wall time recorded, so the run ends with a line per stage:
#   timed.sh --reset               forget the previous run's stages
#   timed.sh NAME COMMAND [ARG…]   run COMMAND, record NAME, its seconds and exit status
#   timed.sh --report              print the recorded stages and their total
set -uo pipefail
LOG="$(cd "$(dirname "$0")/../.." && pwd)/.local/stage-times"
mkdir -p "$(dirname "$LOG")"
case "${1:-}" in
  --reset) rm -f "$LOG"; exit 0 ;;
  --report)
    [ -f "$LOG" ] || exit 0
    echo
    echo "Stage times:"
    awk -F'|' '{ printf "  %-28s %4d min %02d s%s\n", $1, $2 / 60, $2 % 60, ($3 == 0 ? "" : "  (failed: exit " $3 ")"); total += $2 }
      END { printf "  %-28s %4d min %02d s\n", "total", total / 60, total % 60 }' "$LOG"
    exit 0 ;;
esac
name=$1
shift
started=$(date +%s)
"$@"
status=$?
echo "$name|$(($(date +%s) - started))|$status" >>"$LOG"
exit $status
