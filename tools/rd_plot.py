#!/usr/bin/python3
"""Collects a rate-distortion sweep (scripts/rd_sweep.sh) into rd.json and rd.png.

    tools/rd_plot.py DIR

Reads DIR/e{N}/{tag}/k{K}/eval.json (with the runs' config.json beside it)
and DIR/e{N}/vae/eval.json. Writes DIR/rd.json:

    {"rows": [{"tag", "codes", "epochs", "recon_nats", "prior_nats",
               "bound_nats", "uniform_nats", "codes_used", "perplexity",
               "code_dim", "beta", "prior_channels", "prior_layers"}, ...],
     "vae":  [{"epochs", "elbo_nats", "iwae_nats", "iw_k", "iw_images"}, ...]}

and DIR/rd.png: recon, prior and their sum (the VQ-VAE + prior bound)
against log2 K, one colour per series (tag and epochs), with the VAE's
-ELBO and IWAE of the same epochs as horizontal lines.
"""
import glob
import json
import math
import os
import re
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def collect(root):
    rows, vae = [], []
    for path in sorted(glob.glob(os.path.join(root, "e*", "*", "k*", "eval.json"))):
        parts = path.split(os.sep)
        m_e, m_k = re.fullmatch(r"e(\d+)", parts[-4]), re.fullmatch(r"k(\d+)", parts[-2])
        if not (m_e and m_k):
            continue
        r = load(path)
        run = os.path.dirname(path)
        vq_cfg = load(os.path.join(run, "vqvae", "config.json"))
        pr_cfg = load(os.path.join(run, "prior", "config.json"))
        rows.append({
            "tag": parts[-3],
            "codes": int(r.get("codes", m_k.group(1))),
            "epochs": int(m_e.group(1)),
            "recon_nats": r["vqvae_recon_nats"],
            "prior_nats": r["prior_nats"],
            "bound_nats": r["vqvae_prior_nats"],
            "uniform_nats": r["vqvae_uniform_nats"],
            "codes_used": r.get("codes_used"),
            "perplexity": r.get("perplexity"),
            "images": r["images"],
            "code_dim": vq_cfg.get("code_dim", 64),
            "beta": vq_cfg.get("beta", 0.25),
            "prior_channels": pr_cfg.get("prior_channels", 64),
            "prior_layers": pr_cfg.get("prior_layers", 10),
            "steps": vq_cfg.get("steps", 0),
        })
    for path in sorted(glob.glob(os.path.join(root, "e*", "vae", "eval.json"))):
        m_e = re.fullmatch(r"e(\d+)", path.split(os.sep)[-3])
        if not m_e:
            continue
        r = load(path)
        vae.append({"epochs": int(m_e.group(1)), "elbo_nats": r["vae_elbo_nats"], "iwae_nats": r["vae_iwae_nats"],
                    "iw_k": r["iw_k"], "iw_images": r.get("iw_images", r["images"]), "images": r["images"]})
    rows.sort(key=lambda x: (x["tag"], x["epochs"], x["codes"]))
    return rows, vae


def plot(rows, vae, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = sorted({(r["tag"], r["epochs"]) for r in rows})
    for i, (tag, epochs) in enumerate(series):
        s = [r for r in rows if r["tag"] == tag and r["epochs"] == epochs]
        x = [math.log2(r["codes"]) for r in s]
        c = colours[i % len(colours)]
        name = f"{tag}, {epochs} epoch{'s' if epochs != 1 else ''}"
        ax.plot(x, [r["bound_nats"] for r in s], "o-", color=c, lw=2, label=f"recon + prior ({name})")
        ax.plot(x, [r["recon_nats"] for r in s], "s--", color=c, lw=1, label=f"recon ({name})")
        ax.plot(x, [r["prior_nats"] for r in s], "^:", color=c, lw=1, label=f"prior ({name})")
    for j, v in enumerate(sorted(vae, key=lambda v: v["epochs"])):
        c = colours[(len(series) + j) % len(colours)]
        e = v["epochs"]
        ax.axhline(v["elbo_nats"], color=c, ls="-.", lw=1, label=f"VAE -ELBO, {e} epoch{'s' if e != 1 else ''}")
        ax.axhline(v["iwae_nats"], color=c, ls=(0, (1, 3)), lw=1,
                   label=f"VAE IWAE-{v['iw_k']}, {e} epoch{'s' if e != 1 else ''}")
    ax.set_xlabel("log2 K (codebook size)")
    ax.set_ylabel("test NLL, nats/image")
    ax.set_title("VQ-VAE rate-distortion: reconstruction vs. prior on binarized Fashion-MNIST")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png")
    os.replace(path + ".tmp.png", path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tools/rd_plot.py DIR  (the --out folder of scripts/rd_sweep.sh)")
    root = sys.argv[1]
    rows, vae = collect(root)
    if not rows:
        sys.exit(f"rd_plot.py: {root}: no evaluated sweep runs (expected {root}/e*/TAG/k*/eval.json)")
    out = {"rows": rows, "vae": vae}
    with open(os.path.join(root, "rd.json.tmp"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(os.path.join(root, "rd.json.tmp"), os.path.join(root, "rd.json"))
    plot(rows, vae, os.path.join(root, "rd.png"))
    print(f"{'tag':>10} {'epochs':>6} {'K':>5} {'recon':>8} {'prior':>8} {'bound':>8} {'used':>5} {'ppl':>7}")
    for r in rows:
        print(f"{r['tag']:>10} {r['epochs']:>6} {r['codes']:>5} {r['recon_nats']:8.2f} {r['prior_nats']:8.2f} "
              f"{r['bound_nats']:8.2f} {r['codes_used']!s:>5} {r['perplexity']:7.1f}")
    for v in vae:
        print(f"VAE {v['epochs']} epoch(s): -ELBO {v['elbo_nats']:.2f}, IWAE-{v['iw_k']} {v['iwae_nats']:.2f}")
    print(f"wrote {os.path.join(root, 'rd.json')} and {os.path.join(root, 'rd.png')}")


if __name__ == "__main__":
    main()
