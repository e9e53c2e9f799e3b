// The layers of the reference models, with PyTorch's parameter layouts and
// default initialisation: weights and biases uniform in +-1/sqrt(fan_in).
#pragma once

#include "nn/module.hpp"
#include "tensor/random.hpp"

namespace vq::nn {

// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): kaiming_uniform with a = sqrt(5),
// which is what PyTorch gives weights and biases of Linear and Conv layers.
Tensor default_init(const Shape& shape, int64_t fan_in, Generator& gen);

class Linear : public Module {
public:
    Linear(int64_t in, int64_t out, Generator& gen);
    ag::Var forward(const ag::Var& x) const { return ag::linear(x, weight, bias); }  // [N, in] -> [N, out]
    ag::Var weight, bias;  // [out, in], [out]
};

class Conv2d : public Module {
public:
    Conv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Conv2dParams p, Generator& gen);
    Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, Generator& gen)
        : Conv2d(in, out, k, k, Conv2dParams::square(stride, pad), gen) {}
    // [N, in, H, W] -> [N, out, Ho, Wo]
    ag::Var forward(const ag::Var& x) const { return ag::conv2d(x, weight, bias, params); }
    ag::Var weight, bias;  // [out, in, kh, kw], [out]
    Conv2dParams params;
};

class ConvTranspose2d : public Module {
public:
    ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, Generator& gen);
    ag::Var forward(const ag::Var& x) const { return ag::conv_transpose2d(x, weight, bias, params); }
    ag::Var weight, bias;  // [in, out, k, k], [out]
    Conv2dParams params;
};

class Embedding : public Module {
public:
    // PyTorch initialises Embedding from N(0, 1).
    Embedding(int64_t num, int64_t dim, Generator& gen);
    ag::Var forward(const Tensor& idx) const { return ag::embedding(weight, idx); }  // [*] -> [*, dim]
    ag::Var weight;  // [num, dim]
};

// x + conv2(relu(conv1(relu(x)))), conv1 3x3 (channels -> hidden), conv2 1x1 (hidden -> channels)
class ResBlock : public Module {
public:
    ResBlock(int64_t channels, int64_t hidden, Generator& gen);
    ag::Var forward(const ag::Var& x) const;
    Conv2d conv1, conv2;
};

}  // namespace vq::nn
