#!/usr/bin/env bash
# Data-parallel scaling on this machine: training images/s of one process
# with 2 threads against 2 MPI ranks with 1 thread each, for the VQ-VAE, the
# VAE and the prior (batch 128, the same steps; the rate is rank 0's over
# the whole run, start-up excluded).
#   scripts/dist_scaling.sh [STEPS] [OUT_DIR]      (default 60 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-60}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
train=build/tools/train
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
common=(--steps "$steps" --batch 128 --log-every "$steps" --eval-limit 100)
for model in vqvae vae prior; do
  extra=()
  [ "$model" = prior ] && extra=(--vqvae "$out/vqvae_1x2/model.safetensors")
  "$train" --model "$model" "${extra[@]}" "${common[@]}" --threads 2 --out "$out/${model}_1x2" 2>/dev/null
  mpirun -np 2 "$train" --model "$model" "${extra[@]}" "${common[@]}" --threads 1 --out "$out/${model}_2x1" 2>/dev/null
done
python3 - "$out" "$steps" <<'PY'
import json, sys
out, steps = sys.argv[1], int(sys.argv[2])
def rate(path):
    for line in open(path):
        j = json.loads(line)
        if j.get("step") == steps and "images_per_s" in j:
            return j["images_per_s"]
print(f"{'model':<6} {'1 rank x 2 threads':>19} {'2 ranks x 1 thread':>19} {'ratio':>6}   (training images/s, {steps} steps of 128)")
for m in ("vqvae", "vae", "prior"):
    a, b = rate(f"{out}/{m}_1x2/metrics.jsonl"), rate(f"{out}/{m}_2x1/metrics.jsonl")
    print(f"{m:<6} {a:>19.0f} {b:>19.0f} {b / a:>6.2f}")
PY
