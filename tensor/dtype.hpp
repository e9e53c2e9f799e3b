// Element types and devices. Three dtypes are enough for this framework:
// f32 for training, f64 for gradient checks, i64 for indices.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace vq {

enum class DType : uint8_t { F32, F64, I64 };

inline size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }
inline const char* dtype_name(DType d) {
    switch (d) {
        case DType::F32: return "f32";
        case DType::F64: return "f64";
        case DType::I64: return "i64";
    }
    return "?";
}
inline bool is_floating(DType d) { return d != DType::I64; }

template <typename T> constexpr DType dtype_of() {
    if constexpr (std::is_same_v<T, float>) return DType::F32;
    else if constexpr (std::is_same_v<T, double>) return DType::F64;
    else {
        static_assert(std::is_same_v<T, int64_t>, "unsupported element type");
        return DType::I64;
    }
}

// Calls fn.template operator()<T>() with T the C++ type of dtype d.
template <typename Fn> decltype(auto) dispatch_dtype(DType d, Fn&& fn) {
    switch (d) {
        case DType::F32: return fn.template operator()<float>();
        case DType::F64: return fn.template operator()<double>();
        case DType::I64: return fn.template operator()<int64_t>();
    }
    throw std::logic_error("bad dtype");
}
// Same, but only for floating dtypes; `op` names the caller in the error.
template <typename Fn> decltype(auto) dispatch_floating(DType d, const char* op, Fn&& fn) {
    switch (d) {
        case DType::F32: return fn.template operator()<float>();
        case DType::F64: return fn.template operator()<double>();
        default: break;
    }
    throw std::invalid_argument(std::string(op) + ": expected a floating tensor (f32 or f64), got " +
                                dtype_name(d));
}

enum class DeviceType : uint8_t { CPU, CUDA };

// One GPU per process: the CUDA device is the process's current one (rank
// programs pick theirs with CUDA_VISIBLE_DEVICES or cudaSetDevice), so a
// Device needs no index.
struct Device {
    DeviceType type = DeviceType::CPU;

    static Device cpu() { return {}; }
    static Device cuda() { return {DeviceType::CUDA}; }
    bool is_cuda() const { return type == DeviceType::CUDA; }
    bool is_cpu() const { return type == DeviceType::CPU; }
    bool operator==(const Device&) const = default;
    std::string str() const { return is_cpu() ? "cpu" : "cuda"; }
    // Parses "cpu" or "cuda"; throws naming the bad text.
    static Device parse(const std::string& text);
};

}  // namespace vq
