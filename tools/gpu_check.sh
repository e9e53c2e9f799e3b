#!/usr/bin/env bash
# The GPU check: CUDA parity tests, bench --device cuda for the three models,
# a PyTorch eager comparison of the same models on the same card, and a timed
# 1-epoch VQ-VAE run. Prints one short table at the end.
#
# On a machine with the build dependencies it builds build-cuda itself. On the
# device machine (GPU, CUDA and PyTorch, but no apt packages) it uses what
# tools/gpu_stage.sh packed into .gpu/ here.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-/tmp}/gpu_check
mkdir -p "$LOG"

if [ -f .gpu/stage.tar.xz ]; then
  root=/tmp/vq_gpu_stage
  rm -rf "$root" && mkdir -p "$root" && tar -xJf .gpu/stage.tar.xz -C "$root"
  BIN=$root/bin; TEST=$root/bin/test_cuda; DATA=$PWD/.gpu/data
  export LD_LIBRARY_PATH="$root/lib:${LD_LIBRARY_PATH:-}"
else
  if [ ! -f build-cuda/build.ninja ]; then meson setup build-cuda -Dcuda=enabled || exit 1; fi
  ninja -C build-cuda || exit 1
  BIN=build-cuda/tools; TEST=build-cuda/tests/test_cuda; DATA=/usr/share/datasets/fashion-mnist
fi
# cuBLAS from the CUDA toolkit or from PyTorch's wheels, wherever this machine has it
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))' 2>/dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done

nvidia-smi -L || true
echo "== CUDA parity tests"
$TEST 2>&1 | tee "$LOG/test_cuda.log" | tail -4
parity=$([ "${PIPESTATUS[0]}" = 0 ] && echo pass || echo FAIL)

echo "== bench --device cuda"
$BIN/bench --device cuda --json 2>&1 | tee "$LOG/bench.jsonl"

echo "== PyTorch eager on the same card"
python3 tools/compare_torch.py --device cuda --bench "$BIN/bench" --json "$LOG/compare.json" 2>&1 | tee "$LOG/compare.log"

echo "== 1-epoch VQ-VAE on Fashion-MNIST"
start=$(python3 -c "import time; print(time.time())")
$BIN/train --model vqvae --epochs 1 --device cuda --data "$DATA" --out /tmp/vq_gpu_epoch 2>&1 | tail -3 | tee "$LOG/epoch.log"
epoch_s=$(python3 -c "import time; print(time.time() - $start)")

echo "== data parallel on the GPU (needs mpirun on this machine)"
# 1. NCCL at world size 1 trains exactly as no communicator does;
# 2. two ranks on this one GPU, reduced through host copies (--dist-engine
#    mpi; NCCL cannot put two ranks on one GPU), equal one process with
#    --micro-batch 64.
dist="skipped (no mpirun)"
if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  g=(--model vqvae --steps 60 --device cuda --data "$DATA" --eval-limit 500)
  $BIN/train "${g[@]}" --out /tmp/dist_plain 2>/dev/null
  mpirun -np 1 $BIN/train "${g[@]}" --dist-engine nccl --out /tmp/dist_nccl1 2>"$LOG/dist_nccl1.log"
  $BIN/train "${g[@]}" --micro-batch 64 --out /tmp/dist_micro 2>/dev/null
  mpirun -np 2 --oversubscribe $BIN/train "${g[@]}" --dist-engine mpi --out /tmp/dist_mpi2 2>"$LOG/dist_mpi2.log"
  a=$(cmp -s /tmp/dist_plain/model.safetensors /tmp/dist_nccl1/model.safetensors && echo equal || echo DIFFERENT)
  b=$(cmp -s /tmp/dist_micro/model.safetensors /tmp/dist_mpi2/model.safetensors && echo equal || echo DIFFERENT)
  dist="NCCL world 1 vs none: $a; 2 ranks on 1 GPU (mpi) vs --micro-batch 64: $b"
fi
echo "$dist"

echo
echo "== GPU check summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"
echo "parity tests: $parity"
echo "data parallel: $dist"
python3 - "$LOG" "$epoch_s" <<'PY'
import json, sys
log, epoch = sys.argv[1], float(sys.argv[2])
bench = [json.loads(l) for l in open(f"{log}/bench.jsonl") if l.startswith("{")]
try:
    cmp = {r["model"]: r for r in json.load(open(f"{log}/compare.json"))}
except Exception:
    cmp = {}
print(f"{'model':<6} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'eval img/s':>11} {'GFLOP/s':>9} {'GPU MB':>7}")
for b in bench:
    c = cmp.get(b["model"], {})
    print(f"{b['model']:<6} {b['step_ms']:>9.2f} {c.get('torch_ms', float('nan')):>9.2f} {c.get('ratio', float('nan')):>6.2f} "
          f"{b['images_per_s']:>11.0f} {b['gflops']:>9.0f} {b.get('device_peak_mb', 0):>7.0f}")
print(f"1-epoch VQ-VAE run (469 steps + test eval): {epoch:.1f} s")
PY
cp /tmp/vq_gpu_epoch/metrics.jsonl "$LOG/epoch_metrics.jsonl" 2>/dev/null || true
