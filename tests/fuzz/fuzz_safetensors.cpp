// libFuzzer harness for the safetensors loader: arbitrary bytes must give
// tensors whose sizes match their byte ranges, or a clean exception.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "nn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        vq::nn::SafetensorsFile f = vq::nn::parse_safetensors(bytes, "fuzz");
        for (auto& [name, t] : f.tensors)
            if (t.numel() < 0 || size_t(t.numel()) * vq::dtype_size(t.dtype()) > size) __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
