// Grayscale PNG output through libpng, for reconstruction and sample grids.
#pragma once

#include <string>

#include "tensor/tensor.hpp"

namespace vq::data {

// Grids are enlarged this many times (nearest neighbour) unless asked
// otherwise: a 28-pixel image is too small to see.
inline constexpr int64_t kDefaultGridScale = 3;

// images: [N, 1, H, W] with values in [0, 1]; laid out `columns` per row with
// a 2-pixel gap, every pixel drawn as a `scale` x `scale` block. Written
// atomically; errors name the file.
void write_png_grid(const std::string& path, const Tensor& images, int64_t columns, int64_t scale = 1);
// One binary image [1, 1, H, W] (or [H, W]) of 0/1 as a 1-bit grayscale PNG, atomically.
void write_png_bits(const std::string& path, const Tensor& bits);
// 1-bit (or any bit depth) grayscale PNG -> f32 [1, 1, H, W] in [0, 1].
Tensor read_png_gray(const std::string& path);

}  // namespace vq::data
