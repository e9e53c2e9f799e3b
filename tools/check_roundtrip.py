#!/usr/bin/python3
"""Checks a lossless round trip against an independent binarization: the
decoded IDX images (a directory holding t10k-images-idx3-ubyte, or an IDX
file) against the test set binarized here with numpy by the deterministic rule
(tools/codec_baselines.py), bit by bit.

    /usr/bin/python3 tools/check_roundtrip.py DECODED [--data DIR]

Prints the number of images and of differing bits; exits 1 if any differ.
"""
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from codec_baselines import load_bits  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("decoded")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    path = os.path.join(a.decoded, "t10k-images-idx3-ubyte") if os.path.isdir(a.decoded) else a.decoded
    raw = open(path, "rb").read()
    if raw[:4] != b"\x00\x00\x08\x03":
        sys.exit(f"{path}: not an IDX images file")
    n, h, w = struct.unpack(">III", raw[4:16])
    decoded = (np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h, w) >= 128).astype(np.uint8)
    expected = load_bits(a.data, n)
    diff = int((decoded != expected).sum())
    print(f"images {n} differing bits {diff} {'identical' if diff == 0 else 'DIFFERENT'}")
    sys.exit(0 if diff == 0 else 1)


if __name__ == "__main__":
    main()
