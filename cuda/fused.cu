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

}  // namespace

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
