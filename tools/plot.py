#!/usr/bin/python3
"""Draws a training run's metrics.jsonl as curves against the step.

    tools/plot.py RUN_DIR [--out FILE.png]

RUN_DIR is a `train --out` folder. One panel per quantity the run logged:
the loss and its terms (recon, commitment, KL, ...), the VQ-VAE's batch
perplexity and the codes used per epoch, and the test NLL at each epoch's
end (dots). Writes RUN_DIR/curves.png unless --out is given.
"""
import argparse
import json
import os
import sys

SKIP = {"step", "epoch", "epoch_end", "images_per_s", "seconds", "curve_images"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--out")
    a = ap.parse_args()
    path = os.path.join(a.run, "metrics.jsonl")
    try:
        lines = [json.loads(line) for line in open(path) if line.strip()]
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"plot.py: {path}: {e}")
    steps = [r for r in lines if "epoch_end" not in r]
    ends = [r for r in lines if "epoch_end" in r]
    keys = sorted({k for r in steps for k in r} - SKIP)
    end_keys = sorted({k for r in ends for k in r} - SKIP)
    if not keys and not end_keys:
        sys.exit(f"plot.py: {path}: no metrics to draw")
    try:
        model = json.load(open(os.path.join(a.run, "config.json"))).get("model", "")
    except (OSError, json.JSONDecodeError):
        model = ""

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = keys + end_keys
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), dpi=110, squeeze=False)
    for ax, key in zip(axes.flat, panels):
        src = steps if key in keys else ends
        pts = [(r["step"], r[key]) for r in src if key in r]
        xs, ys = zip(*pts)
        if key in keys:
            ax.plot(xs, ys, lw=1.2)
        else:
            ax.plot(xs, ys, "o-", color="C3")
        ax.set_title(key.replace("_", " ") + (" (epoch end)" if key in end_keys else ""), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{model} training: {os.path.normpath(a.run)}", fontsize=10)
    fig.tight_layout()
    out = a.out or os.path.join(a.run, "curves.png")
    fig.savefig(out + ".tmp.png")
    os.replace(out + ".tmp.png", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
