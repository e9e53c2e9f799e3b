#!/bin/bash
# The batch size at a fixed budget of 1 epoch (60,000 images), one thread each:
# smaller batches give more updates for the same images seen.
cd /work/main
B=build/tools/train
common=(--epochs 1 --threads 1 --eval-every 100 --curve-limit 1000 --log-every 50)
run() { name=$1; shift; rm -rf /work/runs/tune/$name; $B "${common[@]}" "$@" --out /work/runs/tune/$name > /work/runs/tune/$name.log 2>&1; grep "epoch 1 done" /work/runs/tune/$name.log | sed "s/^/$name: /" >> /work/runs/tune/summary.txt; }
run vae_b32_1e-3 --model vae --batch 32 --lr 1e-3
run vae_b32_5e-4 --model vae --batch 32 --lr 5e-4
run vae_b64_1e-3 --model vae --batch 64 --lr 1e-3
echo ALL_DONE >> /work/runs/tune/summary.txt
