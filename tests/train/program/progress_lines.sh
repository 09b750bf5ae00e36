#!/usr/bin/env bash
# dgc-train's progress output under mpirun (issue 11). Open MPI gives each rank a pty even when
# mpirun's own output goes to a file, so a rank's isatty(stdout) says nothing about the user's
# terminal. 1. mpirun's stdout is a file: the log must be plain lines (no carriage return at all)
# with the progress lines of the epoch each on its own line. 2. mpirun's stdout is a terminal
# (script(1) gives it a pty): the progress line must be redrawn in place, one "\repoch 1/1  step"
# per step. The training is one short epoch on the synthetic dataset.
#   progress_lines.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
set -euo pipefail
mpiexec=$1 train=$2 configs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "progress_lines: FAIL: $*"; exit 1; }

args=(--allow-run-as-root --oversubscribe -np 2 "$train" --configs "$configs/fmnist/convnet.yaml"
      dataset.name=synthetic train.num_epochs=1 train.schedule.warmup_lr_epochs=0
      train.batch_size=64 logging.progress_bar=true)

# Whether this launcher gives ranks a pty: if not, case 1 passes without exercising the fix.
if "$mpiexec" --allow-run-as-root -np 1 bash -c 'test -t 1' > /dev/null 2>&1; then
  echo "progress_lines: the ranks' stdout is a terminal under this mpirun"
else
  echo "progress_lines: note: the ranks' stdout is not a terminal under this mpirun"
fi

# 1. A log file.
OMP_NUM_THREADS=1 "$mpiexec" "${args[@]}" "logging.runs_dir=$work/file" > "$work/file.log" 2>&1 ||
  { cat "$work/file.log"; fail "the run to a file failed"; }
if grep -q $'\r' "$work/file.log"; then
  od -c "$work/file.log" | grep -m 3 '\\r' || true
  fail "the log file has carriage returns"
fi
lines=$(grep -c "^epoch 1/1  step [0-9]*/[0-9]*  loss " "$work/file.log" || true)
[ "$lines" -ge 5 ] ||
  { cat "$work/file.log"; fail "$lines progress lines in the log file, expected >= 5"; }
grep -q "^epoch 1/1  step \([0-9]*\)/\1  loss " "$work/file.log" ||
  fail "no line for the epoch's last step"
echo "progress_lines: a log file gets $lines plain progress lines"

# 2. A terminal. script(1) runs mpirun on a pty and copies what it shows to its own stdout (the
# pty turns each "\n" into "\r\n", so a redraw is a "\r" followed directly by the text).
if ! command -v script > /dev/null; then
  echo "progress_lines: script(1) not found (bsdutils): the terminal case is skipped"
  exit 0
fi
command=$(printf '%q ' env OMP_NUM_THREADS=1 "$mpiexec" "${args[@]}" "logging.runs_dir=$work/tty")
script -qec "$command" /dev/null < /dev/null > "$work/tty.log" 2>&1 ||
  { cat "$work/tty.log"; fail "the run on a terminal failed"; }
redraws=$(grep -o $'\repoch 1/1  step' "$work/tty.log" | wc -l)
[ "$redraws" -ge 5 ] ||
  { cat -A "$work/tty.log" | tail -20; fail "$redraws redraws on a terminal, expected >= 5"; }
echo "progress_lines: a terminal gets $redraws redraws"
echo "progress_lines: ok"
