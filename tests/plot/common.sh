# Shared by the dgc-plot and dgc-timeline tests, sourced once they set $tool (the program).
python=/usr/bin/python3  # Debian's, which has Pillow (python3-pil)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run ARGS...: the program's exit code in $rc, its stdout and stderr in $work/stdout, $work/stderr.
run() {
  "$tool" "$@" > "$work/stdout" 2> "$work/stderr"
  rc=$?
}

# png_check PNG WIDTH HEIGHT RGB...: the PNG is WIDTH x HEIGHT, has many colours (not blank), and
# holds each RGB ("r,g,b": a run's or a span's colour) exactly somewhere.
png_check() {
  [ -f "$1" ] || { echo "no PNG at $1"; return 1; }
  "$python" - "$@" << 'PY'
import sys
from PIL import Image
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
image = Image.open(path)
image.load()
problems = []
if image.format != "PNG":
    problems.append(f"format {image.format}, not PNG")
if image.size != (width, height):
    problems.append(f"size {image.size[0]}x{image.size[1]}, not {width}x{height}")
colours = set(image.convert("RGB").getdata())
if len(colours) < 16:
    problems.append(f"only {len(colours)} distinct colours: blank or nearly")
for rgb in sys.argv[4:]:
    if tuple(int(c) for c in rgb.split(",")) not in colours:
        problems.append(f"no pixel of colour {rgb}")
if problems:
    print("; ".join(problems))
sys.exit(1 if problems else 0)
PY
}

expect_eq() {  # WHAT ACTUAL EXPECTED
  [ "$2" == "$3" ] || fail "$1: got [$2], expected [$3]"
}

temporary_files() {  # what the atomic writes left in $work
  find "$work" -name '.*.tmp-*' | wc -l
}

# expect_rename_error NAME ARGS...: with a directory at --out, the program (NAME in its messages)
# fails on the rename, exit 1, and leaves the directory's contents and no temporary file.
expect_rename_error() {
  local name=$1 blocked="$work/blocked.png"
  shift
  mkdir -p "$blocked"
  echo kept > "$blocked/inside"
  run --out "$blocked" "$@"
  expect_eq "exit code when --out is a directory" "$rc" 1
  grep -q "^$name: cannot write $blocked: cannot rename " "$work/stderr" ||
    fail "no rename error for a directory at --out: $(cat "$work/stderr")"
  expect_eq "a directory at --out" "$(cat "$blocked/inside")" kept
  expect_eq "temporary files after a failed rename" "$(temporary_files)" 0
}

# report NAME: the verdict, and the script's exit code.
report() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures checks failed"
    exit 1
  fi
  echo "$1: all checks passed"
}
