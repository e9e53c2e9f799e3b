// The .vqz codec: VQ-VAE codes arithmetic-coded (rANS) under the Gated
// PixelCNN prior's conditionals, and, in lossless mode, every pixel under the
// decoder's Bernoulli probability given the codes. The coded size is then the
// VQ-VAE + prior density bound made real.
//
// File layout (little-endian), format version 3: "VQZ" + version (4
// bytes), flags (1: bit 0 lossless, bits 1-2 the input's kind: 0 IDX
// directory, 1 PNG, 2 IDX file; the rest 0), image count (4), height (1),
// width (1), a 64-bit hash of both model files (8), then the seal of
// codec/bytes.hpp: the payload's length (4) and a checksum of every other
// byte of the file (8) -- 31 bytes -- then one rANS stream. A PNG kind holds
// exactly one image. Decode order, per chunk of kChunk images: code
// positions in raster order (all images of the chunk at each position),
// then each image's pixels; with the autoregressive decoder, pixels in
// raster order with all images of the chunk at each position, each under its
// conditional given the pixels before it (lossy mode decodes greedily: the
// likelier value at each position, fed back).
// Both sides compute the prior's conditionals with IncrementalPixelCNN (one
// position at a time, in the same order) and on one thread (OneThread in
// codec/bytes.hpp), so their floats agree bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codec/io.hpp"
#include "io/hash.hpp"
#include "models/pixelcnn.hpp"
#include "models/vqvae.hpp"

namespace vq::codec {

// 2: prior probabilities from IncrementalPixelCNN; 3: the seal (length and
// checksum), so no header byte can be damaged unnoticed
constexpr uint8_t kVersion = 3;
constexpr int64_t kChunk = 100;
constexpr size_t kHeaderBytes = 31;

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
    // bits-back only:
    bool stored = false;            // the raw bits were written: coding them would not have been smaller
    double lane_start_bits = 0;     // what the lanes' starts cost (codec/bits_back.hpp), 0 when stored
};

// bits: [N, 1, H, W] of 0/1 (f32); a PNG kind takes exactly 1 image.
std::string compress(Models& m, const Tensor& bits, bool lossless, InputKind kind, Stats* stats = nullptr);

struct Decoded {
    Tensor bits;  // [N, 1, H, W]
    bool lossless = false;
    InputKind kind = InputKind::IdxDirectory;  // what was compressed, so it is written back as such
};
// `name` is used in error messages. Fails clearly, naming it, for other
// models, another format version, and any damaged or truncated file.
Decoded decompress(Models& m, const std::string& file, const std::string& name, Stats* stats = nullptr);

// FNV-1a (io/hash.hpp) of a file's bytes, continuing h
uint64_t fnv1a64(const std::string& bytes, uint64_t h = io::kFnv1aOffset);

}  // namespace vq::codec
