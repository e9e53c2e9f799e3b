// Small helpers shared by the CUDA kernels: grid sizing, strided offsets and
// dtype dispatch.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "cuda/backend.hpp"
#include "cuda/check.cuh"

namespace vq::cuda {

constexpr int kThreads = 256;

inline unsigned grid_for(int64_t n) {
    int64_t blocks = (n + kThreads - 1) / kThreads;
    return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

// Element offset of the linear (row-major) index `i` in a strided view.
__device__ inline int64_t offset_of(const View& v, int64_t i) {
    int64_t off = 0;
    for (int d = v.ndim - 1; d >= 0; --d) {
        int64_t s = v.shape[d];
        off += (i % s) * v.strides[d];
        i /= s;
    }
    return off;
}

inline bool is_contiguous(const View& v) {
    int64_t expect = 1;
    for (int d = v.ndim - 1; d >= 0; --d) {
        if (v.shape[d] == 1) continue;
        if (v.strides[d] != expect) return false;
        expect *= v.shape[d];
    }
    return true;
}

inline int64_t numel(const View& v) {
    int64_t n = 1;
    for (int d = 0; d < v.ndim; ++d) n *= v.shape[d];
    return n;
}

#define VQ_GRID_STRIDE_LOOP(i, n) \
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename Fn> void dispatch(DType d, Fn&& fn) {
    switch (d) {
        case DType::F32: fn.template operator()<float>(); return;
        case DType::F64: fn.template operator()<double>(); return;
        case DType::I64: fn.template operator()<int64_t>(); return;
    }
}
template <typename Fn> void dispatch_floating(DType d, Fn&& fn) {
    switch (d) {
        case DType::F32: fn.template operator()<float>(); return;
        case DType::F64: fn.template operator()<double>(); return;
        default: throw std::invalid_argument("CUDA kernel: expected a floating dtype");
    }
}

}  // namespace vq::cuda
