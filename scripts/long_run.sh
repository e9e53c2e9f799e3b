#!/usr/bin/env bash
# The long run (./scripts/main_job.sh --long runs this): trains the best
# configuration measured so far, the VAE with the autoregressive decoder of
# 32 channels x 3 layers, for EPOCHS (6) epochs at batch 32 and lr 1e-3 with a
# cosine decay after 200 warm-up steps (batch 32 beat 128 at equal wall time
# for the VAE: docs/results/tune-batch-2026-12-05), then evaluates it on the test set
# (-ELBO and the IWAE-10 estimate, both on all 10,000 images: each
# importance sample is a pass of the decoder, and IWAE-10 took 11 minutes on
# 2 cores on 2026-12-06), draws its
# training curves and density_vs_time.png, and prints the density table.
#
#   ./scripts/long_run.sh
#
# Two threads train about 86-117 images/s on a 2-core machine that is also
# compiling; one thread about 69 on an idle one. The run in docs/results.md
# trained 3 epochs on one thread of a shared machine on 2026-12-05 (started
# with --epochs 5, resumed with 4 and then 3 to end within that session) and
# was resumed with EPOCHS=6 TRAIN_SECONDS=2700 on 2 threads on 2026-12-06:
# 6 epochs, 6018 training seconds in all (each resume re-lays the cosine).
#
# Wall budget: at most 2 hours on 2 cores. Training stops after
# TRAIN_SECONDS (default 6000) even if EPOCHS are not done, saving its
# checkpoint, and the evaluation (about 20 minutes left for it) runs on what
# was trained so far. A checkpoint is saved every 500 steps, and the
# test NLL on the first 1,000 images is recorded every 1,000.
#
# To resume, run the script again with the same OUT: when
# OUT/vae_pixelcnn/train_state.safetensors exists, training continues from
# it (train --resume) at the epochs it was started with, or at EPOCHS if
# given (the cosine is laid over the whole run, so changing EPOCHS bends
# it). A folder holding a run of another configuration is refused; a folder
# holding files of a run but no train_state.safetensors is refused by train
# itself; OVERWRITE=1 starts over.
#
# Environment: OUT (default runs/long), EPOCHS (default 6), THREADS (default
# 2), TRAIN_SECONDS (default 6000), IW (importance samples, default 10),
# STEPS (cap training at N steps: a smoke test), DEVICE (cpu or cuda), DATA
# (IDX folder), BIN (prebuilt tools folder: skips installing and building),
# OVERWRITE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  echo "long_run: takes no options, got '$*' (environment: OUT EPOCHS THREADS TRAIN_SECONDS IW STEPS DEVICE DATA BIN OVERWRITE)" >&2
  exit 2
fi
OUT=${OUT:-runs/long}
THREADS=${THREADS:-2}
TRAIN_SECONDS=${TRAIN_SECONDS:-6000}
IW=${IW:-10}
DEVICE=${DEVICE:-cpu}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
dir=$OUT/vae_pixelcnn
# evaluate takes no --threads: its pool reads VQ_NUM_THREADS
export VQ_NUM_THREADS=$THREADS

if [ -z "${BIN:-}" ]; then
  ./scripts/install_deps.sh
  if [ ! -f build/build.ninja ]; then meson setup build -Dcuda=auto; fi
  ninja -C build
fi
bin=${BIN:-build/tools}
limit=()
if [ -n "${STEPS:-}" ]; then limit=(--steps "$STEPS"); fi
mkdir -p "$OUT"
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start )) s elapsed)"; }

if [ -f "$dir/train_state.safetensors" ] && [ "${OVERWRITE:-0}" != 1 ]; then
  # train --resume keeps the run's own configuration: make sure it is this script's
  /usr/bin/python3 - "$dir/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
want = {"model": "vae", "decoder": "pixelcnn", "decoder_channels": 32, "decoder_layers": 3,
        "batch": 32, "lr": 0.001, "schedule": "cosine", "warmup": 200}
other = [f"{k} {config.get(k)} (not {v})" for k, v in want.items() if config.get(k) != v]
if other:
    sys.exit(f"long_run: {path} is another configuration: {', '.join(other)}; "
             "continue it with train --resume, or set OUT to another folder")
EOF
  epochs=()
  if [ -n "${EPOCHS:-}" ]; then epochs=(--epochs "$EPOCHS"); fi
  step "resuming $dir (${epochs[*]:-its own epochs}, $THREADS threads, at most $TRAIN_SECONDS s)"
  train=(--resume "$dir" "${epochs[@]}" "${limit[@]}" --threads "$THREADS")
else
  overwrite=()
  if [ "${OVERWRITE:-0}" = 1 ]; then overwrite=(--overwrite); fi
  step "VAE + PixelCNN decoder 32x3, ${EPOCHS:-6} epoch(s), $THREADS threads, at most $TRAIN_SECONDS s"
  train=(--model vae --decoder pixelcnn --decoder-channels 32 --decoder-layers 3 --epochs "${EPOCHS:-6}" "${limit[@]}"
         --batch 32 --lr 1e-3 --schedule cosine --warmup 200 --eval-every 1000 --curve-limit 1000 --save-every 500
         --threads "$THREADS" --device "$DEVICE" --data "$DATA" "${overwrite[@]}" --out "$dir")
fi
# on SIGTERM (the budget) or Ctrl-C, train saves a checkpoint and exits
rc=0
timeout --foreground "$TRAIN_SECONDS" $bin/train "${train[@]}" || rc=$?
if [ "$rc" = 124 ]; then
  echo "long_run: the training budget of $TRAIN_SECONDS s ran out; checkpoint saved; run the script again to continue"
elif [ "$rc" != 0 ]; then
  echo "long_run: train failed or was interrupted (exit $rc); a saved checkpoint continues with the same command" >&2
  exit "$rc"
fi

step "density evaluation on the test set (-ELBO and IWAE-$IW on all 10,000 images)"
$bin/evaluate --vae "$dir/model.safetensors" --iw "$IW" --device "$DEVICE" --data "$DATA" \
  --json-out "$OUT/density.json" > "$OUT/density.txt"
step "training curves, density against training seconds"
/usr/bin/python3 tools/plot.py "$dir" >/dev/null
/usr/bin/python3 tools/density_vs_time.py "$OUT/density_vs_time.png" --density "$OUT/density.json" \
  "VAE + PixelCNN decoder 32x3 (-ELBO)=$dir:curve_elbo_nll" --ymax 320 >/dev/null

echo
echo "== done in $(( $(date +%s) - start )) s"
echo "checkpoint: $dir/model.safetensors; reconstructions: $dir/recon.png; training curves: $dir/curves.png"
echo "test NLL against training seconds: $OUT/density_vs_time.png; table as JSON: $OUT/density.json"
echo
cat "$OUT/density.txt"
