// What compress reads and decompress writes: the IDX test set under the
// deterministic binarization (a directory), or one 1-bit PNG (a file).
#pragma once

#include <string>

#include "tensor/tensor.hpp"

namespace vq::codec {

struct BinaryImages {
    Tensor bits;  // [N, 1, 28, 28] of 0/1
    bool from_png = false;
};

// DIR: its t10k images, binarized deterministically (seed 0), first `limit` (0: all).
// FILE.png: one image, pixels >= 0.5 are 1.
BinaryImages read_binary_images(const std::string& path, int64_t limit);
// from_png: `path` is a PNG file (one image). Otherwise `path` is a directory
// and gets t10k-images-idx3-ubyte with pixels 0 or 255 (which binarize back
// to the same bits).
void write_binary_images(const std::string& path, const Tensor& bits, bool from_png);

}  // namespace vq::codec
