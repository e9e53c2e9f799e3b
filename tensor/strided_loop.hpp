// The one loop behind every CPU elementwise kernel: walk an N-d index space
// over several operands that each have their own strides (0 where broadcast).
//
// Dims that are contiguous for every operand are merged first, so a plain
// contiguous op becomes a single inner loop that the compiler vectorises.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "tensor/parallel.hpp"
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

// Runs inner over the outer indices [o0, o1) of a merged layout (all dims but
// the last), starting the odometer at o0.
template <size_t N, typename Inner>
void run_outer(const LoopLayout<N>& L, int64_t o0, int64_t o1, Inner& inner) {
    const size_t nd = L.shape.size();
    std::array<int64_t, N> inner_strides, offsets{};
    for (size_t k = 0; k < N; ++k) inner_strides[k] = L.strides[k][nd - 1];
    Shape counter(nd, 0);
    for (size_t d = nd - 1, rem = size_t(o0); d-- > 0;) {
        counter[d] = int64_t(rem) % L.shape[d];
        rem /= size_t(L.shape[d]);
        for (size_t k = 0; k < N; ++k) offsets[k] += counter[d] * L.strides[k][d];
    }
    for (int64_t o = o0; o < o1; ++o) {
        inner(offsets, L.shape[nd - 1], inner_strides);
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

template <size_t N>
int64_t outer_count(const LoopLayout<N>& L) {
    int64_t n = 1;
    for (size_t d = 0; d + 1 < L.shape.size(); ++d) n *= L.shape[d];
    return n;
}

// inner(offsets, n, inner_strides) handles one run of n elements along the
// innermost dim; offsets are element offsets of each operand's first element.
template <size_t N, typename Inner>
void strided_loop(const Shape& shape, const std::array<Shape, N>& strides, Inner&& inner) {
    for (int64_t s : shape)
        if (s == 0) return;
    LoopLayout<N> L = merge_dims<N>(shape, strides);
    if (L.shape.empty()) {
        std::array<int64_t, N> zero{};
        inner(zero, int64_t(1), zero);
        return;
    }
    run_outer(L, 0, outer_count(L), inner);
}

// strided_loop with the index space split across the CPU pool. Only for
// loops whose runs write disjoint elements (not reductions into a shared
// output).
template <size_t N, typename Inner>
void parallel_strided_loop(const Shape& shape, const std::array<Shape, N>& strides, Inner&& inner) {
    int64_t numel = 1;
    for (int64_t s : shape) numel *= s;
    if (numel == 0) return;
    if (parallel_parts(numel, kElementwiseGrain) == 1) return strided_loop<N>(shape, strides, inner);
    LoopLayout<N> L = merge_dims<N>(shape, strides);
    const size_t nd = L.shape.size();
    const int64_t n_inner = L.shape[nd - 1], n_outer = outer_count(L);
    if (n_outer == 1) {  // one long run: split it
        parallel_for(n_inner, kElementwiseGrain, [&](int64_t, int64_t b, int64_t e) {
            std::array<int64_t, N> offsets, inner_strides;
            for (size_t k = 0; k < N; ++k) {
                inner_strides[k] = L.strides[k][nd - 1];
                offsets[k] = b * inner_strides[k];
            }
            inner(offsets, e - b, inner_strides);
        });
        return;
    }
    parallel_for(n_outer, std::max<int64_t>(1, kElementwiseGrain / n_inner),
                 [&](int64_t, int64_t o0, int64_t o1) { run_outer(L, o0, o1, inner); });
}

}  // namespace vq::detail
