// Gathers and deterministic scatter-adds. Same stem as tensor/index.cpp.
// Blocks are [outer, n, inner] around the indexed dim.
#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

// x: [outer, n, inner], idx: [k] -> out: [outer, k, inner]
template <typename T>
__global__ void index_select_kernel(const T* x, const int64_t* idx, T* out, int64_t n, int64_t k, int64_t inner, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t in = i % inner, j = (i / inner) % k, o = i / (inner * k);
        out[i] = x[(o * n + idx[j]) * inner + in];
    }
}

// src: [outer, k, inner] -> out: [outer, n, inner]; row t sums src rows order[starts[t]..starts[t+1])
template <typename T>
__global__ void index_add_kernel(const T* src, const int64_t* order, const int64_t* starts, T* out, int64_t n, int64_t k,
                                 int64_t inner, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t in = i % inner, t = (i / inner) % n, o = i / (inner * n);
        T acc = T(0);
        for (int64_t j = starts[t]; j < starts[t + 1]; ++j) acc += src[(o * k + order[j]) * inner + in];
        out[i] = acc;
    }
}

// x: [outer, n, inner], idx: [outer, k, inner] -> out: [outer, k, inner]
template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* idx, T* out, int64_t n, int64_t k, int64_t inner, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t in = i % inner, o = i / (inner * k);
        out[i] = x[(o * n + idx[i]) * inner + in];
    }
}

// src, idx: [outer, k, inner] -> out: [outer, n, inner]; each output element
// scans its k candidates in order
template <typename T>
__global__ void scatter_add_kernel(const T* src, const int64_t* idx, T* out, int64_t n, int64_t k, int64_t inner, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t in = i % inner, v = (i / inner) % n, o = i / (inner * n);
        T acc = T(0);
        for (int64_t j = 0; j < k; ++j) {
            int64_t at = (o * k + j) * inner + in;
            if (idx[at] == v) acc += src[at];
        }
        out[i] = acc;
    }
}

}  // namespace

void index_select(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k, int64_t inner) {
    int64_t total = outer * k * inner;
    if (total == 0) return;
    dispatch(dtype, [&]<typename T>() {
        index_select_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(x), idx, static_cast<T*>(out), n, k, inner, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void index_add(DType dtype, const void* src, const int64_t* order, const int64_t* starts, void* out, int64_t outer,
               int64_t n, int64_t k, int64_t inner) {
    int64_t total = outer * n * inner;
    if (total == 0) return;
    dispatch(dtype, [&]<typename T>() {
        index_add_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(src), order, starts, static_cast<T*>(out), n,
                                                           k, inner, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void gather(DType dtype, const void* x, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k, int64_t inner) {
    int64_t total = outer * k * inner;
    if (total == 0) return;
    dispatch(dtype, [&]<typename T>() {
        gather_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(x), idx, static_cast<T*>(out), n, k, inner, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void scatter_add(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k, int64_t inner) {
    int64_t total = outer * n * inner;
    if (total == 0) return;
    dispatch(dtype, [&]<typename T>() {
        scatter_add_kernel<T><<<grid_for(total), kThreads>>>(static_cast<const T*>(src), idx, static_cast<T*>(out), n, k,
                                                             inner, total);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
