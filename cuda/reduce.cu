// Reductions: one block per output element, a fixed-order tree in shared
// memory, so results are the same on every run (no atomics).
// kept: [*K] view of x over the kept dims; reduced: [*R] view over the rest.
#include <cfloat>
#include <climits>

#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

template <typename T> __device__ inline T lowest() {
    if constexpr (std::is_same_v<T, float>) return -INFINITY;
    else if constexpr (std::is_same_v<T, double>) return -INFINITY;
    else return LLONG_MIN;
}
template <typename T> __device__ inline T highest() {
    if constexpr (std::is_same_v<T, float>) return INFINITY;
    else if constexpr (std::is_same_v<T, double>) return INFINITY;
    else return LLONG_MAX;
}

template <typename T> __device__ inline T combine(ReduceOp op, T a, T b) {
    switch (op) {
        case ReduceOp::Sum: return a + b;
        case ReduceOp::Max: return (b > a || b != b) ? b : a;
        case ReduceOp::Min: return (b < a || b != b) ? b : a;
    }
    return a;
}

// out: [M] where M = numel(kept); each block reduces R = numel(reduced) values
template <typename T> __global__ void reduce_kernel(ReduceOp op, T* out, View kept, View reduced, int64_t M, int64_t R) {
    __shared__ T buf[kThreads];
    const T* x = static_cast<const T*>(kept.data);
    const T init = op == ReduceOp::Sum ? T(0) : op == ReduceOp::Max ? lowest<T>() : highest<T>();
    for (int64_t o = blockIdx.x; o < M; o += gridDim.x) {
        const int64_t base = offset_of(kept, o);
        T acc = init;
        for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc = combine(op, acc, x[base + offset_of(reduced, r)]);
        buf[threadIdx.x] = acc;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) buf[threadIdx.x] = combine(op, buf[threadIdx.x], buf[threadIdx.x + s]);
            __syncthreads();
        }
        if (threadIdx.x == 0) out[o] = buf[0];
        __syncthreads();
    }
}

// out: [M] i64, the first index of the max (min) along `along`
template <typename T> __global__ void arg_kernel(bool want_max, int64_t* out, View kept, View along, int64_t M, int64_t R) {
    __shared__ T vals[kThreads];
    __shared__ int64_t idxs[kThreads];
    const T* x = static_cast<const T*>(kept.data);
    for (int64_t o = blockIdx.x; o < M; o += gridDim.x) {
        const int64_t base = offset_of(kept, o);
        T best = want_max ? lowest<T>() : highest<T>();
        int64_t best_i = LLONG_MAX;
        for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
            T v = x[base + offset_of(along, r)];
            if (want_max ? v > best : v < best) best = v, best_i = r;
            else if (v == best && r < best_i) best_i = r;
        }
        vals[threadIdx.x] = best;
        idxs[threadIdx.x] = best_i;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) {
                T v = vals[threadIdx.x + s];
                int64_t i = idxs[threadIdx.x + s];
                bool better = want_max ? v > vals[threadIdx.x] : v < vals[threadIdx.x];
                if (better || (v == vals[threadIdx.x] && i < idxs[threadIdx.x])) vals[threadIdx.x] = v, idxs[threadIdx.x] = i;
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) out[o] = idxs[0] == LLONG_MAX ? 0 : idxs[0];
        __syncthreads();
    }
}

unsigned blocks_for(int64_t M) { return unsigned(M < 65535 * 4 ? (M < 1 ? 1 : M) : 65535 * 4); }

}  // namespace

void reduce(ReduceOp op, DType dtype, void* out, const View& kept, const View& reduced) {
    int64_t M = numel(kept), R = numel(reduced);
    if (M == 0) return;
    dispatch(dtype, [&]<typename T>() {
        reduce_kernel<T><<<blocks_for(M), kThreads>>>(op, static_cast<T*>(out), kept, reduced, M, R);
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void arg_reduce(bool want_max, DType dtype, int64_t* out, const View& kept, const View& along) {
    int64_t M = numel(kept), R = numel(along);
    if (M == 0) return;
    dispatch(dtype, [&]<typename T>() { arg_kernel<T><<<blocks_for(M), kThreads>>>(want_max, out, kept, along, M, R); });
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
