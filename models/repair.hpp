// Repair and denoising with a VQ-VAE and its prior: two of the tutorial's
// uses of a VQ-VAE beyond generation and compression.
//
// Repair of a damaged region: encode the image with the damaged pixels
// blanked, keep every code whose 4x4 pixel patch is undamaged, resample the
// others under the prior in raster order (given every earlier code), and of
// several candidates keep the one that best explains the undamaged pixels:
//   score = log p(undamaged pixels | codes) + log p(codes)
// (the decoder's Bernoulli log-likelihood plus the prior's).
//
// Denoising: encode the noisy image, decode, threshold at 1/2: the codes can
// only describe shapes the VQ-VAE learned, not salt-and-pepper noise.
#pragma once

#include "data/idx.hpp"
#include "models/pixelcnn.hpp"
#include "models/vqvae.hpp"

namespace vq::models {

// mask: [N, 1, 28, 28], 1 where a pixel is damaged -> [N, 7, 7] of 0/1, 1
// where the code's 4x4 patch holds no damaged pixel (the code is kept)
Tensor undamaged_codes(const Tensor& mask);

struct Repaired {
    Tensor probs;  // [N, 1, 28, 28]: the decoder's probabilities of the chosen candidate
    Tensor bits;   // [N, 1, 28, 28]: the known pixels kept, the damaged ones thresholded from probs
    Tensor codes;  // [N, 7, 7]: the chosen candidate's codes
};

// images: [N, 1, 28, 28] of 0/1 (damaged pixels may hold anything); mask as
// above; `candidates` per image, sampled at `temperature`.
Repaired repair_images(const VQVAE& vqvae, const GatedPixelCNN& prior, const Tensor& images, const Tensor& mask,
                       int64_t candidates, double temperature, Generator& gen, Device device);

// images: [N, 1, 28, 28] -> each pixel flipped with probability p
Tensor add_flip_noise(const Tensor& images, double p, Generator& gen);
// encode, decode, threshold: [N, 1, 28, 28] -> [N, 1, 28, 28] of 0/1. With
// flip_p = 0 the threshold is 1/2 (the reconstruction). With the noise
// level flip_p > 0 it is the Bayes decision for each pixel given the
// decoder's probability q and the observed pixel y: clean = 1 when
//   q P(y | 1) > (1 - q) P(y | 0),  P(y | c) = 1 - flip_p if y = c, else flip_p,
// so a pixel is changed only where the decoder is confident enough.
Tensor denoise_images(const VQVAE& vqvae, const Tensor& images, Device device, double flip_p = 0.0);

// The mean of a data set's images, pixels in [0, 1]: [1, 1, H, W] (f32);
// the mean-fill baseline of repair.
Tensor mean_image(const data::Dataset& images);

// A random w x w square per image, inside the 28x28 frame: [N, 1, 28, 28] of 0/1
Tensor random_square_masks(int64_t n, int64_t w, Generator& gen);
// x, y, w, h -> one mask [1, 1, 28, 28]; errors name the rectangle
Tensor rectangle_mask(int64_t x, int64_t y, int64_t w, int64_t h);

}  // namespace vq::models
