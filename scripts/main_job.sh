#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains every model
# family on binarized Fashion-MNIST in two lanes that run side by side, one
# thread each, each with its own log:
#
#   lane flagship ($OUT/lane_flagship.log): the VQ-VAE with the lowest
#     bound measured (docs/results.md): the density preset at K = 2 with the
#     autoregressive decoder (16 channels x 2 layers), then the Gated
#     PixelCNN prior on its codes (32 channels x 6 layers); --full adds the reference VQ-VAE
#     (K = 512, plain decoder) and its prior.
#   lane others ($OUT/lane_others.log): the VAE with the autoregressive
#     decoder (16 channels x 2 layers, into vae_pixelcnn/), then the
#     classical baseline (a mixture of 500 Bernoullis by EM), then the Gated
#     PixelCNN over the pixels themselves; --full adds the VAE with the plain
#     decoder (into vae/, evaluated on its own into density_plain_vae.txt).
#
# Every deep model trains at batch 32 and lr 1e-3 (measured on 2026-12-05:
# docs/results/tune-batch-2026-12-05/) with a test curve every 200 steps.
# When both lanes are done, the job writes sample grids (and, with --full,
# repair and denoising grids from the reference VQ-VAE: repair needs the
# plain decoder), evaluates every model on the test set, draws the figure of test NLL
# against training seconds, and ends by printing the density table (with
# each row's training seconds and the binarization floor).
#
#   ./scripts/main_job.sh           quick preset: 1 epoch of each model, 600 steps of a small pixel
#                                   model (16 channels x 4 layers), 20 EM iterations, IWAE-100 on
#                                   the first 200 test images; sized for under 15 minutes on 2 cores
#   ./scripts/main_job.sh --full    3 epochs each (the pixel model too, at its default 32 x 8),
#                                   30 EM iterations, IWAE-1000 on the first 1,000 images, the
#                                   reference VQ-VAE (K = 512) with its prior, and the plain VAE
#   ./scripts/main_job.sh --long    the long run of the best configuration: scripts/long_run.sh
#
# Environment: OUT (output folder), DEVICE (cpu or cuda), EPOCHS (override),
# STEPS (cap each training run at N steps: a smoke test of the pipeline),
# DATA (IDX folder), BIN (prebuilt tools folder: skips installing and building,
# e.g. the ones tools/gpu_stage.sh packs for a GPU machine), OVERWRITE=1
# (replace an earlier main job in OUT; without it the job stops at once).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--full | --long]   (environment: OUT DEVICE EPOCHS STEPS DATA BIN OVERWRITE; see the header)"; }
preset=quick
if [ $# -gt 1 ]; then echo "main_job: one option at most, got '$*'" >&2; usage >&2; exit 2; fi
case "${1:-}" in
  "") ;;
  --full) preset=full ;;
  --long) exec ./scripts/long_run.sh ;;
  -h | --help) usage; exit 0 ;;
  *) echo "main_job: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac
if [ "$preset" = full ]; then
  epochs=${EPOCHS:-3}; iw=1000; iw_limit=1000; em=30
else
  epochs=${EPOCHS:-1}; iw=100; iw_limit=200; em=20
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

# the two lanes run side by side, so each trains on one thread
common=("${overwrite[@]}" --batch 32 --lr 1e-3 --threads 1 --device "$DEVICE" --data "$DATA" --eval-every 200)
run=("${common[@]}" "${limit[@]}" --epochs "$epochs")
# the pixel model's step costs several of the others': the quick job gives a small one a fixed number of steps
pixel_run=("${common[@]}")
if [ -n "${STEPS:-}" ]; then pixel_run+=(--steps "$STEPS"); elif [ "$preset" = full ]; then pixel_run+=(--epochs "$epochs")
else pixel_run+=(--steps 600); fi
if [ "$preset" = full ]; then pixel_size=(); pixel_label="32x8"
else pixel_size=(--pixel-channels 16 --pixel-layers 4); pixel_label="16x4"; fi
decoder=(--decoder pixelcnn --decoder-channels 16 --decoder-layers 2)

lane_flagship() {
  step "flagship: VQ-VAE, density preset at K = 2 with the autoregressive decoder (16 x 2), $epochs epoch(s)"
  $bin/train --model vqvae --preset density --codes 2 "${decoder[@]}" "${run[@]}" --out "$OUT/density/vqvae"
  # two codes need no 64 x 10 prior: 32 x 6 trains 5x faster for 0.3 nats (docs/results/quick-2026-12-06/)
  step "flagship: its Gated PixelCNN prior, 32 channels x 6 layers, $epochs epoch(s)"
  $bin/train --model prior --vqvae "$OUT/density/vqvae/model.safetensors" --prior-channels 32 --prior-layers 6 "${run[@]}" \
    --out "$OUT/density/prior"
  if [ "$preset" = full ]; then
    step "flagship: the reference VQ-VAE (K = 512), $epochs epoch(s)"
    $bin/train --model vqvae "${run[@]}" --out "$OUT/vqvae"
    step "flagship: its prior, $epochs epoch(s)"
    $bin/train --model prior --vqvae "$OUT/vqvae/model.safetensors" "${run[@]}" --out "$OUT/prior"
  fi
  step "flagship: done"
}

lane_others() {
  step "others: VAE with the autoregressive decoder (16 channels x 2 layers), $epochs epoch(s)"
  $bin/train --model vae "${decoder[@]}" "${run[@]}" --out "$OUT/vae_pixelcnn"
  step "others: mixture of 500 Bernoullis by EM, $em iterations (the classical baseline)"
  $bin/train --model mixture --components 500 --epochs "$em" --threads 1 --data "$DATA" "${overwrite[@]}" --out "$OUT/mixture"
  step "others: Gated PixelCNN over the pixels themselves, $pixel_label (${pixel_run[*]: -2})"
  $bin/train --model pixelcnn "${pixel_size[@]}" "${pixel_run[@]}" --out "$OUT/pixelcnn"
  if [ "$preset" = full ]; then
    step "others: VAE with the plain decoder, $epochs epoch(s)"
    $bin/train --model vae "${run[@]}" --out "$OUT/vae"
  fi
  step "others: done"
}

step "1/4 training in two lanes, one thread each (follow them with: tail -f $OUT/lane_*.log)"
# VQ_NUM_THREADS sizes the thread pool of anything in a lane that takes no --threads (the mixture)
( export VQ_NUM_THREADS=1; lane_flagship ) > "$OUT/lane_flagship.log" 2>&1 &
flagship_pid=$!
( export VQ_NUM_THREADS=1; lane_others ) > "$OUT/lane_others.log" 2>&1 &
others_pid=$!
failed=()
if ! wait "$flagship_pid"; then failed+=(flagship); fi
if ! wait "$others_pid"; then failed+=(others); fi
for lane in "${failed[@]}"; do
  echo >&2
  echo "main_job: lane $lane failed; its log is $OUT/lane_$lane.log, which ends:" >&2
  tail -n 15 "$OUT/lane_$lane.log" >&2
done
if [ ${#failed[@]} -gt 0 ]; then exit 1; fi
echo "both lanes done; logs: $OUT/lane_flagship.log, $OUT/lane_others.log"

reference=()
curve_runs=(density/vqvae density/prior vae_pixelcnn pixelcnn)
if [ "$preset" = full ]; then
  reference=(--vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors")
  curve_runs+=(vqvae prior vae)
fi

step "2/4 sample grids (--full: repair and denoising too), training curves"
for dir in "${curve_runs[@]}"; do /usr/bin/python3 tools/plot.py "$OUT/$dir" >/dev/null; done
$bin/sample --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" -n 16 \
  --device "$DEVICE" --out "$OUT/samples_density.png"
$bin/sample --pixelcnn "$OUT/pixelcnn/model.safetensors" -n 32 --device "$DEVICE" --out "$OUT/samples_pixelcnn.png"
if [ "$preset" = full ]; then
  # repair scores candidates by the plain decoder's likelihood of the undamaged pixels: the reference VQ-VAE
  $bin/repair --vqvae "$OUT/vqvae/model.safetensors" --prior "$OUT/prior/model.safetensors" --random-holes 10 \
    --device "$DEVICE" --data "$DATA" --in "$DATA" --out "$OUT/repair.png" --json > "$OUT/repair.json"
  $bin/repair --vqvae "$OUT/vqvae/model.safetensors" --noise 0.1 --device "$DEVICE" --in "$DATA" \
    --out "$OUT/denoise.png" --json > "$OUT/denoise.json"
else
  echo "repair and denoising need a VQ-VAE with the plain decoder: --full runs them with the reference K = 512"
fi

step "3/4 density evaluation on the test set (IWAE-$iw on the first $iw_limit images)"
$bin/evaluate --vqvae "$OUT/density/vqvae/model.safetensors" --prior "$OUT/density/prior/model.safetensors" "${reference[@]}" \
  --vae "$OUT/vae_pixelcnn/model.safetensors" --pixelcnn "$OUT/pixelcnn/model.safetensors" \
  --mixture "$OUT/mixture/model.safetensors" \
  --iw "$iw" --iw-limit "$iw_limit" --device "$DEVICE" --data "$DATA" \
  --json-out "$OUT/density.json" > "$OUT/density.txt"
if [ "$preset" = full ]; then
  echo "the VAE with the plain decoder, on its own (evaluate takes one --vae)"
  $bin/evaluate --vae "$OUT/vae/model.safetensors" --iw "$iw" --iw-limit "$iw_limit" --device "$DEVICE" --data "$DATA" \
    --json-out "$OUT/density_plain_vae.json" > "$OUT/density_plain_vae.txt"
fi

step "4/4 density against training seconds"
# a label may not hold "=": density_vs_time.py splits LABEL=DIR at the first one
curves=("VQ-VAE with 2 codes, AR decoder 16x2, + prior=$OUT/density/prior:curve_bound_nll+$OUT/density/vqvae"
        "VAE + PixelCNN decoder 16x2 (-ELBO)=$OUT/vae_pixelcnn:curve_elbo_nll"
        "PixelCNN over pixels $pixel_label=$OUT/pixelcnn:curve_nll"
        "mixture of 500 Bernoullis=$OUT/mixture:test_nll")
if [ "$preset" = full ]; then curves+=("VAE, plain decoder (-ELBO)=$OUT/vae:curve_elbo_nll"); fi
/usr/bin/python3 tools/density_vs_time.py "$OUT/density_vs_time.png" --density "$OUT/density.json" "${curves[@]}" \
  --ymax 320 >/dev/null

echo
echo "== done in $(( $(date +%s) - start )) s"
echo "checkpoints: $OUT/{density/vqvae,density/prior,vae_pixelcnn,mixture,pixelcnn}/model.safetensors (--full: also vqvae, prior, vae)"
echo "training logs: $OUT/lane_flagship.log, $OUT/lane_others.log"
if [ "$preset" = full ]; then
  echo "repair and denoising (damaged | repaired | original): $OUT/repair.png, $OUT/denoise.png (errors: $OUT/*.json)"
fi
echo "reconstructions: $OUT/density/vqvae/recon.png, $OUT/vae_pixelcnn/recon.png; training curves: $OUT/*/curves.png"
echo "sample grids: $OUT/samples_density.png, $OUT/samples_pixelcnn.png; table as JSON: $OUT/density.json"
echo "test NLL against training seconds: $OUT/density_vs_time.png"
echo
cat "$OUT/density.txt"
if [ "$preset" = full ]; then echo; echo "the VAE with the plain decoder:"; cat "$OUT/density_plain_vae.txt"; fi
