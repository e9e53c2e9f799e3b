// IDX files (the MNIST family's format), plain or gzip-compressed:
// big-endian u32 magic 0x000008NN (0x08 = u8 data, NN = number of dims),
// one big-endian u32 per dim, then the raw bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace vq::data {

struct IdxArray {
    std::vector<int64_t> dims;
    std::vector<uint8_t> bytes;
};

// Reads and validates a whole file, plain or gzip, as a stream: the header is
// checked before the data is read, and memory grows only with the data that
// really comes, so a small file that claims (or inflates to) far more than
// its header describes is refused cheaply. Every error names the file and
// says what was expected and what came.
IdxArray read_idx(const std::string& path);
// Parses bytes already in memory (the decompressed file), for tests and
// fuzzing; the same parser and messages as read_idx.
IdxArray parse_idx(const std::string& bytes, const std::string& name);

// Writes u8 images [N, H, W] as an uncompressed IDX file (magic 0x00000803), atomically.
void write_idx_images(const std::string& path, const std::vector<uint8_t>& pixels, int64_t n, int64_t h, int64_t w);

// The pixels stay bytes (47 MB for Fashion-MNIST's training set); batches
// are binarized from them, so no float copy of the whole set is ever made.
struct Dataset {
    std::vector<uint8_t> pixels;  // row-major [N, H, W]
    std::vector<uint8_t> labels;  // [N], empty if the label file is absent
    int64_t count = 0, height = 0, width = 0;
};

// The split is "train" or "t10k"; files are `<split>-images-idx3-ubyte[.gz]`
// and `<split>-labels-idx1-ubyte[.gz]` in `dir`.
Dataset load_split(const std::string& dir, const std::string& split);

inline const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

}  // namespace vq::data
