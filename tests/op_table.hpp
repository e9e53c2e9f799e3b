// The table of differentiable ops, shared by the CPU gradient check
// (test_gradcheck.cpp) and the CUDA parity test (test_cuda.cpp): the same
// cases, the same inputs, on every device.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "tests/helpers.hpp"

namespace vq::testing {

namespace ag = vq::ag;

struct InputSpec {
    Shape shape;
    double lo = -1.0, hi = 1.0;
    bool transposed = false;  // hand the op a non-contiguous (transposed) view
    bool away_from_zero = false;  // push values to |x| >= 0.2 (kinks at 0)
};

struct GradCase {
    std::string name;
    std::vector<InputSpec> inputs;
    std::function<ag::Var(const std::vector<ag::Var>&)> fn;
};

inline Tensor make_input(const InputSpec& s, Generator& gen, Device device = Device::cpu(), DType dtype = DType::F64) {
    Shape shape = s.shape;
    if (s.transposed) std::swap(shape[0], shape[1]);
    Tensor t = random_tensor(shape, gen, DType::F64, s.lo, s.hi);
    if (s.away_from_zero) {
        double* p = t.data<double>();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = (p[i] >= 0 ? 0.2 : -0.2) + p[i];
    }
    t = t.to(dtype).to(device);  // non-contiguity is made on the target device
    return s.transposed ? t.t() : t;
}

inline const Conv2dParams kS2P1 = Conv2dParams::square(2, 1);

inline std::vector<GradCase> op_table() {
    using V = std::vector<ag::Var>;
    Tensor idx_rows = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 4}, {4});
    Tensor idx_gather = Tensor::from_vector(std::vector<int64_t>{1, 0, 2, 2, 0, 1}, {2, 3});
    Tensor classes = Tensor::from_vector(std::vector<int64_t>{0, 3, 1, 2, 3, 0}, {2, 3});
    Tensor classes2d = Tensor::from_vector(std::vector<int64_t>{0, 3, 1, 2, 3, 0, 1, 1, 2, 3, 0, 0, 2, 1, 3, 3, 0, 2}, {2, 3, 3});
    return {
        {"add broadcast", {{{3, 4}}, {{4}}}, [](const V& v) { return ag::add(v[0], v[1]); }},
        {"sub broadcast", {{{2, 1, 3}}, {{4, 1}}}, [](const V& v) { return ag::sub(v[0], v[1]); }},
        {"mul transposed", {{{3, 4}, -1, 1, true}, {{3, 4}}}, [](const V& v) { return ag::mul(v[0], v[1]); }},
        {"div", {{{3, 4}}, {{4}, 0.5, 2.0}}, [](const V& v) { return ag::div(v[0], v[1]); }},
        {"maximum", {{{5}, -1, -0.1}, {{5}, 0.1, 1}}, [](const V& v) { return ag::maximum(v[1], v[0]); }},
        {"add_scalar", {{{3}}}, [](const V& v) { return ag::add(v[0], 2.5); }},
        {"mul_scalar", {{{3}}}, [](const V& v) { return ag::mul(v[0], -1.5); }},
        {"pow", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::pow(v[0], 2.5); }},
        {"neg", {{{4}}}, [](const V& v) { return ag::neg(v[0]); }},
        {"exp", {{{4}}}, [](const V& v) { return ag::exp(v[0]); }},
        {"log", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::log(v[0]); }},
        {"tanh", {{{4}}}, [](const V& v) { return ag::tanh(v[0]); }},
        {"sigmoid", {{{4}, -3, 3}}, [](const V& v) { return ag::sigmoid(v[0]); }},
        {"relu", {{{3, 5}, -1, 1, true, true}}, [](const V& v) { return ag::relu(v[0]); }},
        {"sqrt", {{{4}, 0.5, 2.0}}, [](const V& v) { return ag::sqrt(v[0]); }},
        {"abs", {{{6}, -1, 1, false, true}}, [](const V& v) { return ag::abs(v[0]); }},
        {"square", {{{4}}}, [](const V& v) { return ag::square(v[0]); }},
        {"softplus", {{{4}, -3, 3}}, [](const V& v) { return ag::softplus(v[0]); }},
        {"gated_tanh", {{{2, 6, 3}, -3, 3}}, [](const V& v) { return ag::gated_tanh(v[0]); }},
        {"gated_tanh 4-d strided", {{{3, 4, 2, 5}, -3, 3, true}}, [](const V& v) { return ag::gated_tanh(v[0]); }},
        {"reshape", {{{2, 6}, -1, 1, true}}, [](const V& v) { return ag::reshape(v[0], {3, 4}); }},
        {"permute", {{{2, 3, 4}}}, [](const V& v) { return ag::permute(v[0], {2, 0, 1}); }},
        {"transpose", {{{2, 3}}}, [](const V& v) { return ag::transpose(v[0], 0, 1); }},
        {"narrow", {{{3, 6}}}, [](const V& v) { return ag::narrow(v[0], 1, 2, 3); }},
        {"expand", {{{3, 1}}}, [](const V& v) { return ag::expand(v[0], {2, 3, 4}); }},
        {"unsqueeze squeeze", {{{3, 4}}}, [](const V& v) { return ag::squeeze(ag::unsqueeze(v[0], 1), 1); }},
        {"contiguous", {{{3, 4}, -1, 1, true}}, [](const V& v) { return ag::contiguous(v[0]); }},
        {"cat", {{{2, 3}}, {{2, 1}}, {{2, 2}, -1, 1, true}}, [](const V& v) { return ag::cat({v[0], v[1], v[2]}, 1); }},
        {"cat dim 0", {{{1, 4}}, {{3, 4}}}, [](const V& v) { return ag::cat({v[0], v[1]}, 0); }},
        {"sum dims", {{{2, 3, 4}}}, [](const V& v) { return ag::sum(v[0], {0, 2}); }},
        {"sum keepdim", {{{2, 3, 4}}}, [](const V& v) { return ag::sum(v[0], {1}, true); }},
        {"mean", {{{2, 3, 4}}}, [](const V& v) { return ag::mean(v[0], {-1}); }},
        {"max", {{{3, 5}}}, [](const V& v) { return ag::max(v[0], {1}); }},
        {"logsumexp", {{{3, 5}, -2, 2}}, [](const V& v) { return ag::logsumexp(v[0], {1}); }},
        {"matmul transposed", {{{3, 4}, -1, 1, true}, {{4, 5}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"matmul batched", {{{2, 3, 4}}, {{2, 4, 2}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"matmul batch x matrix", {{{2, 3, 4}}, {{4, 2}}}, [](const V& v) { return ag::matmul(v[0], v[1]); }},
        {"linear", {{{3, 4}}, {{5, 4}}, {{5}}}, [](const V& v) { return ag::linear(v[0], v[1], v[2]); }},
        {"conv2d s2 p1", {{{2, 3, 6, 5}}, {{4, 3, 4, 4}}, {{4}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], kS2P1); }},
        {"conv2d (2,3) kernel", {{{1, 2, 4, 4}}, {{3, 2, 2, 3}}, {{3}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], {1, 1, 1, 1}); }},
        {"conv2d 1x1", {{{2, 3, 3, 3}}, {{2, 3, 1, 1}}, {{2}}},
         [](const V& v) { return ag::conv2d(v[0], v[1], v[2], {}); }},
        {"conv_transpose2d s2 p1", {{{2, 3, 3, 4}}, {{3, 2, 4, 4}}, {{2}}},
         [](const V& v) { return ag::conv_transpose2d(v[0], v[1], v[2], kS2P1); }},
        {"index_select", {{{5, 3}}}, [idx_rows](const V& v) { return ag::index_select(v[0], 0, idx_rows); }},
        {"embedding", {{{5, 3}}}, [idx_gather](const V& v) { return ag::embedding(v[0], idx_gather); }},
        {"gather", {{{2, 4}}}, [idx_gather](const V& v) { return ag::gather(v[0], 1, idx_gather); }},
        {"bce_with_logits", {{{3, 4}, -4, 4}, {{3, 4}, 0, 1}},
         [](const V& v) { return ag::bce_with_logits(v[0], v[1], ag::Reduction::None); }},
        {"bce_with_logits mean", {{{3, 4}, -4, 4}, {{3, 4}, 0, 1}},
         [](const V& v) { return ag::bce_with_logits(v[0], v[1], ag::Reduction::Mean); }},
        {"cross_entropy", {{{2, 4, 3}, -2, 2}},
         [classes](const V& v) { return ag::cross_entropy(v[0], classes, ag::Reduction::None); }},
        {"cross_entropy 4-d strided, mean", {{{2, 4, 3, 3}, -2, 2, true}},
         [classes2d](const V& v) { return ag::cross_entropy(v[0], classes2d, ag::Reduction::Mean); }},
        {"mse sum", {{{3, 4}}, {{3, 4}}}, [](const V& v) { return ag::mse(v[0], v[1], ag::Reduction::Sum); }},
    };
}

}  // namespace vq::testing
