// The pixel codec: binary images coded losslessly, every pixel under the
// conditional of the pixel-level Gated PixelCNN (train --model pixelcnn),
// by rANS. The model's NLL is exact, so the file is that NLL made real:
// sum over pixels of -log2 p(pixel | the pixels before it), plus the header.
//
// File layout (little-endian), format version 1: "VQP" + version (4 bytes),
// flags (1: bits 1-2 the input's kind: 0 IDX directory, 1 PNG, 2 IDX file;
// the rest 0), image count (4), height (1), width (1), a 64-bit FNV-1a hash
// of the model file (8), then the seal of codec/bytes.hpp: the payload's
// length (4) and a checksum of every other byte of the file (8) -- 31 bytes
// -- then one rANS stream. Decode order: chunks of kPixelChunk images; in a
// chunk, pixel positions in raster order, and at each position the chunk's
// images in order. So the decoder advances a whole chunk one position at a
// time: one batched network step per position, not per pixel.
//
// Both sides compute the conditionals with IncrementalPixelCNN over the same
// chunks, on one thread (OneThread in codec/bytes.hpp), so their floats, and
// so their frequencies, agree bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codec/io.hpp"
#include "codec/vqz.hpp"
#include "models/pixelcnn.hpp"

namespace vq::codec {

constexpr uint8_t kPixelVersion = 1;
// Images advanced together: wide enough that each step's GEMMs run at speed,
// small enough that a chunk's state (a few MB) stays in cache.
constexpr int64_t kPixelChunk = 256;
constexpr size_t kPixelHeaderBytes = 31;

struct PixelModel {
    // A pixel PixelCNN's model file (models::load_pixelcnn checks its kind).
    PixelModel(const std::string& path, Device device);
    std::unique_ptr<models::GatedPixelCNN> model;
    uint64_t hash = 0;  // FNV-1a over the file's bytes
    Device device;
};

// bits: [N, 1, 28, 28] of 0/1 (f32); a PNG kind takes exactly 1 image.
// Stats: bytes, ideal_bits (the model's -log2 p of the images, as coded).
std::string compress_pixels(PixelModel& m, const Tensor& bits, InputKind kind, Stats* stats = nullptr);
// `name` is used in error messages. Fails clearly, naming it, for another
// model, another format version, and any damaged or truncated file.
Decoded decompress_pixels(PixelModel& m, const std::string& file, const std::string& name, Stats* stats = nullptr);

}  // namespace vq::codec
