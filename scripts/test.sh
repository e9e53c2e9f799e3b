#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs the
# whole meson test suite; then the same suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer, then each libFuzzer harness for a minute.
# CUDA is built when nvcc is present (-Dcuda=auto); its tests skip (exit 77)
# on machines without a GPU.
#
#   ./scripts/test.sh            everything (what CI runs)
#   ./scripts/test.sh --quick    the plain build's suite only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=false
if [ "${1:-}" = "--quick" ]; then quick=true; shift; fi
./scripts/install_deps.sh

echo "== build and test (release)"
if [ ! -f build/build.ninja ]; then meson setup build -Dcuda=auto; fi
ninja -C build
meson test -C build --print-errorlogs "$@"

echo "== the installed library, used from outside the tree through pkg-config"
# install into a scratch root, copy the example to a directory of its own and
# build it there with only what pkg-config says, then train it for a few steps
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C build --destdir "$stage/root" --no-rebuild --quiet
pc_dir=$(dirname "$(find "$stage/root" -name vqframe.pc)")
cp examples/classifier.cpp "$stage/"
(cd "$stage" && c++ -O2 classifier.cpp $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs vqframe) -o classifier)
# every installed header compiles on its own: each includes what it needs, and that is installed too
for h in $(cd "$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=includedir vqframe)/vqframe" && find . -name "*.hpp" | sed "s|^\./||"); do
  echo "#include \"$h\"" > "$stage/header_check.cpp"
  (cd "$stage" && c++ -fsyntax-only header_check.cpp $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags vqframe)) || { echo "installed header $h does not compile" >&2; exit 1; }
done
VQ_NUM_THREADS=1 "$stage/classifier" /usr/share/datasets/fashion-mnist 20
$quick && exit 0

echo "== build and test under ASan + UBSan"
if [ ! -f build-asan/build.ninja ]; then
  # without CUDA and MPI: it also checks what a build without MPI says under mpirun
  meson setup build-asan -Dcuda=disabled -Dmpi=disabled -Dbuildtype=debugoptimized -Db_sanitize=address,undefined
fi
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --timeout-multiplier 3 "$@"

echo "== fuzzers (60 s each)"
tests/fuzz/run_fuzzers.sh 60

# One plain closing line over every meson run above (CI reads it).
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line).get("result", "")
        counts["OK" if r == "OK" else "SKIP" if r == "SKIP" else "FAIL"] += 1
print(f"tests: {counts['OK']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
PY
