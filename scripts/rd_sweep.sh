#!/usr/bin/env bash
# The rate-distortion sweep: for each codebook size K, train the VQ-VAE and
# its PixelCNN prior for N epochs, evaluate both on the test set, and collect
# the rows into DIR/rd.json and the plot DIR/rd.png (recon, prior and their
# sum against log2 K, with the VAE's -ELBO and IWAE of the same epochs as
# horizontal lines).
#
#   scripts/rd_sweep.sh [--epochs N] [--out DIR] [options] [K ...]
#
# Default K: 2 4 8 16 32 64 128 256 512. Options:
#   --epochs N        epochs of each model (default 1)
#   --out DIR         output folder (default runs/rd)
#   --steps N         cap every training run at N steps (a smoke test)
#   --limit N         evaluate on the first N test images (default: all)
#   --iw K            IWAE samples for the VAE line (default 100, on the first 1,000 images)
#   --tag NAME        names this series of rows (default "K"); rows of other
#                     tags in DIR/rd.json are kept
#   --vqvae-args "…"  extra flags for train --model vqvae (e.g. "--beta 1 --code-dim 16")
#   --prior-args "…"  extra flags for train --model prior (e.g. "--prior-channels 128")
#   --no-vae          leave out the VAE lines
#   --data DIR, --threads N, --device cpu|cuda
#
# A K whose evaluation exists already is skipped, so an interrupted sweep
# continues where it stopped; the VAE is trained once per epoch count.
# Layout: DIR/e{N}/{tag}/k{K}/{vqvae,prior}/ and eval.json; DIR/e{N}/vae/.
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=1 out=runs/rd steps="" limit=0 iw=100 tag=K vqvae_args="" prior_args="" vae=true
data=/usr/share/datasets/fashion-mnist threads=0 device=cpu
ks=()
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --iw) iw=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --vqvae-args) vqvae_args=$2; shift 2 ;;
    --prior-args) prior_args=$2; shift 2 ;;
    --no-vae) vae=false; shift ;;
    --data) data=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "rd_sweep.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *)
      if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 2 ] || [ "$1" -gt 4096 ]; then
        echo "rd_sweep.sh: K must be an integer in 2..4096, got '$1'" >&2; exit 2
      fi
      ks+=("$1"); shift ;;
  esac
done
[ ${#ks[@]} -gt 0 ] || ks=(2 4 8 16 32 64 128 256 512)
for n in "$epochs" "$limit" "$iw" "$threads"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "rd_sweep.sh: expected a number, got '$n'" >&2; exit 2; }
done

bin=${BIN:-build/tools}
if [ -z "${BIN:-}" ]; then
  ./scripts/install_deps.sh
  if [ ! -f build/build.ninja ]; then meson setup build -Dcuda=auto; fi
  ninja -C build >/dev/null
fi

common=(--epochs "$epochs" --data "$data" --threads "$threads" --device "$device")
[ -z "$steps" ] || common+=(--steps "$steps")
eval_args=(--data "$data" --device "$device")
[ "$limit" -eq 0 ] || { eval_args+=(--limit "$limit"); common+=(--eval-limit "$limit"); }
base="$out/e$epochs"
mkdir -p "$base"
log() { echo "== $* ($(date +%T))"; }

if $vae && [ ! -f "$base/vae/eval.json" ]; then
  log "VAE, $epochs epoch(s)"
  rm -rf "$base/vae"
  $bin/train --model vae "${common[@]}" --out "$base/vae"
  iw_limit=1000
  [ "$limit" -eq 0 ] || [ "$limit" -ge 1000 ] || iw_limit=$limit
  $bin/evaluate --vae "$base/vae/model.safetensors" --iw "$iw" --iw-limit "$iw_limit" "${eval_args[@]}" \
    --json-out "$base/vae/eval.json.tmp" >/dev/null
  mv "$base/vae/eval.json.tmp" "$base/vae/eval.json"
fi

for k in "${ks[@]}"; do
  dir="$base/$tag/k$k"
  if [ -f "$dir/eval.json" ]; then log "K = $k: done already ($dir/eval.json)"; continue; fi
  rm -rf "$dir"
  log "K = $k: VQ-VAE, $epochs epoch(s)"
  # shellcheck disable=SC2086  # the extra args are meant to split into flags
  $bin/train --model vqvae --codes "$k" $vqvae_args "${common[@]}" --out "$dir/vqvae"
  log "K = $k: prior, $epochs epoch(s)"
  # shellcheck disable=SC2086
  $bin/train --model prior --vqvae "$dir/vqvae/model.safetensors" $prior_args "${common[@]}" --out "$dir/prior"
  $bin/evaluate --vqvae "$dir/vqvae/model.safetensors" --prior "$dir/prior/model.safetensors" "${eval_args[@]}" \
    --json-out "$dir/eval.json.tmp" >/dev/null
  mv "$dir/eval.json.tmp" "$dir/eval.json"
  log "K = $k: $(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("recon %.2f + prior %.2f = %.2f nats/image" % (r["vqvae_recon_nats"], r["prior_nats"], r["vqvae_prior_nats"]))' "$dir/eval.json")"
done

/usr/bin/python3 tools/rd_plot.py "$out"
