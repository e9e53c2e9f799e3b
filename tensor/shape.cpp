#include "tensor/shape.hpp"

#include <stdexcept>

namespace vq {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t s = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
    return strides;
}

std::string shape_str(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
    int64_t d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim)
        throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(dim) +
                                    " out of range for a tensor with " + std::to_string(ndim) + " dims");
    return d;
}

std::string shape_error(const char* op, const std::string& what, const Shape& a, const Shape& b) {
    return std::string(op) + ": " + what + " (got " + shape_str(a) + " and " + shape_str(b) + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        if (da != db && da != 1 && db != 1)
            throw std::invalid_argument(shape_error(op, "shapes cannot be broadcast together", a, b));
        out[i] = da == 1 ? db : da;
    }
    return out;
}

Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
    Shape out(target.size(), 0);
    size_t lead = target.size() - shape.size();
    for (size_t i = 0; i < shape.size(); ++i)
        out[lead + i] = (shape[i] == 1 && target[lead + i] != 1) ? 0 : strides[i];
    return out;
}

}  // namespace vq
