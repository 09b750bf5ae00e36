#!/usr/bin/env bash
# Runs one stall scenario of dgc-mpi-probe under mpirun and checks how the job ended and what it
# printed. The only time limit is a generous one that turns a hang into a failure.
#   stall_probe.sh MPIEXEC PROBE NP MODE CODE [PATTERN...]
# CODE: the exit code mpirun must return, or "nonzero". PATTERN: +REGEX must match a line of the
# output (stdout and stderr together), -REGEX must match none (grep -E).
# DGC_STALL_CHECK_TIME_SECONDS and DGC_STALL_SHUTDOWN_TIME_SECONDS are passed on where set.
set -uo pipefail
mpiexec=$1 probe=$2 np=$3 mode=$4 code=$5
shift 5
env_args=()
for name in DGC_STALL_CHECK_TIME_SECONDS DGC_STALL_SHUTDOWN_TIME_SECONDS; do
  [ -n "${!name-}" ] && env_args+=(-x "$name")
done
start=$SECONDS
output=$(timeout -k 5 60 "$mpiexec" --allow-run-as-root --oversubscribe "${env_args[@]}" -np "$np" \
  "$probe" "$mode" 2>&1)
rc=$?
printf '%s\n' "$output"
echo "stall_probe: mpirun exited with $rc after $((SECONDS - start)) s"
fail() { echo "stall_probe: FAIL: $*"; exit 1; }
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "the job was still running after 60 s"
if [ "$code" = nonzero ]; then
  [ "$rc" -ne 0 ] || fail "the job exited 0"
else
  [ "$rc" -eq "$code" ] || fail "the job exited $rc, not $code"
fi
for pattern in "$@"; do
  case $pattern in
    +*) grep -qE -- "${pattern:1}" <<<"$output" || fail "no line matches '${pattern:1}'" ;;
    -*) ! grep -qE -- "${pattern:1}" <<<"$output" || fail "a line matches '${pattern:1}'" ;;
    *) fail "a pattern must start with + or -: '$pattern'" ;;
  esac
done
echo "stall_probe: ok"
