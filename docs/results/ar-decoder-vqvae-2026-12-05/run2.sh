#!/bin/bash
# K = 2 with the same decoder, after run.sh; then a second prior epoch count for K = 4

T=/work/runs/vqar/train_bin
common=(--threads 1 --eval-every 400 --curve-limit 1000 --log-every 100 --batch 32 --lr 1e-3)
$T "${common[@]}" --epochs 1 --model vqvae --preset density --codes 2 --decoder pixelcnn --decoder-channels 16 --decoder-layers 2 --out vq2_ar16x2 > vq2_ar16x2.log 2>&1
$T "${common[@]}" --epochs 1 --model prior --vqvae vq2_ar16x2/model.safetensors --out vq2_ar16x2_prior > vq2_ar16x2_prior.log 2>&1
echo DONE >> vq2_ar16x2_prior.log
