#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) from the seed corpus in tests/fuzz/corpus. New inputs
# found go to a scratch corpus, not into the repo; a crash stops with its
# input saved as tests/fuzz/crash-*.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]   (600 for the documented long run)
#
# TARGETs are idx, idx_gzip, png, safetensors and codec (the default: all);
# only the named ones are built and run.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=(idx idx_gzip png safetensors codec)
[ $# -eq 0 ] || targets=("$@")
wanted() { [[ " ${targets[*]} " == *" $1 "* ]]; }
out=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread -DVQ_HAVE_CUDA=0
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
tensor_src=(tensor/shape.cpp tensor/storage.cpp tensor/tensor.cpp tensor/elementwise.cpp tensor/reduce.cpp
            tensor/matmul.cpp tensor/conv.cpp tensor/conv_cpu.cpp tensor/conv_naive.cpp tensor/fused.cpp tensor/index.cpp
            tensor/parallel.cpp tensor/random.cpp tensor/format.cpp cuda/stub.cpp)
libs=(-lopenblas -lfmt -lz -lpthread)
wanted idx && clang++ "${flags[@]}" tests/fuzz/fuzz_idx.cpp data/idx.cpp io/files.cpp "${tensor_src[@]}" "${libs[@]}" -o "$out/fuzz_idx"
wanted idx_gzip && clang++ "${flags[@]}" tests/fuzz/fuzz_idx_gzip.cpp data/idx.cpp io/files.cpp "${tensor_src[@]}" "${libs[@]}" \
  -o "$out/fuzz_idx_gzip"
wanted png && clang++ "${flags[@]}" -I/usr/include/libpng16 tests/fuzz/fuzz_png.cpp data/png.cpp io/files.cpp "${tensor_src[@]}" \
  "${libs[@]}" -lpng -o "$out/fuzz_png"
wanted safetensors && clang++ "${flags[@]}" tests/fuzz/fuzz_safetensors.cpp nn/safetensors.cpp io/files.cpp "${tensor_src[@]}" \
  "${libs[@]}" -o "$out/fuzz_safetensors"
# the codecs decode through the models: autograd, nn, models, data and codec sources
codec_src=(autograd/variable.cpp autograd/ops/*.cpp nn/*.cpp optim/*.cpp data/idx.cpp data/binarize.cpp data/png.cpp
           models/ar_decoder.cpp models/blocks.cpp models/codebook_ema.cpp models/vqvae.cpp models/vae.cpp models/pixelcnn.cpp models/pixelcnn_incremental.cpp
           models/checkpoint.cpp models/mixture.cpp models/progress.cpp codec/rans.cpp codec/ans_stack.cpp codec/bits_back.cpp codec/vqz.cpp
           codec/io.cpp io/files.cpp)
if wanted codec && { [ ! -x "$out/fuzz_codec" ] || [ -n "$(find "${codec_src[@]}" "${tensor_src[@]}" tests/fuzz/fuzz_codec.cpp codec models autograd nn tensor \
     -newer "$out/fuzz_codec" -print -quit)" ]; }; then
  # the separate objects build on both cores
  mkdir -p "$out/codec_obj"
  printf '%s\n' tests/fuzz/fuzz_codec.cpp "${codec_src[@]}" "${tensor_src[@]}" |
    xargs -P "$(nproc)" -I{} sh -c 'clang++ "$@" -c {} -o "'"$out"'/codec_obj/$(echo {} | tr / _).o"' _ "${flags[@]}"
  clang++ "${flags[@]}" "$out"/codec_obj/*.o "${libs[@]}" -lpng -o "$out/fuzz_codec"
fi
mkdir -p "$out/corpus_codec"
export VQ_FUZZ_SEED_DIR="$out/corpus_codec"  # fuzz_codec writes its valid seed files here
for target in "${targets[@]}"; do
  scratch="$out/corpus_$target"
  mkdir -p "$scratch"
  seeds=("tests/fuzz/corpus/${target%_gzip}")  # idx_gzip starts from the idx seeds
  [ -d "${seeds[0]}" ] || seeds=()
  echo "== fuzz_$target for ${seconds}s"
  "$out/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=tests/fuzz/crash-$target- \
    "$scratch" "${seeds[@]}" 2>&1 | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|ERROR|SUMMARY" | tail -4
done
echo "fuzzers: no crash"
