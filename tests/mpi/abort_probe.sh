#!/usr/bin/env bash
# Runs one failing scenario of dgc-mpi-probe at np 2 (rank 1 fails while rank 0 waits in a
# collective): the whole job must end soon, with the expected exit code (mpirun returns the code
# given to MPI_Abort), the rank-tagged message on stderr, and no rank getting past the collective.
#   abort_probe.sh MPIEXEC PROBE MODE CODE MESSAGE
set -uo pipefail
mpiexec=$1 probe=$2 mode=$3 code=$4 message=$5
start=$SECONDS
output=$(timeout -k 5 60 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$probe" "$mode" 2>&1)
rc=$?
printf '%s\n' "$output"
echo "abort_probe: mpirun exited with $rc after $((SECONDS - start)) s"
fail() { echo "abort_probe: FAIL: $*"; exit 1; }
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "the job was still running after 60 s"
[ "$rc" -eq "$code" ] || fail "the job exited $rc, not $code"
grep -qF "$message" <<<"$output" || fail "no message '$message'"
! grep -qE "passed the barrier|finished the step" <<<"$output" || fail "a rank went on"
echo "abort_probe: ok"
