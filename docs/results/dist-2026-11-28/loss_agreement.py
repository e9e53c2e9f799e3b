#!/usr/bin/env python3
"""Per-step training loss of one true batch of 128 against --micro-batch 64
(which equals 2 MPI ranks bit for bit), from the two metrics.jsonl files here:
  build/tools/train --model vqvae --steps 60 --threads 1 --eval-limit 200 --log-every 1 --out single
  build/tools/train --model vqvae --steps 60 --threads 1 --eval-limit 200 --log-every 1 --micro-batch 64 --out micro
"""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))


def losses(name):
    out = {}
    for line in open(os.path.join(here, name)):
        j = json.loads(line)
        if "loss" in j and "epoch_end" not in j:
            out[j["step"]] = j["loss"]
    return out


a, b = losses("single_batch_metrics.jsonl"), losses("micro_batch_metrics.jsonl")
rel = {s: abs(a[s] - b[s]) / abs(a[s]) for s in sorted(set(a) & set(b))}
for upto in (10, 20, 30, 40, 50, 60):
    print(f"steps 1-{upto}: max relative difference {max(v for s, v in rel.items() if s <= upto):.2e}")
