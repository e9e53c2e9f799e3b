#!/usr/bin/env python3
"""Times the reference models' training step in PyTorch and in this project,
in one run, on the same device, threads and batch, and prints the ratio.

    python3 tools/compare_torch.py [--device cpu|cuda] [--threads 1 2] [--batch 128]
                                   [--bench build/tools/bench] [--steps 20]
                                   [--models vqvae vae prior pixelcnn]

The PyTorch models follow docs/design.md exactly (same layers, same
losses, the VQ-VAE's EMA codebook update included). The step is forward,
backward and Adam, FP32. Not part of the test suite.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def build_models(torch, nn, F):
    class ResBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(128, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 128, 1)

        def forward(self, x):
            return x + self.conv2(F.relu(self.conv1(F.relu(x))))

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 64, 4, 2, 1)
            self.conv2 = nn.Conv2d(64, 128, 4, 2, 1)
            self.conv3 = nn.Conv2d(128, 128, 3, padding=1)
            self.res1, self.res2 = ResBlock(), ResBlock()

        def features(self, x):
            h = F.relu(self.conv2(F.relu(self.conv1(x))))
            return F.relu(self.res2(self.res1(self.conv3(h))))

    class Tail(nn.Module):
        def __init__(self):
            super().__init__()
            self.res1, self.res2 = ResBlock(), ResBlock()
            self.deconv1 = nn.ConvTranspose2d(128, 64, 4, 2, 1)
            self.deconv2 = nn.ConvTranspose2d(64, 1, 4, 2, 1)

        def logits(self, h):
            return self.deconv2(F.relu(self.deconv1(F.relu(self.res2(self.res1(h))))))

    class VQVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Trunk()
            self.encoder.proj = nn.Conv2d(128, 64, 1)
            self.decoder = Tail()
            self.decoder.conv1 = nn.Conv2d(64, 128, 3, padding=1)
            self.register_buffer("codebook", torch.empty(512, 64).uniform_(-1 / 512, 1 / 512))
            self.register_buffer("N", torch.zeros(512))
            self.register_buffer("m", self.codebook.clone())

        def step(self, x):
            z_e = self.encoder.proj(self.encoder.features(x))
            flat = z_e.permute(0, 2, 3, 1).reshape(-1, 64)
            e = self.codebook
            dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
            codes = dist.argmin(1)
            z_q = e[codes].view(x.shape[0], 7, 7, 64).permute(0, 3, 1, 2)
            z = z_e + (z_q - z_e).detach()
            logits = self.decoder.logits(self.decoder.conv1(z))
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
            commit = 0.25 * (z_e - z_q.detach()).pow(2).sum() / x.shape[0]
            return recon + commit, flat.detach(), codes

        @torch.no_grad()
        def ema(self, flat, codes):
            n = torch.zeros(512, device=flat.device).index_add_(0, codes, torch.ones_like(codes, dtype=flat.dtype))
            s = torch.zeros_like(self.m).index_add_(0, codes, flat)
            self.N.mul_(0.99).add_(0.01 * n)
            self.m.mul_(0.99).add_(0.01 * s)
            total = self.N.sum()
            smoothed = (self.N + 1e-5) / (total + 512e-5) * total
            self.codebook.copy_(self.m / smoothed[:, None])

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Trunk()
            self.encoder.fc = nn.Linear(6272, 64)
            self.decoder = Tail()
            self.decoder.fc = nn.Linear(32, 6272)

        def step(self, x):
            stats = self.encoder.fc(self.encoder.features(x).flatten(1))
            mu, logvar = stats[:, :32], stats[:, 32:]
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = self.decoder.logits(self.decoder.fc(z).view(-1, 128, 7, 7))
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / x.shape[0]
            return recon + kl

    class Gated(nn.Module):
        def __init__(self, first, C=64, side=7):
            super().__init__()
            self.first, self.C, self.side = first, C, side
            self.vert = nn.Conv2d(C, 2 * C, (2, 3), padding=(1, 1))
            self.vert_to_horiz = nn.Conv2d(2 * C, 2 * C, 1)
            self.horiz = nn.Conv2d(C, 2 * C, (1, 2), padding=(0, 1))
            self.horiz_resid = nn.Conv2d(C, C, 1)
            mv = torch.ones(1, 1, 2, 3)
            mh = torch.ones(1, 1, 1, 2)
            if first:
                mv[:, :, 1] = 0
                mh[:, :, :, 1] = 0
            self.register_buffer("mv", mv)
            self.register_buffer("mh", mh)

        def forward(self, xv, xh):
            C, S = self.C, self.side
            gate = lambda a: torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
            v = F.conv2d(xv, self.vert.weight * self.mv, self.vert.bias, padding=(1, 1))[:, :, :S]
            h = F.conv2d(xh, self.horiz.weight * self.mh, self.horiz.bias, padding=(0, 1))[:, :, :, :S]
            out_h = self.horiz_resid(gate(self.vert_to_horiz(v) + h))
            return gate(v), out_h if self.first else out_h + xh

    class Prior(nn.Module):
        """The prior (512 codes, 64 x 10 at 7x7) or, with symbols=2, C=32, layers=8,
        side=28, the pixel model (train --model pixelcnn)."""

        def __init__(self, symbols=512, C=64, layers=10, side=7):
            super().__init__()
            self.embedding = nn.Embedding(symbols, C)
            self.layers = nn.ModuleList([Gated(i == 0, C, side) for i in range(layers)])
            self.output = nn.Conv2d(C, symbols, 1)

        def step(self, codes):
            x = self.embedding(codes).permute(0, 3, 1, 2)
            xv = xh = x
            for layer in self.layers:
                xv, xh = layer(xv, xh)
            return F.cross_entropy(self.output(xh), codes)

    return VQVAE, VAE, Prior


def time_torch(model_name, device, threads, batch, steps, warmup):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    VQVAE, VAE, Prior = build_models(torch, nn, F)
    dev = torch.device(device)
    images = (torch.rand(batch, 1, 28, 28) < 0.3).float().to(dev)
    codes = torch.randint(0, 512, (batch, 7, 7)).to(dev)
    if model_name == "pixelcnn":  # the pixels are its symbols
        codes = images.long().reshape(batch, 28, 28)
        model = Prior(symbols=2, C=32, layers=8, side=28).to(dev)
    else:
        model = {"vqvae": VQVAE, "vae": VAE, "prior": Prior}[model_name]().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        if model_name == "vqvae":
            loss, flat, c = model.step(images)
            loss.backward()
            opt.step()
            model.ema(flat, c)
        elif model_name == "vae":
            loss = model.step(images)
            loss.backward()
            opt.step()
        else:
            loss = model.step(codes)
            loss.backward()
            opt.step()
        loss.item()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def ensure_torch():
    """Debian's PyTorch (python3-torch, 1.13 on bookworm), installed when missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        if os.geteuid() != 0:
            sys.exit("compare_torch: PyTorch is missing; install it with: sudo apt-get install python3-torch")
        print("compare_torch: installing python3-torch", file=sys.stderr, flush=True)
        install = ["apt-get", "install", "-y", "--no-install-recommends", "python3-torch"]
        if subprocess.run(install).returncode != 0:  # a fresh image has no package lists yet
            subprocess.run(["apt-get", "update"], check=True)
            subprocess.run(install, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=None)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["vqvae", "vae", "prior", "pixelcnn"],
                    choices=["vqvae", "vae", "prior", "pixelcnn"])
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", "build", "tools", "bench"))
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    args = ap.parse_args()
    ensure_torch()
    threads = args.threads or ([1, 2] if args.device == "cpu" else [1])
    rows = []
    for t in threads:
        for m in args.models:
            # PyTorch as the issue configures it: its own intra-op pool of t
            # threads, with OpenBLAS single-threaded inside (t x t threads
            # would oversubscribe the cores and slow PyTorch down)
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(t))
            torch_ms = subprocess.run(
                [sys.executable, __file__, "--_torch-one", m, args.device, str(t), str(args.batch), str(args.steps),
                 str(args.warmup)], env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            ours = subprocess.run(
                [args.bench, "--model", m, "--device", args.device, "--batch", str(args.batch), "--steps",
                 str(args.steps), "--warmup", str(args.warmup), "--json"]
                + (["--threads", str(t)] if args.device == "cpu" else []),
                env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            ours = json.loads(ours)
            row = {"model": m, "device": args.device, "threads": t, "batch": args.batch, "torch_ms": float(torch_ms),
                   "ours_ms": ours["step_ms"], "ratio": ours["step_ms"] / float(torch_ms),
                   "ours_peak_rss_mb": ours["peak_rss_mb"]}
            rows.append(row)
            print(f"{m:<8} {args.device:<5} threads {t}: ours {row['ours_ms']:8.1f} ms, "
                  f"PyTorch {row['torch_ms']:8.1f} ms, ratio {row['ratio']:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_torch-one":
        m, dev, t, b, s, w = sys.argv[2:8]
        print(time_torch(m, dev, int(t), int(b), int(s), int(w)))
    else:
        main()
