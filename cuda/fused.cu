// Fused optimizer update. Same stem as tensor/fused.cpp (the oracle).
#include <cmath>

#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

// param, grad, m, v: [n]
template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, T lr, T b1, T b2, T eps, T wd, bool decoupled,
                            T step_size, T inv_b2) {
    VQ_GRID_STRIDE_LOOP(i, n) {
        T gi = g[i];
        if (decoupled) p[i] *= T(1) - lr * wd;
        else gi += wd * p[i];
        m[i] = b1 * m[i] + (T(1) - b1) * gi;
        v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
        p[i] -= step_size * m[i] / (sqrt(v[i]) * inv_b2 + eps);
    }
}

// stats: [K, D+1] -> count, usage: [K], sums: [K, D] updated in place
template <typename T>
__global__ void ema_accumulate_kernel(T* count, T* sums, T* usage, const T* stats, int64_t K, int64_t D, T decay) {
    VQ_GRID_STRIDE_LOOP(i, K * (D + 1)) {
        int64_t k = i / (D + 1), j = i % (D + 1);
        T v = stats[i];
        if (j < D) {
            sums[k * D + j] = decay * sums[k * D + j] + (T(1) - decay) * v;
        } else {
            count[k] = decay * count[k] + (T(1) - decay) * v;
            usage[k] += v;
        }
    }
}

// e: [K, D] = sums / ((count + eps) / (total + K eps) * total)
template <typename T>
__global__ void ema_codebook_kernel(T* e, const T* count, const T* sums, const T* total, int64_t K, int64_t D, T eps) {
    VQ_GRID_STRIDE_LOOP(i, K * D) {
        int64_t k = i / D;
        T t = *total;
        e[i] = sums[i] / ((count[k] + eps) / (t + T(K) * eps) * t);
    }
}

}  // namespace

void ema_accumulate(DType dtype, void* count, void* sums, void* usage, const void* stats, int64_t K, int64_t D, double decay) {
    dispatch_floating(dtype, [&]<typename T>() {
        ema_accumulate_kernel<T><<<grid_for(K * (D + 1)), kThreads>>>(static_cast<T*>(count), static_cast<T*>(sums),
                                                                       static_cast<T*>(usage), static_cast<const T*>(stats), K,
                                                                       D, T(decay));
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void ema_codebook(DType dtype, void* e, const void* count, const void* sums, const void* total, int64_t K, int64_t D,
                  double eps) {
    dispatch_floating(dtype, [&]<typename T>() {
        ema_codebook_kernel<T><<<grid_for(K * D), kThreads>>>(static_cast<T*>(e), static_cast<const T*>(count),
                                                              static_cast<const T*>(sums), static_cast<const T*>(total), K, D,
                                                              T(eps));
    });
    VQ_CUDA_CHECK_LAUNCH();
}

void adam_step(DType dtype, void* param, const void* grad, void* m, void* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool decoupled, double bias1, double bias2_sqrt) {
    if (n == 0) return;
    dispatch_floating(dtype, [&]<typename T>() {
        adam_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(param), static_cast<const T*>(grad), static_cast<T*>(m),
                                                  static_cast<T*>(v), n, T(lr), T(beta1), T(beta2), T(eps), T(weight_decay),
                                                  decoupled, T(lr / bias1), T(1.0 / bias2_sqrt));
    });
    VQ_CUDA_CHECK_LAUNCH();
}

}  // namespace vq::cuda
