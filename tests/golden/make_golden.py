#!/usr/bin/env python3
"""Writes the PyTorch golden values that tests/test_golden.cpp checks against.

Run once, by hand, where PyTorch is installed (Debian: python3-torch); the
.safetensors files it writes are committed beside it, so the test suite itself
never needs PyTorch. Everything is float64 so that the comparison can be tight.

  python3 tests/golden/make_golden.py            (writes tests/golden/*.safetensors)

Files and what they hold:
- conv_transpose2d.safetensors: x [2, 3, 5, 5], w [3, 4, 4, 4], b [4], stride 2,
  padding 1; y = conv_transpose2d(x, w, b); r [same shape as y] a fixed random
  weighting; dx, dw, db the gradients of sum(y * r).
- bce_with_logits.safetensors: logits [4, 6] (some of magnitude 30 and 80),
  target in {0, 1} and in between; loss = mean BCE-with-logits; dlogits its
  gradient.
- adam.safetensors: p0 [5] and three gradients g1..g3; after each step, the
  parameter p1..p3 of torch.optim.Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8,
  weight_decay=0.1) (L2) and q1..q3 of torch.optim.AdamW with the same
  settings (decoupled decay). The gradients are given, not computed, so the
  step alone is tested.
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from safetensors_interop import write  # noqa: E402  (the independent numpy writer)

torch.manual_seed(20261128)
f64 = torch.float64


def numpy_dict(d):
    return {k: v.detach().numpy() for k, v in d.items()}


def conv_transpose():
    x = torch.randn(2, 3, 5, 5, dtype=f64, requires_grad=True)
    w = torch.randn(3, 4, 4, 4, dtype=f64, requires_grad=True)
    b = torch.randn(4, dtype=f64, requires_grad=True)
    y = F.conv_transpose2d(x, w, b, stride=2, padding=1)
    r = torch.randn(y.shape, dtype=f64)
    (y * r).sum().backward()
    return {"x": x, "w": w, "b": b, "y": y, "r": r, "dx": x.grad, "dw": w.grad, "db": b.grad}


def bce():
    logits = torch.randn(4, 6, dtype=f64) * 3
    logits[0, 0], logits[1, 1], logits[2, 2], logits[3, 3] = 30.0, -30.0, 80.0, -80.0
    target = (torch.rand(4, 6, dtype=f64) > 0.5).to(f64)
    target[3, 5] = 0.25  # soft targets are allowed too
    logits.requires_grad_(True)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="mean")
    loss.backward()
    return {"logits": logits, "target": target, "loss": loss.reshape(1), "dlogits": logits.grad}


def adam():
    p0 = torch.randn(5, dtype=f64)
    grads = [torch.randn(5, dtype=f64) for _ in range(3)]
    out = {"p0": p0}
    for name, cls in (("p", torch.optim.Adam), ("q", torch.optim.AdamW)):
        p = p0.clone().requires_grad_(True)
        opt = cls([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
        for i, g in enumerate(grads, 1):
            p.grad = g.clone()
            opt.step()
            out[f"{name}{i}"] = p.detach().clone()
    for i, g in enumerate(grads, 1):
        out[f"g{i}"] = g
    return out


def main():
    for name, make in (("conv_transpose2d", conv_transpose), ("bce_with_logits", bce), ("adam", adam)):
        path = os.path.join(HERE, name + ".safetensors")
        write(path, numpy_dict(make()))
        print("wrote", path, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
