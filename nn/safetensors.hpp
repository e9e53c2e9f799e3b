// safetensors files: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}},
// then raw little-endian data. Everything read is validated against the file
// size before any tensor is built; every error names the file.
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.hpp"

namespace vq::nn {

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;
};

// Written atomically (io/files.hpp): a crash at any moment leaves either the
// old file or the new one, never a torn one.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);
// Parses an in-memory image of a file; `name` is used in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

}  // namespace vq::nn
