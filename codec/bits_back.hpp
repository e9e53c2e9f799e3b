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
// With the autoregressive decoder (models/ar_decoder.hpp), p(x|z) is a
// product of conditionals p(x_j | x_<j, z). The decoder can only compute
// pixel j's once pixels 0..j-1 are known, so it pops them in raster order
// and the encoder pushes them in reverse. Both sides compute every
// conditional through the same incremental masked stack
// (AutoregressiveHead::raster_scan), so their floats agree.
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
// per step, so the networks run batched. A lane has nothing to pop from at
// first: it starts on the endless pseudo-random bottom of codec/ans_stack.hpp,
// which the decoder can make itself. What the first image's pops take from
// it (its latent's -log q bits: up to p bits a dimension, 40 bytes at p =
// 10) is never given back, and with the lane's 8-byte head and two counts
// that is a lane's whole start-up cost. It is paid per lane, so a small set
// gets few lanes (N / images_per_lane, at least 1). When the coded payload
// would be no smaller than the raw bits (one image, or a poor model), the
// raw bits are stored instead: a file is never larger than the raw bits (98
// bytes an image) plus the header.
//
// File layout (little-endian), format version 2: "BBA", version (1), flags
// (1: bits 1-2 the input's kind, as in .vqz; bit 3 stored; the rest 0), image
// count (4), height (1), width (1), a 64-bit hash of the model file (8), a
// 64-bit checksum of the images (8), lanes (2; 0 when stored), p (1),
// posterior precision (1), then the seal of codec/bytes.hpp: the payload's
// length (4) and a checksum of every other byte of the file (8) -- 43 bytes.
// The payload: coded, per lane a varint of the bottom words its encoder
// took, a varint word count and its words (4 each, as AnsStack::words());
// stored, each image's 784 pixels row by row, 8 to a byte, first pixel in the
// high bit (98 bytes an image). A PNG kind holds exactly one image.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/vqz.hpp"
#include "models/vae.hpp"

namespace vq::codec {

// 1: 31-byte header, seeded lanes; 2: the seal, the lanes' endless
// bottoms, lanes by set size, and the stored fallback
constexpr uint8_t kBitsBackVersion = 2;
constexpr size_t kBitsBackHeaderBytes = 43;
constexpr size_t kRawBytesPerImage = 28 * 28 / 8;

struct BitsBackConfig {
    uint32_t latent_bits = 10;      // p: 2^p buckets per latent dimension
    uint32_t posterior_bits = 18;   // precision of the posterior's frequencies (> p)
    int64_t lanes = 32;             // most independent stacks (the networks' batch)
    // Lanes are cut to N / images_per_lane (at least 1): each costs its start.
    int64_t images_per_lane = 64;
    // Store the raw bits when coding would not be smaller. Off only to test
    // the coder on models too poor to beat the raw bits.
    bool store_if_larger = true;
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

// bits: [N, 1, 28, 28] of 0/1 (a PNG kind: N = 1). stats->ideal_bits is the
// sum over images of the -ELBO at the coded latent: -log2 p(x|z) +
// KL(q(z|x) || N(0, I)) in bits (also when the raw bits were stored).
std::string compress_bits_back(VaeModel& m, const Tensor& bits, InputKind kind, const BitsBackConfig& config,
                               Stats* stats = nullptr);
// Fails clearly (naming `name`) for another model, another format version,
// a damaged or truncated file, and a decode that does not reproduce the
// images' checksum.
Decoded decompress_bits_back(VaeModel& m, const std::string& file, const std::string& name, Stats* stats = nullptr);

// FNV-1a over the images' bits, one byte per pixel: the header's images'
// checksum, which a decode must reproduce.
uint64_t images_checksum(const Tensor& bits);

}  // namespace vq::codec
