// Gathers and deterministic scatter-adds. Same stem as tensor/index.cpp.
// Blocks are [outer, n, inner] around the indexed dim.
#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

__device__ int g_bad_index = 0;

// Records an out-of-range index (any thread, once is enough) and yields a safe one.
__device__ inline int64_t checked(int64_t i, int64_t n) {
    if (i < 0 || i >= n) {
        atomicExch(&g_bad_index, 1);
        return 0;
    }
    return i;
}

// idx: [k] -> m: [k, n] with m[j, idx[j]] = 1
template <typename T> __global__ void one_hot_kernel(const int64_t* idx, T* m, int64_t n, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t j = i / n, c = i % n;
        int64_t v = idx[j];
        if (c == 0) checked(v, n);
        m[i] = v == c ? T(1) : T(0);
    }
}

// x: [outer, n, inner], idx: [k] -> out: [outer, k, inner]
template <typename T>
__global__ void index_select_kernel(const T* x, const int64_t* idx, T* out, int64_t n, int64_t k, int64_t inner, int64_t total) {
    VQ_GRID_STRIDE_LOOP(i, total) {
        int64_t in = i % inner, j = (i / inner) % k, o = i / (inner * k);
        out[i] = x[(o * n + checked(idx[j], n)) * inner + in];
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
        out[i] = x[(o * n + checked(idx[i], n)) * inner + in];
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
            if (checked(idx[at], n) == v && idx[at] == v) acc += src[at];
        }
        out[i] = acc;
    }
}

}  // namespace

void check_device_errors() {
    int bad = 0;
    VQ_CUDA_CHECK(cudaMemcpyFromSymbol(&bad, g_bad_index, sizeof bad));
    if (bad) {
        int zero = 0;
        VQ_CUDA_CHECK(cudaMemcpyToSymbol(g_bad_index, &zero, sizeof zero));
        throw std::out_of_range("a CUDA gather/scatter kernel met an index out of range (reported at the next synchronisation)");
    }
}

void index_add_onehot(DType dtype, const void* src, const int64_t* idx, void* out, int64_t outer, int64_t n, int64_t k,
                      int64_t inner) {
    if (outer * n * inner == 0) return;
    dispatch_floating(dtype, [&]<typename T>() {
        T* m = static_cast<T*>(device_alloc(size_t(k * n) * sizeof(T)));
        if (k > 0) one_hot_kernel<T><<<grid_for(k * n), kThreads>>>(idx, m, n, k * n);
        VQ_CUDA_CHECK_LAUNCH();
        // out[o] = m^T [n, k] @ src[o] [k, inner], all o in one batched GEMM
        gemm(dtype, true, false, n, inner, k, 1.0, m, n, 0, src, inner, k * inner, 0.0, out, inner, n * inner, outer);
        device_free(m, size_t(k * n) * sizeof(T));
    });
}

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
