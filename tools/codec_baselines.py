#!/usr/bin/env python3
"""Standard lossless codecs on the same bits as the .vqz codec, for the README's
comparison table: the Fashion-MNIST test set under docs/design.md's
deterministic binarization (recomputed here with numpy, independently of the
C++ code), coded one image at a time and as the whole set in one image.

    /usr/bin/python3 tools/codec_baselines.py [--data DIR] [--limit N] [--json FILE]
                                               [--vqz-lossless STATS.json] [--vqz-lossy STATS.json]
                                               [--evaluate DENSITY.json]

Needs python3-numpy and jbigkit-bin (pbmtojbg); installs jbigkit-bin if missing.
"""
import argparse
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import numpy as np


def load_bits(data_dir, limit):
    with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    n, h, w = struct.unpack(">III", raw[4:16])
    x = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h * w)[:limit].astype(np.uint64)
    n = x.shape[0]
    key = (np.arange(n, dtype=np.uint64)[:, None] * np.uint64(784) + np.arange(784, dtype=np.uint64)[None, :])
    with np.errstate(over="ignore"):
        z = key + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = z >> np.uint64(40)
    bits = (u * np.uint64(255) < x * np.uint64(1 << 24)).astype(np.uint8)
    return bits.reshape(n, 28, 28)


def png_1bit(img):
    h, w = img.shape
    rows = np.packbits(img, axis=1)
    raw = b"".join(b"\x00" + r.tobytes() for r in rows)
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def jbig_bytes(img, tmp):
    h, w = img.shape
    pbm = f"P4\n{w} {h}\n".encode() + np.packbits(img, axis=1).tobytes()
    src, dst = os.path.join(tmp, "in.pbm"), os.path.join(tmp, "out.jbg")
    with open(src, "wb") as f:
        f.write(pbm)
    subprocess.run(["pbmtojbg", src, dst], check=True, capture_output=True)
    return os.path.getsize(dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--json")
    ap.add_argument("--vqz-lossless")
    ap.add_argument("--vqz-lossy")
    ap.add_argument("--evaluate")
    args = ap.parse_args()
    if shutil.which("pbmtojbg") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "jbigkit-bin"], check=True, capture_output=True)
    bits = load_bits(args.data, args.limit)
    n = bits.shape[0]
    # docs/design.md's test vectors: the same bits as the C++ binarization
    assert bits[0].sum() == 144 and (n < 2 or bits[1].sum() == 403), "binarization differs from docs/design.md"
    packed = [np.packbits(b.reshape(-1)).tobytes() for b in bits]
    whole = b"".join(packed)
    stack = bits.reshape(n * 28, 28)
    rows = []
    def add(name, per_image_bytes, note=""):
        rows.append({"codec": name, "bytes_per_image": per_image_bytes, "bits_per_dim": 8 * per_image_bytes / 784, "note": note})
    add("raw packed bits", len(whole) / n)
    add("gzip -9, per image", sum(len(gzip.compress(p, 9)) for p in packed) / n)
    add("gzip -9, whole set", len(gzip.compress(whole, 9)) / n)
    add("xz -9, per image", sum(len(lzma.compress(p, preset=9)) for p in packed) / n)
    add("xz -9, whole set", len(lzma.compress(whole, preset=9)) / n)
    add("1-bit PNG, per image", sum(len(png_1bit(b)) for b in bits) / n)
    add("1-bit PNG, whole set as one image", len(png_1bit(stack)) / n)
    with tempfile.TemporaryDirectory() as tmp:
        add("JBIG (pbmtojbg), per image", sum(jbig_bytes(b, tmp) for b in bits) / n)
        add("JBIG (pbmtojbg), whole set as one image", jbig_bytes(stack, tmp) / n)
    if args.evaluate:
        ev = json.load(open(args.evaluate))
        ln2 = np.log(2)
        add("ideal: prior NLL (codes only)", ev["prior_nats"] / ln2 / 8, "from evaluate")
        add("ideal: prior + recon NLL (lossless bound)", ev["vqvae_prior_nats"] / ln2 / 8, "from evaluate")
    for label, path in (("this codec, lossless (.vqz)", args.vqz_lossless), ("this codec, lossy (.vqz)", args.vqz_lossy)):
        if path:
            st = json.load(open(path))
            note = f"{st['images_per_s']:.0f} images/s to compress"
            if "pixel_error_rate" in st:
                note += f"; pixel error rate {st['pixel_error_rate']:.4f}"
            add(label, st["bytes_per_image"], note)
    print(f"{n} binarized Fashion-MNIST test images (784 bits each)")
    print(f"{'codec':<44} {'bytes/image':>12} {'bits/dim':>9}  note")
    for r in rows:
        print(f"{r['codec']:<44} {r['bytes_per_image']:>12.2f} {r['bits_per_dim']:>9.4f}  {r['note']}")
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
