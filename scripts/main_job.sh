#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the reference
# VQ-VAE (K = 512) and the Gated PixelCNN prior on its codes, the density
# preset's VQ-VAE and its prior (the configuration with the lowest bound,
# README), and the VAE baseline on binarized Fashion-MNIST; evaluates all of
# them on the test set and writes sample grids. Ends by printing the density
# table.
#
#   ./scripts/main_job.sh           quick preset: 1 epoch of each model
#   ./scripts/main_job.sh --full    the README's results: 3 epochs each, IWAE-1000
#                                   (74 minutes on 2 cores with an earlier build)
#
# Environment: OUT (output folder), DEVICE (cpu or cuda), EPOCHS (override),
# STEPS (cap each training run at N steps: a smoke test of the pipeline),
# DATA (IDX folder), BIN (prebuilt tools folder: skips installing and building,
# e.g. the ones tools/gpu_stage.sh packs for a GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=quick
if [ "${1:-}" = "--full" ]; then preset=full; fi
if [ "$preset" = full ]; then
  epochs=${EPOCHS:-3}; iw=1000; iw_limit=1000
else
  epochs=${EPOCHS:-1}; iw=100; iw_limit=1000
fi
OUT=${OUT:-runs/$preset}
DEVICE=${DEVICE:-cpu}

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

run=("${limit[@]}" --epochs "$epochs" --device "$DEVICE" --data "$DATA")

step "1/7 VQ-VAE (reference, K = 512), $epochs epoch(s)"
$bin/train --model vqvae "${run[@]}" --out "$OUT/vqvae"
step "2/7 Gated PixelCNN prior on the reference VQ-VAE's codes, $epochs epoch(s)"
$bin/train --model prior --vqvae "$OUT/vqvae/model.safetensors" "${run[@]}" --out "$OUT/prior"
step "3/7 VQ-VAE, density preset, $epochs epoch(s)"
$bin/train --model vqvae --preset density "${run[@]}" --out "$OUT/density/vqvae"
step "4/7 its prior (the density preset follows from the VQ-VAE file), $epochs epoch(s)"
$bin/train --model prior --vqvae "$OUT/density/vqvae/model.safetensors" "${run[@]}" --out "$OUT/density/prior"
step "5/7 VAE baseline, $epochs epoch(s)"
$bin/train --model vae "${run[@]}" --out "$OUT/vae"
step "6/7 sample grids and training curves"
for run in vqvae prior density/vqvae density/prior vae; do /usr/bin/python3 tools/plot.py "$OUT/$run" >/dev/null; done
$bin/sample --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" -n 32 --device "$DEVICE" --out "$OUT/samples.png"
$bin/sample --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" -n 32 \
  --device "$DEVICE" --out "$OUT/samples_density.png"
step "7/7 density evaluation on the test set (IWAE-$iw on the first $iw_limit images)"
$bin/evaluate --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" \
  --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" \
  --vae "$OUT/vae/model.safetensors" --iw "$iw" --iw-limit "$iw_limit" --device "$DEVICE" --data "$DATA" \
  --json-out "$OUT/density.json" > "$OUT/density.txt"
echo
echo "== done in $(( $(date +%s) - start )) s"
echo "checkpoints: $OUT/{vqvae,prior,density/vqvae,density/prior,vae}/model.safetensors"
echo "reconstructions: $OUT/vqvae/recon.png, $OUT/density/vqvae/recon.png; training curves: $OUT/*/curves.png"
echo "sample grids: $OUT/samples.png (K = 512), $OUT/samples_density.png; table as JSON: $OUT/density.json"
echo
cat "$OUT/density.txt"
