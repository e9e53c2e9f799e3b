#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs the
# whole meson test suite. CUDA is built when nvcc is present (-Dcuda=auto);
# its tests skip (exit 77) on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
BUILD=${BUILD:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dcuda=auto
fi
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs "$@"
