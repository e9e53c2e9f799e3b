#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the reference
# VQ-VAE (K = 512) and the Gated PixelCNN prior on its codes, the density
# preset's VQ-VAE and its prior (the configuration with the lowest bound,
# README), the VAE baseline, and the classical baseline (a mixture of 500
# Bernoullis by EM) on binarized Fashion-MNIST; evaluates all of them on the
# test set and writes sample, repair and denoising grids. Ends by printing
# the density table.
#
#   ./scripts/main_job.sh           quick preset: 1 epoch of each model
#   ./scripts/main_job.sh --full    the README's results: 3 epochs each, IWAE-1000
#                                   (74 minutes on 2 cores with an earlier build)
#
# Environment: OUT (output folder), DEVICE (cpu or cuda), EPOCHS (override),
# STEPS (cap each training run at N steps: a smoke test of the pipeline),
# DATA (IDX folder), BIN (prebuilt tools folder: skips installing and building,
# e.g. the ones tools/gpu_stage.sh packs for a GPU machine), OVERWRITE=1
# (replace an earlier main job in OUT; without it the job stops at once).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=quick
if [ "${1:-}" = "--full" ]; then preset=full; fi
if [ "$preset" = full ]; then
  epochs=${EPOCHS:-3}; iw=1000; iw_limit=1000; em=30
else
  epochs=${EPOCHS:-1}; iw=100; iw_limit=1000; em=20
fi
OUT=${OUT:-runs/$preset}
DEVICE=${DEVICE:-cpu}
overwrite=()
if [ "${OVERWRITE:-0}" = 1 ]; then
  overwrite=(--overwrite)
elif [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  echo "main_job: $OUT already holds an earlier run: set OUT to another folder, or OVERWRITE=1 to replace it" >&2
  exit 1
fi

if [ -z "${BIN:-}" ]; then
  ./scripts/install_deps.sh
  if [ ! -f build/build.ninja ]; then meson setup build -Dcuda=auto; fi
  ninja -C build
fi
bin=${BIN:-build/tools}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
limit=()
if [ -n "${STEPS:-}" ]; then limit=(--steps "$STEPS"); fi
mkdir -p "$OUT"
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start )) s elapsed)"; }

run=("${limit[@]}" "${overwrite[@]}" --epochs "$epochs" --device "$DEVICE" --data "$DATA")

step "1/8 VQ-VAE (reference, K = 512), $epochs epoch(s)"
$bin/train --model vqvae "${run[@]}" --out "$OUT/vqvae"
step "2/8 Gated PixelCNN prior on the reference VQ-VAE's codes, $epochs epoch(s)"
$bin/train --model prior --vqvae "$OUT/vqvae/model.safetensors" "${run[@]}" --out "$OUT/prior"
step "3/8 VQ-VAE, density preset, $epochs epoch(s)"
$bin/train --model vqvae --preset density "${run[@]}" --out "$OUT/density/vqvae"
step "4/8 its prior (the density preset follows from the VQ-VAE file), $epochs epoch(s)"
$bin/train --model prior --vqvae "$OUT/density/vqvae/model.safetensors" "${run[@]}" --out "$OUT/density/prior"
step "5/8 VAE baseline, $epochs epoch(s)"
$bin/train --model vae "${run[@]}" --out "$OUT/vae"
step "6/8 mixture of 500 Bernoullis by EM, $em iterations (the classical baseline)"
$bin/train --model mixture --components 500 --epochs "$em" --data "$DATA" "${overwrite[@]}" --out "$OUT/mixture"
step "7/8 sample, repair and denoising grids, training curves"
for run in vqvae prior density/vqvae density/prior vae; do /usr/bin/python3 tools/plot.py "$OUT/$run" >/dev/null; done
$bin/sample --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" -n 32 --device "$DEVICE" --out "$OUT/samples.png"
$bin/sample --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" -n 32 \
  --device "$DEVICE" --out "$OUT/samples_density.png"
$bin/repair --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" --random-holes 10 \
  --device "$DEVICE" --data "$DATA" --in "$DATA" --out "$OUT/repair.png" --json > "$OUT/repair.json"
$bin/repair --vqvae "$OUT/vqvae/model.safetensors" --noise 0.1 --device "$DEVICE" --in "$DATA" \
  --out "$OUT/denoise.png" --json > "$OUT/denoise.json"
step "8/8 density evaluation on the test set (IWAE-$iw on the first $iw_limit images)"
$bin/evaluate --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" \
  --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" \
  --vae "$OUT/vae/model.safetensors" --mixture "$OUT/mixture/model.safetensors" \
  --iw "$iw" --iw-limit "$iw_limit" --device "$DEVICE" --data "$DATA" \
  --json-out "$OUT/density.json" > "$OUT/density.txt"
echo
echo "== done in $(( $(date +%s) - start )) s"
echo "checkpoints: $OUT/{vqvae,prior,density/vqvae,density/prior,vae,mixture}/model.safetensors"
echo "repair and denoising (damaged | repaired | original): $OUT/repair.png, $OUT/denoise.png (errors: $OUT/*.json)"
echo "reconstructions: $OUT/vqvae/recon.png, $OUT/density/vqvae/recon.png; training curves: $OUT/*/curves.png"
echo "sample grids: $OUT/samples.png (K = 512), $OUT/samples_density.png; table as JSON: $OUT/density.json"
echo
cat "$OUT/density.txt"
