#!/bin/bash
# The density preset's VQ-VAE (K = 4) with the autoregressive decoder 16x2, then its prior; batch 32, lr 1e-3, 1 thread
B=/work/main/build/tools
cp $B/train /work/runs/vqar/train_bin
T=/work/runs/vqar/train_bin
common=(--epochs 1 --threads 1 --eval-every 400 --curve-limit 1000 --log-every 100 --batch 32 --lr 1e-3)
$T "${common[@]}" --model vqvae --preset density --decoder pixelcnn --decoder-channels 16 --decoder-layers 2 --out vq4_ar16x2 > vq4_ar16x2.log 2>&1
$T "${common[@]}" --model prior --vqvae vq4_ar16x2/model.safetensors --out vq4_ar16x2_prior > vq4_ar16x2_prior.log 2>&1
echo DONE >> vq4_ar16x2_prior.log
