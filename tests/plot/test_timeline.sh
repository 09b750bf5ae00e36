#!/usr/bin/env bash
# dgc-timeline end to end: usage: test_timeline.sh PATH/TO/dgc-timeline
# Writes small Chrome traces, runs dgc-timeline on them, and checks the PNG (its exact size, and
# the colours of the spans drawn in it, read back with Pillow), the per-lane summary lines, the
# --steps window, a trace cut short before its closing ']', and each error: its exit code, its
# one message, and that a file already at --out is left byte for byte as it was.
set -uo pipefail

timeline=${1:?usage: test_timeline.sh PATH/TO/dgc-timeline}
tool=$timeline
source "$(dirname "$0")/common.sh"


# The fixed colours of dgc-timeline's NAME_COLOURS and MPI_COLOURS, and its first two fallbacks.
compress=214,39,40      # #d62728
bucket=148,103,189      # #9467bd
allgatherv=192,120,80   # #c07850, MPI_Allgatherv
first_other=174,199,232   # #aec7e8: the first other name drawn, alphabetically
second_other=255,187,120  # #ffbb78: the second

# One step of rank 0 with metadata, as the brief of the format shows it (times in microseconds).
trace="$work/step.json"
cat > "$trace" << 'EOF'
[
{"name":"process_name","ph":"M","pid":0,"args":{"name":"rank 0"}},
{"name":"thread_name","ph":"M","pid":0,"tid":0,"args":{"name":"main"}},
{"name":"thread_name","ph":"M","pid":0,"tid":1,"args":{"name":"communication"}},
{"name":"step","cat":"train","ph":"X","ts":1000.0,"dur":350.0,"pid":0,"tid":0,"args":{"step":0}},
{"name":"forward","cat":"train","ph":"X","ts":1001.0,"dur":50.0,"pid":0,"tid":0},
{"name":"backward","cat":"train","ph":"X","ts":1052.0,"dur":120.0,"pid":0,"tid":0},
{"name":"bucket","cat":"exchange","ph":"X","ts":1100.0,"dur":200.0,"pid":0,"tid":1,"args":{"bucket":1}},
{"name":"compress","cat":"dgc","ph":"X","ts":1101.0,"dur":30.0,"pid":0,"tid":1,"args":{"bucket":1}},
{"name":"MPI_Allgatherv","cat":"mpi","ph":"X","ts":1132.0,"dur":160.0,"pid":0,"tid":1},
{"name":"flow","ph":"s","ts":1133.0,"pid":0,"tid":1,"id":7},
{"name":"wait","cat":"exchange","ph":"X","ts":1173.0,"dur":130.0,"pid":0,"tid":0},
{"name":"finish","cat":"exchange","ph":"X","ts":1304.0,"dur":20.0,"pid":0,"tid":0,"args":{"bucket":1}},
{"name":"decode","cat":"dgc","ph":"X","ts":1305.0,"dur":18.0,"pid":0,"tid":0,"args":{"bucket":1}},
{"name":"optimizer","cat":"train","ph":"X","ts":1325.0,"dur":25.0,"pid":0,"tid":0}
]
EOF
step_summary="rank 0 / main: 7 spans; top names by total ms: step 0.350, wait 0.130, backward 0.120, forward 0.050, optimizer 0.025
rank 0 / communication: 3 spans; top names by total ms: bucket 0.200, MPI_Allgatherv 0.160, compress 0.030"
out="$work/timeline.png"
run --out "$out" "$trace" --title "one step"
expect_eq "exit code" "$rc" 0
expect_eq "stderr" "$(cat "$work/stderr")" ""
expect_eq "summary (the flow event, ph s, ignored)" "$(cat "$work/stdout")" "$step_summary"
png_check "$out" 1400 600 "$compress" "$bucket" "$allgatherv" || fail "the default figure"
expect_eq "temporary files left" "$(temporary_files)" 0

# A process that died: no closing ']', a comma after the last event; and without the comma.
head -n -1 "$trace" > "$work/cut_comma.json"
sed -i '$ s/$/,/' "$work/cut_comma.json"
head -n -1 "$trace" > "$work/cut.json"
for cut in cut_comma cut; do
  run --out "$work/$cut.png" "$work/$cut.json"
  expect_eq "exit code of $cut.json" "$rc" 0
  expect_eq "summary of $cut.json" "$(cat "$work/stdout")" "$step_summary"
  png_check "$work/$cut.png" 1400 600 "$compress" "$bucket" "$allgatherv" || fail "$cut.json"
done

# Three steps of 900 us every 1000 us, no process names (the lanes fall back to "pid N"), the
# communication thread named. Step 0 also has a "flush" that runs 100 us into step 1, and an
# "idle" that ends exactly where step 1 starts: --steps 1:1 draws the part of the first inside
# its window and not the second.
steps="$work/steps.json"
span() {  # NAME TS DUR TID [ARGS]: one X event line of pid 0, with its comma
  echo "{\"name\":\"$1\",\"ph\":\"X\",\"ts\":$2,\"dur\":$3,\"pid\":0,\"tid\":$4${5:+,\"args\":$5}},"
}
{
  echo '['
  echo '{"name":"thread_name","ph":"M","pid":0,"tid":1,"args":{"name":"communication"}},'
  for k in 0 1 2; do
    t=$((1000 + k * 1000))
    span step $t 900 0 "{\"step\":$k}"
    span forward $t 200 0
    span backward $((t + 200)) 300 0
    span bucket $((t + 300)) 400 1 "{\"bucket\":$k}"
    span compress $((t + 300)) 100 1
    span MPI_Allgatherv $((t + 400)) 300 1
    span wait $((t + 500)) 300 0
    span optimizer $((t + 800)) 100 0
  done
  span flush 1700 400 1
  span idle 1900 100 1 | sed 's/,$//'
  echo ']'
} > "$steps"
run --out "$work/all.png" "$steps" --width 640 --height 300
expect_eq "exit code of the three steps" "$rc" 0
expect_eq "summary of the three steps" "$(cat "$work/stdout")" \
  "pid 0 / tid 0: 15 spans; top names by total ms: step 2.700, backward 0.900, wait 0.900, forward 0.600, optimizer 0.300
pid 0 / communication: 11 spans; top names by total ms: bucket 1.200, MPI_Allgatherv 0.900, flush 0.400, compress 0.300, idle 0.100"
png_check "$work/all.png" 640 300 "$compress" "$first_other" "$second_other" ||
  fail "the 640x300 figure of three steps"
run --out "$work/step1.png" "$steps" --steps 1:1
expect_eq "exit code of --steps 1:1" "$rc" 0
expect_eq "summary of --steps 1:1" "$(cat "$work/stdout")" \
  "pid 0 / tid 0: 5 spans; top names by total ms: step 0.900, backward 0.300, wait 0.300, forward 0.200, optimizer 0.100
pid 0 / communication: 4 spans; top names by total ms: bucket 0.400, MPI_Allgatherv 0.300, compress 0.100, flush 0.100"
png_check "$work/step1.png" 1400 600 "$bucket" "$first_other" || fail "the figure of --steps 1:1"
# "idle" is not drawn, so no bar and no legend entry of the second fallback colour.
png_check "$work/step1.png" 1400 600 "$second_other" > /dev/null &&
  fail "--steps 1:1 drew the span that only touches its window"
run --out "$work/step12.png" "$steps" --steps 1:2 --width 200 --height 200
expect_eq "exit code of --steps 1:2" "$rc" 0
expect_eq "spans of --steps 1:2" "$(sed 's/;.*//' "$work/stdout")" \
  "pid 0 / tid 0: 10 spans
pid 0 / communication: 7 spans"
png_check "$work/step12.png" 200 200 > /dev/null || fail "the 200x200 figure"
# Only the main thread: no communication colours at all (so the colour checks can fail). Its
# last event keeps its comma before the ']', which is accepted too.
grep -v '"tid":1' "$steps" > "$work/main_only.json"
run --out "$work/main.png" "$work/main_only.json"
expect_eq "exit code of the main thread alone" "$rc" 0
png_check "$work/main.png" 1400 600 "$compress" > /dev/null && fail "compress drawn without spans"
png_check "$work/main.png" 1400 600 "$bucket" > /dev/null && fail "bucket drawn without spans"

# Lanes in pid then tid order whatever the order in the file; a process name without threads'.
cat > "$work/lanes.json" << 'EOF'
[
{"name":"x","ph":"X","ts":5,"dur":10,"pid":1,"tid":0},
{"name":"process_name","ph":"M","pid":1,"args":{"name":"rank 1"}},
{"name":"y","ph":"X","ts":0,"dur":10,"pid":0,"tid":5},
{"name":"z","ph":"X","ts":2,"dur":1,"pid":0,"tid":2},
{"name":"z","ph":"X","ts":4,"dur":2,"pid":0,"tid":2}
]
EOF
run --out "$work/lanes.png" "$work/lanes.json"
expect_eq "exit code of the lanes" "$rc" 0
expect_eq "lane order" "$(cat "$work/stdout")" \
  "pid 0 / tid 2: 2 spans; top names by total ms: z 0.003
pid 0 / tid 5: 1 spans; top names by total ms: y 0.010
rank 1 / tid 0: 1 spans; top names by total ms: x 0.010"

run --help
expect_eq "--help exit code" "$rc" 0
grep -q "^usage: dgc-timeline --out PNG TRACE.json" "$work/stdout" || fail "--help prints no usage"

# Errors: exit code and the first stderr line, nothing on stdout, the figure already at --out
# byte for byte as it was, and no temporary file left.
bad() {  # NAME CONTENT: a trace file $work/NAME.json
  printf '%s\n' "$2" > "$work/$1.json"
}
event() {  # FIELDS: one X event with FIELDS in place of the usual ones
  echo "{\"name\":\"e\",\"ph\":\"X\",$1}"
}
bad invalid "[
$(event '"ts":1,"dur":1,"pid":0,"tid":0'),
{\"ph\":\"X\",}
]"
bad no_comma "[
$(event '"ts":1,"dur":1,"pid":0,"tid":0')
$(event '"ts":2,"dur":1,"pid":0,"tid":0')
]"
bad after_end "[
$(event '"ts":1,"dur":1,"pid":0,"tid":0')
]
x"
bad object '{"traceEvents": []}'
bad empty ''
bad number_event '[1]'
bad no_ts "[
$(event '"dur":1,"pid":0,"tid":0')
]"
bad no_dur "[
$(event '"ts":1,"dur":1,"pid":0,"tid":0'),
$(event '"ts":1,"pid":0,"tid":0')
]"
bad no_pid "[$(event '"ts":1,"dur":1,"tid":0')]"
bad no_tid "[$(event '"ts":1,"dur":1,"pid":0')]"
bad text_dur "[$(event '"ts":1,"dur":"12","pid":0,"tid":0')]"
bad nan_dur "[$(event '"ts":1,"dur":NaN,"pid":0,"tid":0')]"
bad negative_dur "[$(event '"ts":1,"dur":-5,"pid":0,"tid":0')]"
bad text_pid "[$(event '"ts":1,"dur":1,"pid":"a","tid":0')]"
bad no_complete '[{"name":"process_name","ph":"M","pid":0,"args":{"name":"rank 0"}},
{"name":"i","ph":"i","ts":1,"pid":0,"tid":0}]'
bad nothing '[]'
bad thread_name '[{"name":"thread_name","ph":"M","pid":0,"tid":0,"args":{}}]'
printf '[{"name":"\xff","ph":"X"}]\n' > "$work/latin1.json"
absent="$work/absent.json"
nowhere="$work/missing/out.png"
errors="$work/errors.png"
cp "$out" "$work/earlier.png"  # what stands at --out before each failing run
check_error() {  # EXIT_CODE MESSAGE ARGS...
  local code=$1 message=$2
  shift 2
  cp "$work/earlier.png" "$errors"
  run "$@"
  expect_eq "exit code of [$message]" "$rc" "$code"
  expect_eq "first stderr line" "$(head -n 1 "$work/stderr")" "dgc-timeline: $message"
  expect_eq "stdout of [$message]" "$(cat "$work/stdout")" ""
  cmp -s "$work/earlier.png" "$errors" || fail "[$message] changed the file at --out"
  expect_eq "temporary files after [$message]" "$(temporary_files)" 0
}
check_error 1 "cannot open $absent: No such file or directory" --out "$errors" "$absent"
check_error 1 "cannot open $work: Is a directory" --out "$errors" "$work"
check_error 1 "$work/latin1.json: not UTF-8 text" --out "$errors" "$work/latin1.json"
check_error 1 \
  "$work/invalid.json:3: invalid JSON: Expecting property name enclosed in double quotes (column 11)" \
  --out "$errors" "$work/invalid.json"
check_error 1 "$work/no_comma.json:3: invalid JSON: expected ',' or ']' after event 0 (column 1)" \
  --out "$errors" "$work/no_comma.json"
check_error 1 "$work/after_end.json:4: invalid JSON: extra data after the closing ']' (column 1)" \
  --out "$errors" "$work/after_end.json"
check_error 1 "$work/object.json: an object, not a JSON array of trace events" \
  --out "$errors" "$work/object.json"
check_error 1 "$work/empty.json: empty, not a JSON array of trace events" \
  --out "$errors" "$work/empty.json"
check_error 1 "$work/number_event.json:1: event 0: a number, not an object" \
  --out "$errors" "$work/number_event.json"
check_error 1 "$work/no_ts.json:2: event 0: no \"ts\"" --out "$errors" "$work/no_ts.json"
check_error 1 "$work/no_dur.json:3: event 1: no \"dur\"" --out "$errors" "$work/no_dur.json"
check_error 1 "$work/no_pid.json:1: event 0: no \"pid\"" --out "$errors" "$work/no_pid.json"
check_error 1 "$work/no_tid.json:1: event 0: no \"tid\"" --out "$errors" "$work/no_tid.json"
check_error 1 "$work/text_dur.json:1: event 0: \"dur\" is not a number: \"12\"" \
  --out "$errors" "$work/text_dur.json"
check_error 1 "$work/nan_dur.json:1: event 0: \"dur\" is not a number: NaN" \
  --out "$errors" "$work/nan_dur.json"
check_error 1 "$work/negative_dur.json:1: event 0: negative \"dur\" -5" \
  --out "$errors" "$work/negative_dur.json"
check_error 1 "$work/text_pid.json:1: event 0: \"pid\" is not a whole number: \"a\"" \
  --out "$errors" "$work/text_pid.json"
check_error 1 "$work/no_complete.json: no complete (\"ph\":\"X\") events" \
  --out "$errors" "$work/no_complete.json"
check_error 1 "$work/nothing.json: no complete (\"ph\":\"X\") events" \
  --out "$errors" "$work/nothing.json"
check_error 1 "$work/thread_name.json:1: event 0: thread_name metadata without a string \"name\" in \"args\"" \
  --out "$errors" "$work/thread_name.json"
check_error 1 "$steps: --steps 2:3 needs 4 \"step\" spans, pid 0 / tid 0 has 3" \
  --out "$errors" "$steps" --steps 2:3
check_error 1 "$work/lanes.json: --steps 0:0, but the trace has no \"step\" spans" \
  --out "$errors" "$work/lanes.json" --steps 0:0
check_error 1 \
  "cannot write $nowhere: cannot create a temporary file in $work/missing: No such file or directory" \
  --out "$nowhere" "$trace"
check_error 2 "unknown option --colour" --out "$errors" "$trace" --colour red
check_error 2 "missing --out PNG" "$trace"
check_error 2 "no trace file given" --out "$errors"
check_error 2 "one trace file at a time, got 2" --out "$errors" "$trace" "$steps"
check_error 2 "--steps needs FIRST:LAST, two step numbers from 0, got '1-2'" \
  --out "$errors" "$trace" --steps 1-2
check_error 2 "--steps needs FIRST:LAST, two step numbers from 0, got '-1:2'" \
  --out "$errors" "$trace" --steps -1:2
check_error 2 "--steps 2:1: the first step comes after the last" --out "$errors" "$trace" --steps 2:1
check_error 2 "--steps needs a value" --out "$errors" "$trace" --steps
check_error 2 "--width 199 is outside 200..8000" --out "$errors" "$trace" --width 199
check_error 2 "--height 8001 is outside 200..8000" --out "$errors" "$trace" --height 8001
check_error 2 "--width needs a whole number of pixels, got '12px'" --out "$errors" "$trace" --width 12px

# A failed run creates nothing at --out when nothing was there, for input and usage errors alike.
rm -f "$errors"
run --out "$errors" "$work/no_dur.json"
expect_eq "exit code without an earlier file" "$rc" 1
[ ! -e "$errors" ] || fail "a failed run created --out"
run --out "$errors" "$trace" --steps x
expect_eq "usage exit code without an earlier file" "$rc" 2
[ ! -e "$errors" ] || fail "a usage error created --out"
# A directory at --out: the rename fails, and what is inside stays.
expect_rename_error dgc-timeline "$trace"
report dgc-timeline
