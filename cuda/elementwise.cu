// Elementwise CUDA kernels on contiguous buffers. Same stem as
// tensor/elementwise.cpp, whose CPU loops are the oracle in the tests.
#include <cstdint>

#include "cuda/backend.hpp"
#include "cuda/check.cuh"

namespace vq::cuda {

namespace {

constexpr int kThreads = 256;
inline int blocks_for(int64_t n) { return int((n + kThreads - 1) / kThreads); }

// out: [n] = value
template <typename T> __global__ void fill_kernel(T* out, int64_t n, T value) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = value;
}

// a, b, out: [n]; out = a + b
template <typename T> __global__ void add_kernel(const T* a, const T* b, T* out, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = a[i] + b[i];
}

int grid_for(int64_t n) { return n == 0 ? 0 : (blocks_for(n) < 65535 ? blocks_for(n) : 65535); }

}  // namespace

void fill(void* out, DType dtype, int64_t n, double value) {
    if (n == 0) return;
    switch (dtype) {
        case DType::F32: fill_kernel<<<grid_for(n), kThreads>>>(static_cast<float*>(out), n, float(value)); break;
        case DType::F64: fill_kernel<<<grid_for(n), kThreads>>>(static_cast<double*>(out), n, value); break;
        case DType::I64: fill_kernel<<<grid_for(n), kThreads>>>(static_cast<int64_t*>(out), n, int64_t(value)); break;
    }
    VQ_CUDA_CHECK_LAUNCH();
}

void add_contiguous(DType dtype, const void* a, const void* b, void* out, int64_t n) {
    if (n == 0) return;
    switch (dtype) {
        case DType::F32:
            add_kernel<<<grid_for(n), kThreads>>>(static_cast<const float*>(a), static_cast<const float*>(b),
                                                  static_cast<float*>(out), n);
            break;
        case DType::F64:
            add_kernel<<<grid_for(n), kThreads>>>(static_cast<const double*>(a), static_cast<const double*>(b),
                                                  static_cast<double*>(out), n);
            break;
        case DType::I64:
            add_kernel<<<grid_for(n), kThreads>>>(static_cast<const int64_t*>(a), static_cast<const int64_t*>(b),
                                                  static_cast<int64_t*>(out), n);
            break;
    }
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
