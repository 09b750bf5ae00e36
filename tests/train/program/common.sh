# Shared by the dgc-train fault scripts: a short DGC run at np 2 on the synthetic dataset (a
# sparsity warm-up epoch at ratio 0.1, then 99.9%), so that the ranks' exchange layouts differ
# between epochs 1 and 2, as in the runs where resume used to go wrong.
#   source common.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
mpiexec=$1 train=$2 configs=$3
work=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
fail() { echo "$(basename "$0"): FAIL: $*"; exit 1; }

# run RUNS_DIR EPOCHS [more args]: dgc-train under mpirun -np ${NP:-2}, killed if it hangs.
run() {
  local runs=$1 epochs=$2
  shift 2
  OMP_NUM_THREADS=1 timeout -k 5 "${RUN_TIMEOUT:-300}" "$mpiexec" --allow-run-as-root \
    --oversubscribe -np "${NP:-2}" "$train" \
    --configs "$configs/fmnist/convnet.yaml" "$configs/dgc/wm5.yaml" \
    dataset.name=synthetic train.batch_size=64 train.compression.warmup_epochs=1 \
    "train.compression.warmup_coeff=[0.1]" train.schedule.warmup_lr_epochs=1 \
    logging.progress_bar=false "logging.runs_dir=$runs" "train.num_epochs=$epochs" "$@"
}

# The one run directory under RUNS_DIR.
run_dir() { echo "$1"/*; }

digest() { grep -o "model digest [0-9a-f]*" "$1" || fail "no model digest in $1"; }

# expect_failure LOG MESSAGE: the last command failed (not timed out) and LOG holds MESSAGE.
expect_failure() {
  local rc=$? log=$1 message=$2
  [ "$rc" -ne 0 ] || { cat "$log"; fail "the run succeeded; expected: $message"; }
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || { cat "$log"; fail "the run hung; expected: $message"; }
  grep -qF -- "$message" "$log" || { cat "$log"; fail "no '$message' in the output"; }
}

# The processes started by PID, all generations; those named dgc-train are the job's ranks.
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do echo "$p"; descendants "$p"; done; }
ranks_of() { local p; for p in $(descendants "$1"); do [ "$(ps -o comm= -p "$p")" = dgc-train ] && echo "$p"; done; }

# wait_for LOG PATTERN: until LOG holds PATTERN (60 s at most).
wait_for() {
  for _ in $(seq 600); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1"; fail "no '$2' in $1 after 60 s"
}
