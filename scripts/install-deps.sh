#!/usr/bin/env bash
# Installs the Debian packages dgc builds, tests and runs with (DESIGN.md "Dependencies").
# Idempotent: does nothing when everything is present. Needs root (or sudo). Arguments are more
# packages to install with the same care.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev
  # Debian's libtorch calls the generic libblas.so.3; without this it gets the reference BLAS.
  # The OpenMP build shares libtorch's OpenMP threads. dgc-train's steps got 2.6-2.7x faster.
  libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libyaml-cpp-dev zlib1g-dev
  # ImageNet folders: the libjpeg API of libjpeg-turbo (TurboJPEG 2.1 cannot decode a region).
  libjpeg62-turbo-dev libpng-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # The peers the tests compare with in the same run: torchvision's models (names and shapes)
  # and its ImageNet transforms on Pillow (the same pixels). Without them those tests skip.
  python3-torchvision python3-pil
  # skimage's photographs: the natural images those transform tests compare on.
  python3-skimage
  # dgc-plot draws the learning curves with matplotlib (for Debian's /usr/bin/python3).
  python3-matplotlib
  iproute2
  dataset-fashion-mnist
  "$@"  # what a caller needs beyond these (scripts/fuzz.sh: clang and its runtimes)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "dgc: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
