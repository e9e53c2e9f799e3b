#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains every model
# family on binarized Fashion-MNIST: the density preset's VQ-VAE and the
# Gated PixelCNN prior on its codes (the configuration with the lowest
# bound, README), the VAE, the Gated PixelCNN over the pixels themselves,
# and the classical baseline (a mixture of 500 Bernoullis by EM); evaluates
# all of them on the test set, writes sample, repair and denoising grids and
# the figure of test NLL against training seconds. Ends by printing the
# density table (with each row's training seconds and the binarization floor).
#
#   ./scripts/main_job.sh           quick preset: 1 epoch of each model, 300 steps of the pixel model
#   ./scripts/main_job.sh --full    3 epochs each (the pixel model too), IWAE-1000, and the
#                                   reference VQ-VAE (K = 512) with its prior
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

run=("${limit[@]}" "${overwrite[@]}" --epochs "$epochs" --device "$DEVICE" --data "$DATA" --eval-every 100)
# the pixel model's step costs several of the others': the quick job gives it a fixed number of steps
pixel_run=("${overwrite[@]}" --device "$DEVICE" --data "$DATA" --eval-every 100)
if [ -n "${STEPS:-}" ]; then pixel_run+=(--steps "$STEPS"); elif [ "$preset" = full ]; then pixel_run+=(--epochs "$epochs");
else pixel_run+=(--steps 300); fi

step "1/7 VQ-VAE, density preset, $epochs epoch(s)"
$bin/train --model vqvae --preset density "${run[@]}" --out "$OUT/density/vqvae"
step "2/7 its Gated PixelCNN prior (the density preset follows from the VQ-VAE file), $epochs epoch(s)"
$bin/train --model prior --vqvae "$OUT/density/vqvae/model.safetensors" "${run[@]}" --out "$OUT/density/prior"
step "3/7 VAE baseline, $epochs epoch(s)"
$bin/train --model vae "${run[@]}" --out "$OUT/vae"
step "4/7 Gated PixelCNN over the pixels themselves (${pixel_run[*]: -2})"
$bin/train --model pixelcnn "${pixel_run[@]}" --out "$OUT/pixelcnn"
step "5/7 mixture of 500 Bernoullis by EM, $em iterations (the classical baseline)"
$bin/train --model mixture --components 500 --epochs "$em" --data "$DATA" "${overwrite[@]}" --out "$OUT/mixture"
reference=()
if [ "$preset" = full ]; then
  step "5b/7 the reference VQ-VAE (K = 512) and its prior, $epochs epoch(s) each"
  $bin/train --model vqvae "${run[@]}" --out "$OUT/vqvae"
  $bin/train --model prior --vqvae "$OUT/vqvae/model.safetensors" "${run[@]}" --out "$OUT/prior"
  reference=(--vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors")
fi
step "6/7 sample, repair and denoising grids, training curves, density against training seconds"
for run in density/vqvae density/prior vae pixelcnn; do /usr/bin/python3 tools/plot.py "$OUT/$run" >/dev/null; done
$bin/sample --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" -n 32 \
  --device "$DEVICE" --out "$OUT/samples_density.png"
$bin/sample --pixelcnn "$OUT/pixelcnn/model.safetensors" -n 32 --device "$DEVICE" --out "$OUT/samples_pixelcnn.png"
$bin/repair --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" --random-holes 10 \
  --device "$DEVICE" --data "$DATA" --in "$DATA" --out "$OUT/repair.png" --json > "$OUT/repair.json"
$bin/repair --vqvae "$OUT/density/vqvae/model.safetensors" --noise 0.1 --device "$DEVICE" --in "$DATA" \
  --out "$OUT/denoise.png" --json > "$OUT/denoise.json"
step "7/7 density evaluation on the test set (IWAE-$iw on the first $iw_limit images)"
$bin/evaluate --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" "${reference[@]}" \
  --vae "$OUT/vae/model.safetensors" --pixelcnn "$OUT/pixelcnn/model.safetensors" \
  --mixture "$OUT/mixture/model.safetensors" \
  --iw "$iw" --iw-limit "$iw_limit" --device "$DEVICE" --data "$DATA" \
  --json-out "$OUT/density.json" > "$OUT/density.txt"
/usr/bin/python3 tools/density_vs_time.py "$OUT/density_vs_time.png" --density "$OUT/density.json" \
  "VQ-VAE K = 4 + prior=$OUT/density/prior:curve_bound_nll+$OUT/density/vqvae" \
  "VAE (-ELBO)=$OUT/vae:curve_elbo_nll" "PixelCNN over pixels=$OUT/pixelcnn:curve_nll" \
  "mixture of 500 Bernoullis=$OUT/mixture:test_nll" --ymax 320 >/dev/null
echo
echo "== done in $(( $(date +%s) - start )) s"
echo "checkpoints: $OUT/{density/vqvae,density/prior,vae,pixelcnn,mixture}/model.safetensors (--full: also vqvae, prior)"
echo "repair and denoising (damaged | repaired | original): $OUT/repair.png, $OUT/denoise.png (errors: $OUT/*.json)"
echo "reconstructions: $OUT/density/vqvae/recon.png; training curves: $OUT/*/curves.png"
echo "sample grids: $OUT/samples_density.png, $OUT/samples_pixelcnn.png; table as JSON: $OUT/density.json"
echo "test NLL against training seconds: $OUT/density_vs_time.png"
echo
cat "$OUT/density.txt"
