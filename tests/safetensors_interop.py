#!/usr/bin/env python3
"""An independent safetensors reader/writer in a few lines of numpy, for the
interchange test. It shares no code with the C++ implementation.

  safetensors_interop.py write PATH   writes the fixture tensors below
  safetensors_interop.py check PATH   reads PATH and verifies the same fixture
"""
import json
import struct
import sys

import numpy as np


def fixture():
    return {
        "encoder.conv1.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7.0 - 1.5,
        "encoder.conv1.bias": np.array([0.25, -3.5], dtype=np.float32),
        "counts": np.array([[1, -2, 3]], dtype=np.int64),
        "precise": np.array([np.pi, np.e], dtype=np.float64),
    }


DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def write(path, tensors):
    header, blobs, offset = {"__metadata__": {"writer": "numpy"}}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(body[b:e], dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        write(path, fixture())
        return 0
    got, want = read(path), fixture()
    if sorted(got) != sorted(want):
        print(f"names differ: {sorted(got)} vs {sorted(want)}")
        return 1
    for name, a in want.items():
        if got[name].shape != a.shape or got[name].dtype != a.dtype or not np.array_equal(got[name], a):
            print(f"tensor {name} differs: {got[name]!r} vs {a!r}")
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
