// Readable printing: fmt::format("{}", t) gives the values, shape and dtype,
// eliding the middle of long dims the way NumPy does.
#pragma once

#include <fmt/format.h>

#include <string>

#include "tensor/tensor.hpp"

namespace vq {
std::string to_string(const Tensor& t, int64_t edge_items = 3);
}

template <> struct fmt::formatter<vq::Tensor> : fmt::formatter<std::string> {
    auto format(const vq::Tensor& t, fmt::format_context& ctx) const {
        return fmt::formatter<std::string>::format(vq::to_string(t), ctx);
    }
};
