#!/usr/bin/python3
"""Draws every model's test NLL against its training seconds: the density
comparison per second of compute.

    tools/density_vs_time.py OUT.png [--floor NATS] [--density JSON] RUN...

Each RUN is LABEL=DIR[:KEY][+AFTER]: DIR is a `train --out` folder whose
metrics.jsonl holds the learning curve (train --eval-every: lines with
"seconds" and "curve_<name>"), KEY the curve to draw (default: the first
curve_* key; "test_nll" for the mixture, whose every EM iteration is a
point), and AFTER another run folder whose training seconds come first (a
prior starts when its VQ-VAE has finished, so its curve is shifted by the
VQ-VAE's seconds; draw its "curve_bound_nll", the VQ-VAE's recon plus the
prior). --floor draws the entropy that the binarization itself adds, which
no model can go below (--density reads it from evaluate's JSON instead).
"""
import argparse
import json
import os
import sys


def read_metrics(run):
    path = os.path.join(run, "metrics.jsonl")
    try:
        return [json.loads(line) for line in open(path) if line.strip()]
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"density_vs_time.py: {path}: {e}")


def total_seconds(run):
    return max((r["seconds"] for r in read_metrics(run) if "seconds" in r), default=0.0)


def curve(spec):
    if "=" not in spec:
        sys.exit(f"density_vs_time.py: '{spec}': expected LABEL=DIR[:KEY][+AFTER]")
    label, rest = spec.split("=", 1)
    after = None
    if "+" in rest:
        rest, after = rest.split("+", 1)
    run, key = (rest.split(":", 1) + [None])[:2]
    lines = read_metrics(run)
    if key is None:
        keys = sorted({k for r in lines for k in r if k.startswith("curve_") and k != "curve_images"})
        key = keys[0] if keys else "test_nll"
    pts = [(r["seconds"], r[key]) for r in lines if key in r and "seconds" in r and r[key] is not None]
    if not pts:
        sys.exit(f"density_vs_time.py: {run}/metrics.jsonl has no '{key}' with 'seconds' (train with --eval-every)")
    shift = total_seconds(after) if after else 0.0
    return label, [(s + shift, v) for s, v in pts]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--floor", type=float)
    ap.add_argument("--density", help="evaluate --json-out file: its floor_nats")
    ap.add_argument("--ymax", type=float, help="clip the y axis here (early points are far above)")
    a = ap.parse_args()
    floor = a.floor
    if a.density:
        floor = json.load(open(a.density)).get("floor_nats", floor)
    curves = [curve(s) for s in a.runs]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for i, (label, pts) in enumerate(curves):
        xs, ys = zip(*pts)
        ax.plot(xs, ys, "o-" if len(pts) < 40 else "-", ms=3, lw=1.4, color=f"C{i}",
                label=f"{label}: {ys[-1]:.1f} at {xs[-1]:.0f} s")
    if floor is not None:
        ax.axhline(floor, color="k", ls="--", lw=1, label=f"floor (binarization entropy): {floor:.2f}")
    ymax = a.ymax or max(max(v for _, v in pts) for _, pts in curves)
    ax.set_ylim(min(floor or 1e9, min(min(v for _, v in pts) for _, pts in curves)) - 5, ymax)
    ax.set_xlabel("training seconds (2-core CPU)")
    ax.set_ylabel("test NLL, nats/image (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out + ".tmp.png")
    os.replace(a.out + ".tmp.png", a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
