// Adam's update as one fused pass per parameter: the optimizer's hot loop,
// kept out of optimizer.cpp so that the class stays readable. The CUDA
// kernel (cuda/fused.cu) does the same arithmetic.
#include "optim/adam_step.hpp"

#include <cmath>

#include "cuda/backend.hpp"
#include "tensor/parallel.hpp"

namespace vq::optim {

// param, grad, m, v: [*] (same shape, contiguous)
void adam_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamConfig& c, int64_t step) {
    for (const Tensor* t : {&grad, static_cast<const Tensor*>(&m), static_cast<const Tensor*>(&v)})
        if (t->shape() != param.shape() || !t->is_contiguous() || t->dtype() != param.dtype())
            throw std::invalid_argument(shape_error("adam_step_", "param, grad and moments must match and be contiguous",
                                                    param.shape(), t->shape()));
    if (!param.is_contiguous()) throw std::invalid_argument("adam_step_: param must be contiguous");
    const double bias1 = 1.0 - std::pow(c.beta1, double(step));
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(c.beta2, double(step)));
    if (param.is_cuda()) {
        cuda::adam_step(param.dtype(), param.raw_data(), grad.raw_data(), m.raw_data(), v.raw_data(), param.numel(), c.lr,
                        c.beta1, c.beta2, c.eps, c.weight_decay, c.decoupled, bias1, bias2_sqrt);
        return;
    }
    dispatch_floating(param.dtype(), "adam_step_", [&]<typename T>() {
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* pm = m.data<T>();
        T* pv = v.data<T>();
        const T lr = T(c.lr), b1 = T(c.beta1), b2 = T(c.beta2), eps = T(c.eps), wd = T(c.weight_decay);
        const T step_size = T(c.lr / bias1), inv_b2 = T(1.0 / bias2_sqrt);
        parallel_for(param.numel(), kElementwiseGrain, [&](int64_t, int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                T gi = g[i];
                if (c.decoupled) p[i] *= T(1) - lr * wd;
                else gi += wd * p[i];
                pm[i] = b1 * pm[i] + (T(1) - b1) * gi;
                pv[i] = b2 * pv[i] + (T(1) - b2) * gi * gi;
                p[i] -= step_size * pm[i] / (std::sqrt(pv[i]) * inv_b2 + eps);
            }
        });
    });
}

}  // namespace vq::optim
