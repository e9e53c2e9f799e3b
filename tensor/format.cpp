#include "tensor/format.hpp"

#include <vector>

namespace vq {

namespace {

void format_dim(std::string& out, const std::vector<double>& v, const Shape& shape, const Shape& strides,
                size_t d, int64_t base, int64_t edge, bool integral, int indent) {
    if (d == shape.size()) {
        out += integral ? fmt::format("{}", int64_t(v[base])) : fmt::format("{:.4g}", v[base]);
        return;
    }
    out += "[";
    int64_t n = shape[d];
    for (int64_t i = 0; i < n; ++i) {
        if (n > 2 * edge && i == edge) {
            out += d + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' ');
            i = n - edge;
        }
        format_dim(out, v, shape, strides, d + 1, base + i * strides[d], edge, integral, indent + 1);
        if (i + 1 < n) out += d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' ');
    }
    out += "]";
}

}  // namespace

std::string to_string(const Tensor& t, int64_t edge_items) {
    if (!t.defined()) return "tensor(undefined)";
    std::vector<double> v = t.to_vector();
    std::string body;
    format_dim(body, v, t.shape(), contiguous_strides(t.shape()), 0, 0, edge_items, t.dtype() == DType::I64, 7);
    return fmt::format("tensor({}, shape={}, dtype={}, device={})", body, t.shape_str(), dtype_name(t.dtype()),
                       t.device().str());
}

}  // namespace vq
