// Bits-back coding with ANS (BB-ANS) under the Gaussian VAE: a lossless
// codec whose cost per image approaches the VAE's -ELBO.
//
// To code an image x on a stack (codec/ans_stack.hpp):
//   1. pop a latent z under the posterior q(z|x): about -log q(z|x) bits come
//      off the stack (the "bits back");
//   2. push x under the decoder's Bernoulli probabilities p(x|z);
//   3. push z under the prior p(z).
// Net cost: -log p(x|z) - log p(z) + log q(z|x), whose mean is the -ELBO.
// Decoding runs the steps backwards: pop z under the prior, pop x under
// p(x|z), recompute q(z|x) from x and push z back under it, which restores
// the bits the encoder popped.
//
// The latent is discretized: each of its 32 dimensions is cut into 2^p
// buckets of equal mass under N(0, 1) (edges at the normal quantiles
// i / 2^p), so each bucket has prior probability 2^-p and stands for its
// centre quantile. The posterior N(mu, sigma) gives each bucket a mass,
// quantized to integer frequencies at `posterior_bits` of precision (every
// bucket at least 1); a bucket's cumulative frequency is a closed formula,
// so pops find their bucket by binary search over the CDF.
//
// Several independent stacks ("lanes") run side by side, one image per lane
// per step, so the networks run batched. Each lane starts from a few
// pseudo-random words (the first pop needs bits to take); they are counted
// in the file size, and decoding must end with exactly them again.
//
// File layout (little-endian): "BBA", version (1), flags (1: bits 1-2 the
// input's kind, as in .vqz), image count (4), height (1), width (1), a 64-bit hash of
// the model file (8), a 64-bit checksum of the images (8), lanes (2), p (1),
// posterior precision (1) -- 31 bytes -- then per lane its word count (4)
// and its words (4 each).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/vqz.hpp"
#include "models/vae.hpp"

namespace vq::codec {

constexpr uint8_t kBitsBackVersion = 1;
constexpr size_t kBitsBackHeaderBytes = 31;

struct BitsBackConfig {
    uint32_t latent_bits = 10;      // p: 2^p buckets per latent dimension
    uint32_t posterior_bits = 18;   // precision of the posterior's frequencies (> p)
    int64_t lanes = 32;             // independent stacks (the networks' batch)
};

struct VaeModel {
    VaeModel(const std::string& vae_path, Device device);
    std::unique_ptr<models::VAE> vae;
    uint64_t hash = 0;  // FNV-1a over the file's bytes
    Device device;
};

// The discretization shared by both sides: 2^p + 1 bucket edges (the first
// and last infinite) and 2^p centres, the normal quantiles.
struct LatentBuckets {
    explicit LatentBuckets(uint32_t bits);
    uint32_t bits;
    std::vector<double> edges, centres;
};

// Standard normal CDF and its inverse (to about 1e-15).
double normal_cdf(double x);
double normal_quantile(double u);

// bits: [N, 1, 28, 28] of 0/1. stats->ideal_bits is the sum over images of
// the -ELBO at the coded latent: -log2 p(x|z) + KL(q(z|x) || N(0, I)) in bits.
std::string compress_bits_back(VaeModel& m, const Tensor& bits, InputKind kind, const BitsBackConfig& config,
                               Stats* stats = nullptr);
// Fails clearly (naming `name`) for another model, a damaged or truncated
// file, and a decode that does not reproduce the checksum.
Decoded decompress_bits_back(VaeModel& m, const std::string& file, const std::string& name, Stats* stats = nullptr);

// FNV-1a over the images' bits, one byte per pixel: the file's checksum.
uint64_t images_checksum(const Tensor& bits);

}  // namespace vq::codec
