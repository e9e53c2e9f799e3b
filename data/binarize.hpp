// Binarization of u8 images into {0, 1} pixels.
//
// Training uses dynamic binarization (pixel ~ Bernoulli(x/255), fresh each
// epoch). Test images are binarized once, by the deterministic hash rule of
// docs/design.md, so every implementation sees the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/random.hpp"

namespace vq::data {

// The bit of pixel i (0..783, row-major) of image n under seed s (docs/design.md).
inline uint8_t test_bit(uint64_t seed, uint64_t n, uint64_t i, uint8_t x, uint64_t pixels_per_image = 784) {
    uint64_t key = (seed << 32) | (n * pixels_per_image + i);
    uint64_t u = splitmix64(key) >> 40;  // 24-bit uniform integer
    return (u * 255 < uint64_t(x) << 24) ? 1 : 0;
}

// pixels: [count, H*W] bytes of images first..first+count -> f32 [count, 1, H, W] of 0/1.
Tensor binarize_deterministic(const uint8_t* pixels, int64_t first, int64_t count, int64_t height, int64_t width,
                              uint64_t seed = 0);
// Bernoulli(x/255) per pixel, from gen.
Tensor binarize_dynamic(const uint8_t* pixels, int64_t count, int64_t height, int64_t width, Generator& gen);

}  // namespace vq::data
