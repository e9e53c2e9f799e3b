#!/bin/bash
# The flagship with the small autoregressive decoder (16 channels x 2
# layers), at K = 4 and K = 2 (the best rate moves when the decoder gets
# stronger); batch 32, lr 1e-3, one thread; each VQ-VAE then its prior.
B=/work/ar/build/tools/train
T=/work/runs/tune
while ! grep -q ALL_DONE $T/summary.txt; do sleep 10; done
common=(--epochs 1 --threads 1 --eval-every 200 --curve-limit 1000 --log-every 50 --batch 32 --lr 1e-3)
run() { name=$1; shift; rm -rf $T/$name; $B "${common[@]}" "$@" --out $T/$name > $T/$name.log 2>&1; grep "epoch 1 done" $T/$name.log | sed "s/^/$name: /" >> $T/summary.txt; }
for K in 4 2; do
  run vq${K}_ar16x2 --model vqvae --preset density --codes $K --decoder pixelcnn --decoder-channels 16 --decoder-layers 2
  run vq${K}_ar16x2_prior --model prior --vqvae $T/vq${K}_ar16x2/model.safetensors
done
echo ALL_DONE_3 >> $T/summary.txt
