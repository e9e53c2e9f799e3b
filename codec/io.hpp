// What compress reads and decompress writes, recognised by content, not by
// name: an IDX directory (its t10k images), an IDX images file (plain or
// gzip), or a 1-bit PNG. IDX images are binarized deterministically (seed
// 0), image n by its index n in the set.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.hpp"

namespace vq::codec {

// Stored in the codecs' flags (bits 1-2), so decompress writes the kind it was given.
enum class InputKind : uint8_t { IdxDirectory = 0, Png = 1, IdxFile = 2 };

struct BinaryImages {
    Tensor bits;  // [N, 1, 28, 28] of 0/1
    InputKind kind = InputKind::IdxDirectory;
};

// The first `limit` images (0: all) of an IDX directory or IDX images file;
// a PNG is one image, pixels >= 0.5 are 1. Anything else: an error listing
// the accepted kinds.
BinaryImages read_binary_images(const std::string& path, int64_t limit);
// Writes `bits` as `kind`: an IDX directory gets t10k-images-idx3-ubyte, an
// IDX file is written at `path` (uncompressed), both with pixels 0 or 255
// (which binarize back to the same bits); a PNG holds one image, and more
// is an error rather than a silently dropped rest.
void write_binary_images(const std::string& path, const Tensor& bits, InputKind kind);
// The flag bits of a kind, and back (a damaged value is an error naming `name`).
uint8_t kind_flags(InputKind kind);
InputKind kind_of_flags(uint8_t flags, const std::string& name);
const char* kind_name(InputKind kind);  // "an IDX directory", "a PNG", "an IDX file"
// Empty when `count` images fit the kind; else what is wrong, e.g. "a PNG
// holds exactly 1 image, not 4". The codecs refuse a file whose kind and
// count disagree, and such input to compress.
std::string kind_count_error(InputKind kind, int64_t count);

}  // namespace vq::codec
