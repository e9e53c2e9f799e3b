#!/bin/bash
# VAE, 1 epoch each, one thread: the learning-rate schedule and Polyak averaging, on and off
cd /work/main
B=build/tools/train
common=(--model vae --epochs 1 --threads 1 --eval-every 100 --curve-limit 1000 --log-every 50)
run() { name=$1; shift; rm -rf /tmp/tune/$name; $B "${common[@]}" "$@" --out /tmp/tune/$name > /tmp/tune/$name.log 2>&1; grep "epoch 1 done" /tmp/tune/$name.log | sed "s/^/$name: /" >> /tmp/tune/summary.txt; }
run vae_const_2e-4 --lr 2e-4
run vae_const_1e-3 --lr 1e-3
run vae_cos_1e-3 --lr 1e-3 --schedule cosine --warmup 100
run vae_cos_1e-3_polyak --lr 1e-3 --schedule cosine --warmup 100 --polyak 0.998
run vae_const_1e-3_polyak --lr 1e-3 --polyak 0.998
run vae_cos_2e-3_polyak --lr 2e-3 --schedule cosine --warmup 100 --polyak 0.998
echo ALL_DONE >> /tmp/tune/summary.txt
