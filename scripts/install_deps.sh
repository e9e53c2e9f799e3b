#!/usr/bin/env bash
# Installs the Debian packages this project builds and tests with. Safe to run
# again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  meson ninja-build pkg-config cmake g++   # build (meson finds doctest and CLI11 through cmake)
  libopenblas-dev                          # cblas_sgemm/dgemm for matmul and convs
  libfmt-dev                               # printing
  doctest-dev                              # unit tests
  zlib1g-dev                               # gzip-compressed IDX files
  nlohmann-json3-dev                       # safetensors headers, metrics.jsonl, config.json
  libcli11-dev                             # command-line parsing in tools/
  libpng-dev                               # sample and reconstruction grids
  dataset-fashion-mnist                    # the data set
  python3-numpy                            # the independent safetensors reader/writer in the tests
  python3-matplotlib                       # rd.png of the rate-distortion sweep (scripts/rd_sweep.sh)
  clang libclang-rt-14-dev                 # libFuzzer harnesses (tests/fuzz)
  openmpi-bin libopenmpi-dev               # data-parallel training (mpirun -np N train) and its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
