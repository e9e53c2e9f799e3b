#!/bin/bash
# The flagship at batch 32: the density preset's VQ-VAE (K = 4) at lr 1e-3,
# then its prior at batch 32 and lr 1e-3; and the VAE with a small
# autoregressive decoder (16 channels x 2 layers) at batch 32. One thread each.
B=/work/ar/build/tools/train
T=/work/runs/tune
common=(--epochs 1 --threads 1 --eval-every 200 --curve-limit 1000 --log-every 50 --batch 32 --lr 1e-3)
run() { name=$1; shift; rm -rf $T/$name; $B "${common[@]}" "$@" --out $T/$name > $T/$name.log 2>&1; grep "epoch 1 done" $T/$name.log | sed "s/^/$name: /" >> $T/summary.txt; }
run vq4_b32_1e-3 --model vqvae --preset density
run vq4_b32_1e-3_prior --model prior --vqvae $T/vq4_b32_1e-3/model.safetensors
run vae_ar16x2_b32_1e-3 --model vae --decoder pixelcnn --decoder-channels 16 --decoder-layers 2
echo ALL_DONE >> $T/summary.txt
