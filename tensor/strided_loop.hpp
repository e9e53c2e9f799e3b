// The one loop behind every CPU elementwise kernel: walk an N-d index space
// over several operands that each have their own strides (0 where broadcast).
//
// Dims that are contiguous for every operand are merged first, so a plain
// contiguous op becomes a single inner loop that the compiler vectorises.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/shape.hpp"

namespace vq::detail {

template <size_t N>
struct LoopLayout {
    Shape shape;                     // after merging dims
    std::array<Shape, N> strides;    // per operand, in elements
};

template <size_t N>
LoopLayout<N> merge_dims(const Shape& shape, const std::array<Shape, N>& strides) {
    LoopLayout<N> out;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;  // size-1 dims never move the index
        bool mergeable = !out.shape.empty();
        for (size_t k = 0; k < N && mergeable; ++k)
            mergeable = out.strides[k].back() == strides[k][d] * shape[d];
        if (mergeable) {
            out.shape.back() *= shape[d];
            for (size_t k = 0; k < N; ++k) out.strides[k].back() = strides[k][d];
        } else {
            out.shape.push_back(shape[d]);
            for (size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
        }
    }
    return out;
}

// inner(offsets, n, inner_strides) handles one run of n elements along the
// innermost dim; offsets are element offsets of each operand's first element.
template <size_t N, typename Inner>
void strided_loop(const Shape& shape, const std::array<Shape, N>& strides, Inner&& inner) {
    for (int64_t s : shape)
        if (s == 0) return;
    LoopLayout<N> L = merge_dims<N>(shape, strides);
    std::array<int64_t, N> offsets{};
    if (L.shape.empty()) {
        std::array<int64_t, N> zero{};
        inner(offsets, int64_t(1), zero);
        return;
    }
    const size_t nd = L.shape.size();
    std::array<int64_t, N> inner_strides;
    for (size_t k = 0; k < N; ++k) inner_strides[k] = L.strides[k][nd - 1];
    const int64_t n_inner = L.shape[nd - 1];
    int64_t n_outer = 1;
    for (size_t d = 0; d + 1 < nd; ++d) n_outer *= L.shape[d];
    Shape counter(nd, 0);
    for (int64_t o = 0; o < n_outer; ++o) {
        inner(offsets, n_inner, inner_strides);
        // advance the outer counter (odometer style), updating every offset
        for (size_t d = nd - 1; d-- > 0;) {
            ++counter[d];
            for (size_t k = 0; k < N; ++k) offsets[k] += L.strides[k][d];
            if (counter[d] < L.shape[d]) break;
            for (size_t k = 0; k < N; ++k) offsets[k] -= L.strides[k][d] * L.shape[d];
            counter[d] = 0;
        }
    }
}

}  // namespace vq::detail
