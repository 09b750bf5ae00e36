#!/usr/bin/env bash
# Compares the names, order and shapes of the parameters and buffers of dgc-train's resnet18,
# resnet50 and vgg16_bn with torchvision's (Debian's python3-torchvision 0.14): torchvision's
# named_parameters() then named_buffers(), which the snippet first checks are exactly its
# state_dict, against print_model_shapes; any difference fails with the diff.
# Exits 77 (ctest's SKIP_RETURN_CODE) when /usr/bin/python3 cannot import torchvision: a skip is
# reported as a skip, never as a pass.
# Usage: torchvision_shapes.sh PRINT_MODEL_SHAPES
set -euo pipefail
tool=$1

if ! /usr/bin/python3 -c "import torchvision" 2> /dev/null; then
  echo "SKIP: /usr/bin/python3 cannot import torchvision (apt-get install python3-torchvision)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for model in resnet18 resnet50 vgg16_bn; do
  "$tool" "$model" > "$work/ours.txt"
  /usr/bin/python3 - "$model" > "$work/torchvision.txt" << 'PY'
import sys
import torch
import torchvision

model = getattr(torchvision.models, sys.argv[1])()  # 3 channels, 1000 classes, random weights
params, buffers = list(model.named_parameters()), list(model.named_buffers())
state = model.state_dict()
assert sorted(state) == sorted(n for n, _ in params + buffers), "state_dict != parameters + buffers"
assert all(state[n].shape == t.shape for n, t in params + buffers)
for kind, items in (("parameter", params), ("buffer", buffers)):
    for name, t in items:
        print(f"{kind} {name} [{', '.join(str(d) for d in t.shape)}]")
PY
  if diff -u "$work/torchvision.txt" "$work/ours.txt" > "$work/diff.txt"; then
    echo "$model: $(wc -l < "$work/ours.txt") parameters and buffers, names, order and shapes" \
      "equal to torchvision $(/usr/bin/python3 -c 'import torchvision; print(torchvision.__version__)')"
  else
    echo "$model: differs from torchvision (--- torchvision, +++ dgc-train):"
    cat "$work/diff.txt"
    status=1
  fi
done
exit $status
