#!/usr/bin/env bash
# dgc-plot end to end: usage: test_plot.sh PATH/TO/dgc-plot
# Writes small run directories, runs dgc-plot as acceptance.sh does, and checks the PNG (its exact
# size, and each run's colour drawn in it, read back with Pillow), the printed top-1 summaries, and
# each error: its exit code, its one message, and that --out is left as it was.
set -uo pipefail

plot=${1:?usage: test_plot.sh PATH/TO/dgc-plot}
tool=$plot
source "$(dirname "$0")/common.sh"

# write_run DIR FINAL_TOP1...: a run of one epoch per top-1 value, 1000 inputs an epoch, with ten
# loss/train rows an epoch (falling, with noise) and acc/test_top1 at each epoch's end.
write_run() {
  local dir=$1
  shift
  mkdir -p "$dir"
  {
    echo "step,tag,value"
    local epoch=0
    for top1 in "$@"; do
      for k in 1 2 3 4 5 6 7 8 9 10; do
        echo "$((epoch * 1000 + k * 100)),loss/train,$(((50 - epoch * 5 - k % 3) / 10)).$((k * 7 % 10))"
      done
      epoch=$((epoch + 1))
      echo "$((epoch * 1000)),acc/test_top1,$top1"
    done
  } > "$dir/metrics.csv"
}


blue=31,119,180    # tab10's first two colours: the first and second run
orange=255,127,14

# Two runs with the defaults and a title; the best top-1 of the second is not its last.
write_run "$work/[fmnist.convnet].e4.np4" 50 62.5 70 71.25
write_run "$work/[fmnist.convnet+dgc.wm2].e4.np4" 55 66 72.5 72.25
out="$work/curves.png"
run --out "$out" "$work/[fmnist.convnet].e4.np4" "$work/[fmnist.convnet+dgc.wm2].e4.np4/" \
  --title "dense against DGC"
expect_eq "exit code" "$rc" 0
expect_eq "stderr" "$(cat "$work/stderr")" ""
expect_eq "summary" "$(cat "$work/stdout")" \
  "[fmnist.convnet].e4.np4: top-1 final 71.25%, best 71.25% -> $out
[fmnist.convnet+dgc.wm2].e4.np4: top-1 final 72.25%, best 72.50% -> $out"
png_check "$out" 1200 500 "$blue" "$orange" || fail "the default figure"
expect_eq "temporary files left" "$(temporary_files)" 0

# Labels and size from the command line, options among the run directories; a resumed run logs
# an epoch's test row again, and the last row of a (tag, step) wins.
write_run "$work/a" 70 72
write_run "$work/b" 60 61
echo "2000,acc/test_top1,59.5" >> "$work/b/metrics.csv"
small="$work/small.png"
run --label dense --width 640 --label dgc "$work/a" "$work/b" --height 300 --out "$small"
expect_eq "exit code with labels" "$rc" 0
expect_eq "summary with labels" "$(cat "$work/stdout")" \
  "dense: top-1 final 72.00%, best 72.00% -> $small
dgc: top-1 final 59.50%, best 60.00% -> $small"
png_check "$small" 640 300 "$blue" "$orange" || fail "the 640x300 figure"
# One run only: the second run's colour must be absent (so the colour check can fail).
one="$work/one.png"
run --out "$one" "$work/a" --width 200 --height 200
expect_eq "exit code of the smallest figure" "$rc" 0
png_check "$one" 200 200 "$blue" > /dev/null || fail "the 200x200 figure"
png_check "$one" 200 200 "$orange" > /dev/null && fail "a run's colour drawn without the run"
run --help
expect_eq "--help exit code" "$rc" 0
grep -q "^usage: dgc-plot --out PNG" "$work/stdout" || fail "--help prints no usage"

# Errors: exit code and the first stderr line, nothing on stdout, no --out and no temporary file.
good="$work/a"
mkdir -p "$work/bad_row" "$work/bad_header" "$work/no_loss" "$work/no_top1" "$work/no_csv" \
  "$work/fields" "$work/at_zero"
printf 'step,tag,value\n100,loss/train,2\n200,lr,x\n' > "$work/bad_row/metrics.csv"
printf 'tag,value\n' > "$work/bad_header/metrics.csv"
printf 'step,tag,value\n1000,acc/test_top1,50\n' > "$work/no_loss/metrics.csv"
printf 'step,tag,value\n100,loss/train,2\n' > "$work/no_top1/metrics.csv"
printf 'step,tag,value\n100,loss/train,2\n100,"a\nb",1\n1x,lr,1\n' > "$work/fields/metrics.csv"
printf 'step,tag,value\n0,acc/test_top1,10\n100,loss/train,2\n' > "$work/at_zero/metrics.csv"
touch "$work/a_file"
absent="$work/absent"
nowhere="$work/missing/out.png"
errors="$work/errors.png"
check_error() {  # EXIT_CODE MESSAGE ARGS...
  local code=$1 message=$2
  shift 2
  run "$@"
  expect_eq "exit code of [$message]" "$rc" "$code"
  expect_eq "first stderr line" "$(head -n 1 "$work/stderr")" "dgc-plot: $message"
  expect_eq "stdout of [$message]" "$(cat "$work/stdout")" ""
  [ ! -e "$errors" ] || fail "[$message] wrote --out"
  expect_eq "temporary files after [$message]" "$(temporary_files)" 0
}
check_error 1 "run directory $absent does not exist" --out "$errors" "$good" "$absent"
check_error 1 "run directory $work/a_file is not a directory" --out "$errors" "$work/a_file"
check_error 1 "cannot open $work/no_csv/metrics.csv: No such file or directory" \
  --out "$errors" "$work/no_csv"
check_error 1 "$work/bad_header/metrics.csv:1: the first line is not the header step,tag,value" \
  --out "$errors" "$work/bad_header"
check_error 1 "$work/bad_row/metrics.csv:3: bad value 'x'" --out "$errors" "$good" "$work/bad_row"
check_error 1 "$work/fields/metrics.csv:5: bad step '1x'" --out "$errors" "$work/fields"
check_error 1 "$work/no_loss/metrics.csv: no loss/train rows" --out "$errors" "$work/no_loss"
check_error 1 "$work/no_top1/metrics.csv: no acc/test_top1 rows" --out "$errors" "$work/no_top1"
check_error 1 "$work/at_zero/metrics.csv: the first acc/test_top1 row is at step 0, so an epoch's length is unknown" \
  --out "$errors" "$work/at_zero"
check_error 1 \
  "cannot write $nowhere: cannot create a temporary file in $work/missing: No such file or directory" \
  --out "$nowhere" "$good"
check_error 2 "unknown option --colour" --out "$errors" "$good" --colour red
check_error 2 "missing --out PNG" "$good"
check_error 2 "no run directory given" --out "$errors"
check_error 2 "--label given 1 times for 2 run directories" --out "$errors" "$good" "$good" --label x
check_error 2 "--width 199 is outside 200..8000" --out "$errors" "$good" --width 199
check_error 2 "--height 8001 is outside 200..8000" --out "$errors" "$good" --height 8001
check_error 2 "--width needs a whole number of pixels, got '12px'" --out "$errors" "$good" --width 12px
check_error 2 "--title needs a value" --out "$errors" "$good" --title

# What is at --out survives a failed run, whether the inputs or the write fail.
cp "$out" "$errors"
run --out "$errors" "$good" "$work/bad_row"
expect_eq "exit code over an earlier figure" "$rc" 1
cmp -s "$out" "$errors" || fail "a failed run changed the earlier figure at --out"
expect_rename_error dgc-plot "$good"
report dgc-plot
