#!/usr/bin/env bash
# End-to-end step times of dgc-train on the emulated cluster (issue 15), as root: for every
# layout (hosts x ranks per host), link rate and exchange, a short training on synthetic data of
# the model's input shape, over bench/cluster/cluster.sh; one CSV row per epoch with the median
# step time (dgc-train's time/step_ms), images per second at that median, the bytes a rank sent
# and received, the mean of the epoch's steps after its first (time/step_mean_ms) and, for
# dgc_auto, the schemes it took in that epoch (from its log).
#
#   bench/cluster/e2e.sh [--bin DIR] [--out DIR] [--model convnet|resnet20] [--layouts 2x1,4x1,2x2]
#                        [--rates 10gbit,1gbit,100mbit,10mbit] [--exchanges LIST] [--steps S]
#                        [--slow-steps S]
#                        [--mca NAME VALUE]... [--delay DELAY] [--queue BYTES] [--compute-cpus LIST]
#                        [--variant NAME -- DGC_TRAIN_SETTINGS...]
# --variant runs every point with the dgc-train settings after -- as well (for example
# distributed.bucket_mb=1 distributed.wait=sleep), and names them in the CSV's variant column
# ("default" without). --mca passes an Open MPI parameter to mpirun (for example
# btl_tcp_eager_limit 8388608), --delay a link delay to cluster.sh (one way per link, for example
# 5ms) and --queue its links' queue in bytes. --compute-cpus runs every rank under taskset -c LIST
# (for example 0), so that its threads run on those cores only, except a communication thread
# pinned elsewhere with distributed.comm_thread_cpus (docs/PERFORMANCE.md, "Overlap where a core is
# free"). Name such runs with --variant too.
#
# Each run has S steps per epoch (--steps, default 6), except the dense exchanges and PowerSGD
# below 100 Mbit/s (--slow-steps, default 3: there the convnet's dense step takes seconds). The
# DGC exchanges run the 8-epoch recipe's warm-up (configs/dgc/wm2.yaml) for 3 epochs, so that the
# rows give the step time at each of its ratios (0.1, 0.01, then 0.001 to the end); PowerSGD runs
# 2 epochs, the first dense as in the recipe (start_iter = one epoch); the dense exchanges run
# one. With these, a run's time to an accuracy is the sum over its epochs of the steps times the
# step time at that epoch's setting (scripts/dgc-scaling). dgc_hierarchical runs only where a host
# has more than one rank (with one rank per host it is dgc). Writes DIR/steps.csv (appending, so
# that runs can be split; the header once) and every run's output to DIR/logs/ (a point run again
# into the same DIR gets NAME.2.log, NAME.3.log, ..., so that every repeat's steps stay readable).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=build/bin out=runs/e2e model=convnet layouts=2x1,4x1,2x2 rates=10gbit,1gbit,100mbit,10mbit
exchanges=allreduce,fp16,bf16,powersgd,dgc,dgc_hierarchical,dgc_reduce_scatter,dgc_auto
steps=6 slow_steps=3
variant=default variant_args=() mca_args=() link_args=() compute_prefix=
while [[ $# -gt 0 ]]; do
  case $1 in
    --variant) variant=$2; shift 2
      [[ ${1:-} == -- ]] || { echo "e2e.sh: --variant NAME needs -- and the settings after it" >&2; exit 2; }
      shift; variant_args=("$@"); set -- ;;
    --bin) bin=$2; shift 2 ;;
    --mca) [[ $# -ge 3 && $2 =~ ^[a-z0-9_]+$ && $3 =~ ^[A-Za-z0-9_.,:-]+$ ]] ||
             { echo "e2e.sh: --mca needs a parameter name and a value, got '${2:-}' '${3:-}'" >&2; exit 2; }
           mca_args+=(--mca "$2" "$3"); shift 3 ;;
    --delay) [[ $# -ge 2 ]] || { echo "e2e.sh: --delay needs a value" >&2; exit 2; }
             link_args+=(--delay "$2"); shift 2 ;;
    --queue) [[ $# -ge 2 ]] || { echo "e2e.sh: --queue needs a value" >&2; exit 2; }
             link_args+=(--queue "$2"); shift 2 ;;
    --compute-cpus) [[ ${2:-} =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
                      { echo "e2e.sh: --compute-cpus needs a list of cores such as 0 or 0,2-3, got '${2:-}'" >&2; exit 2; }
                    compute_prefix="taskset -c $2"; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --layouts) layouts=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --exchanges) exchanges=$2; shift 2 ;;
    --steps | --slow-steps)
      [[ ${2:-} =~ ^[0-9]+$ && $2 -ge 3 ]] || { echo "e2e.sh: $1 must be a number >= 3, got '${2:-}'" >&2; exit 2; }
      if [[ $1 == --steps ]]; then steps=$2; else slow_steps=$2; fi
      shift 2 ;;
    *) echo "e2e.sh: unknown option $1 (see the header for usage)" >&2; exit 2 ;;
  esac
done
[[ -x $bin/dgc-train ]] || { echo "e2e.sh: $bin/dgc-train not found; build it first (make build)" >&2; exit 1; }
case $model in
  convnet) model_config=configs/fmnist/convnet.yaml ;;
  resnet20) model_config=configs/fmnist/resnet20.yaml ;;
  *) echo "e2e.sh: --model must be convnet or resnet20, got $model" >&2; exit 2 ;;
esac
bin=$(cd "$bin" && pwd)
mkdir -p "$out/logs"
csv=$out/steps.csv
header=model,layout,hosts,ranks_per_host,np,rate,exchange,variant,epoch,setting,step_ms,images_per_s,bytes_sent,bytes_received,step_mean_ms,auto_schemes
if [[ -s $csv ]]; then
  [[ $(head -1 "$csv") == "$header" ]] ||
    { echo "e2e.sh: $csv has other columns than this e2e.sh writes ($header); use another --out" >&2; exit 2; }
else
  echo "$header" > "$csv"
fi

batch=128  # per rank: configs/fmnist/default.yaml

source "$here/../link_rate.sh"
# rate_mbit RATE: the rate in whole Mbit/s, to compare with 100.
rate_mbit() {
  local bits
  bits=$(rate_bits "$1") || { echo "e2e.sh: rates must look like 10mbit or 1gbit, got $1" >&2; exit 2; }
  echo $((bits / 1000000))
}

# auto_schemes LOG: dgc_auto's schemes per epoch, one line each, from the block dgc-train prints
# after every epoch ("bucket N: SCHEME (...)" per bucket): the buckets' schemes joined by "+",
# each once, in the order they first appear (for example "allgather" or "reduce_scatter+allgather").
auto_schemes() {
  awk '/^=> dgc_auto.s schemes/ { e++; in_block = 1; next }
       in_block && /^bucket [0-9]+: [a-z_]+ / {
         if (index("+" s[e] "+", "+" $3 "+") == 0) s[e] = s[e] (s[e] == "" ? "" : "+") $3
         next
       }
       { in_block = 0 }
       END { for (i = 1; i <= e; i++) print s[i] }' "$1"
}

# run LAYOUT RATE EXCHANGE: one training on the cluster, its rows appended to the CSV.
run() {
  local layout=$1 rate=$2 exchange=$3
  local hosts=${layout%x*} per_host=${layout#*x}
  local np=$((hosts * per_host)) epochs=1 s=$steps setting args=()
  case $exchange in
    allreduce | fp16 | bf16 | powersgd)
      (($(rate_mbit "$rate") < 100)) && s=$slow_steps
      args=(train.exchange=$exchange)
      [[ $exchange == powersgd ]] &&
        epochs=2 args+=(train.powersgd.rank=4 train.powersgd.start_iter=$s) ;;
    dgc | dgc_hierarchical | dgc_reduce_scatter | dgc_auto)
      epochs=3
      args=(--configs configs/dgc/wm2.yaml train.exchange=$exchange) ;;
    *) echo "e2e.sh: unknown exchange $exchange" >&2; exit 2 ;;
  esac
  local name="$model.$layout.$rate.$exchange.$variant" run_dir log repeat=2
  log=$out/logs/$name.log
  while [[ -e $log ]]; do log=$out/logs/$name.$((repeat++)).log; done
  run_dir=$(mktemp -d "/tmp/dgc-e2e.XXXXXX")
  echo "e2e.sh: $name ($epochs epoch(s) of $s steps)" >&2
  if ! "$here/cluster.sh" --hosts "$hosts" --ranks "$per_host" --rate "$rate" "${link_args[@]}" -- \
      bash -c "\$DGC_CLUSTER_MPIRUN -x OMP_NUM_THREADS=1 ${mca_args[*]} $compute_prefix $bin/dgc-train --configs $model_config \
        ${args[*]} dataset.name=synthetic dataset.synthetic_train_size=$((s * batch * np)) \
        dataset.synthetic_test_size=$((batch * np)) train.num_epochs=$epochs \
        train.schedule.warmup_lr_epochs=0 logging.runs_dir=$run_dir logging.progress_bar=false \
        ${variant_args[*]}" \
      > "$log" 2>&1; then
    echo "e2e.sh: $name failed; see $log" >&2
    rm -rf "$run_dir"
    return 1
  fi
  local metrics schemes=
  metrics=$(find "$run_dir" -name metrics.csv | head -1)
  [[ $exchange == dgc_auto ]] && schemes=$(auto_schemes "$log" | paste -sd ,)
  # One row per epoch: time/step_ms is logged at the epoch's end (at its inputs_seen step); the
  # traffic of the epoch's last step, and its compression ratio or exchange, name its setting.
  awk -F, -v m="$model" -v l="$layout" -v h="$hosts" -v r="$per_host" -v np="$np" -v rate="$rate" \
      -v x="$exchange" -v variant="$variant" -v per_epoch=$((s * batch * np)) \
      -v images=$((batch * np)) -v schemes="$schemes" '
    NR > 1 {
      e = int(($1 - 1) / per_epoch) + 1
      if ($2 == "time/step_ms") ms[e] = $3
      if ($2 == "time/step_mean_ms") mean[e] = $3
      if ($2 == "traffic/bytes_sent") sent[e] = $3
      if ($2 == "traffic/bytes_received") received[e] = $3
      if ($2 == "dgc/compress_ratio") ratio[e] = $3
      if (e > last) last = e
    }
    END {
      split(schemes, scheme, ",")
      for (e = 1; e <= last; e++) {
        if (!(e in ms)) continue
        setting = (e in ratio) ? "ratio " ratio[e] : (x == "powersgd" && e > 1 ? "rank 4" : "dense")
        printf "%s,%s,%s,%s,%s,%s,%s,%s,%d,%s,%.1f,%.1f,%s,%s,%.1f,%s\n", m, l, h, r, np, rate, x, variant,
          e, setting, ms[e], images / (ms[e] / 1000), sent[e], received[e], mean[e], scheme[e]
      }
    }' "$metrics" | tee -a "$csv"
  rm -rf "$run_dir"
}

IFS=, read -ra layout_list <<< "$layouts"
IFS=, read -ra rate_list <<< "$rates"
IFS=, read -ra exchange_list <<< "$exchanges"
status=0
for layout in "${layout_list[@]}"; do
  [[ $layout =~ ^[0-9]+x[0-9]+$ ]] || { echo "e2e.sh: layouts look like 4x1 (hosts x ranks), got $layout" >&2; exit 2; }
  for rate in "${rate_list[@]}"; do
    rate_mbit "$rate" > /dev/null
    for exchange in "${exchange_list[@]}"; do
      [[ $exchange == dgc_hierarchical && ${layout#*x} == 1 ]] && continue
      run "$layout" "$rate" "$exchange" || status=1
    done
  done
done
exit $status
