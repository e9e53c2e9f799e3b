// The .vqz codec: VQ-VAE codes arithmetic-coded (rANS) under the Gated
// PixelCNN prior's conditionals, and, in lossless mode, every pixel under the
// decoder's Bernoulli probability given the codes. The coded size is then the
// VQ-VAE + prior density bound made real.
//
// File layout (little-endian): "VQZ" + version (4 bytes), flags (1: bit 0
// lossless, bits 1-2 the input's kind: 0 IDX directory, 1 PNG, 2 IDX file), image count (4), height (1), width
// (1), a 64-bit hash of both model files (8) -- 19 bytes -- then one rANS
// stream. Decode order, per chunk of kChunk images: code positions in raster
// order (all images of the chunk at each position), then each image's pixels.
// Both sides compute the prior's conditionals with IncrementalPixelCNN (one
// position at a time, in the same order), so their floats agree bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codec/io.hpp"
#include "models/pixelcnn.hpp"
#include "models/vqvae.hpp"

namespace vq::codec {

constexpr uint8_t kVersion = 2;  // 2: prior probabilities from IncrementalPixelCNN
constexpr int64_t kChunk = 100;
constexpr size_t kHeaderBytes = 19;

struct Models {
    // K comes from the files; a prior of another K than the VQ-VAE's is refused.
    Models(const std::string& vqvae_path, const std::string& prior_path, Device device);
    std::unique_ptr<models::VQVAE> vqvae;
    std::unique_ptr<models::GatedPixelCNN> prior;
    uint64_t hash = 0;  // FNV-1a over both files' bytes
    Device device;
};

struct Stats {
    int64_t images = 0;
    size_t bytes = 0;               // the whole file
    double ideal_bits = 0;          // -log2 of the model's probability of what was coded
    int64_t pixel_errors = 0;       // lossy mode: pixels that differ from the input
    double seconds = 0;
};

// bits: [N, 1, H, W] of 0/1 (f32).
std::string compress(Models& m, const Tensor& bits, bool lossless, InputKind kind, Stats* stats = nullptr);

struct Decoded {
    Tensor bits;  // [N, 1, H, W]
    bool lossless = false;
    InputKind kind = InputKind::IdxDirectory;  // what was compressed, so it is written back as such
};
// `name` is used in error messages. Fails clearly for other models or damaged files.
Decoded decompress(Models& m, const std::string& file, const std::string& name, Stats* stats = nullptr);

uint64_t fnv1a64(const std::string& bytes, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace vq::codec
