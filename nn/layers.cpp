#include "nn/layers.hpp"

#include <cmath>

namespace vq::nn {

Tensor default_init(const Shape& shape, int64_t fan_in, Generator& gen) {
    double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
    return rand_uniform(shape, -bound, bound, gen);
}

Linear::Linear(int64_t in, int64_t out, Generator& gen) {
    weight = register_parameter("weight", default_init({out, in}, in, gen));
    bias = register_parameter("bias", default_init({out}, in, gen));
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Conv2dParams p, Generator& gen) : params(p) {
    int64_t fan_in = in * kh * kw;
    weight = register_parameter("weight", default_init({out, in, kh, kw}, fan_in, gen));
    bias = register_parameter("bias", default_init({out}, fan_in, gen));
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, Generator& gen)
    : params(Conv2dParams::square(stride, pad)) {
    // PyTorch computes fan_in from weight dim 1: out * k * k for a transposed conv.
    int64_t fan_in = out * k * k;
    weight = register_parameter("weight", default_init({in, out, k, k}, fan_in, gen));
    bias = register_parameter("bias", default_init({out}, fan_in, gen));
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen) {
    weight = register_parameter("weight", rand_normal({num, dim}, 0.0, 1.0, gen));
}

ResBlock::ResBlock(int64_t channels, int64_t hidden, Generator& gen)
    : conv1(channels, hidden, 3, 1, 1, gen), conv2(hidden, channels, 1, 1, 0, gen) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
}

ag::Var ResBlock::forward(const ag::Var& x) const {
    return ag::add(x, conv2.forward(ag::relu(conv1.forward(ag::relu(x)))));
}

}  // namespace vq::nn
