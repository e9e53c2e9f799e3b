// Shapes, strides and NumPy broadcasting, shared by every backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vq {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

// Wraps a possibly negative dim into [0, ndim); throws naming `op` if out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy broadcasting: align trailing dims; each pair must be equal or one of
// them 1. Throws std::invalid_argument showing both shapes otherwise.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides that read `shape`/`strides` as if broadcast to `target`
// (0 on broadcast dims, missing leading dims added with stride 0).
Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target);

// Whole message used by every shape check: "op: <what> (got [..] and [..])".
std::string shape_error(const char* op, const std::string& what, const Shape& a, const Shape& b);

}  // namespace vq
