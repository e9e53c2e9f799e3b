// Differentiable ops on Vars. Each one is defined, forward and backward side
// by side, in autograd/ops/<family>.cpp; the tensor kernels underneath come
// from tensor/ops.hpp and run on whatever device the inputs live on.
#pragma once

#include "autograd/variable.hpp"

namespace vq::ag {

// ---- elementwise (NumPy broadcasting; gradients summed back to each input's shape)
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var maximum(const Var& a, const Var& b);  // the gradient goes to a where a >= b
Var add(const Var& a, double b);
Var mul(const Var& a, double b);
Var pow(const Var& a, double exponent);
Var neg(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);
Var sqrt(const Var& x);
Var abs(const Var& x);
Var square(const Var& x);
Var softplus(const Var& x);
// a: [B, 2C, *] -> [B, C, *] = tanh(a[:, :C]) * sigmoid(a[:, C:]), the PixelCNN gate
Var gated_tanh(const Var& a);

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator-(const Var& x) { return neg(x); }

// ---- views
Var reshape(const Var& x, const Shape& shape);
Var permute(const Var& x, const std::vector<int64_t>& dims);
Var transpose(const Var& x, int64_t a, int64_t b);
Var narrow(const Var& x, int64_t dim, int64_t start, int64_t length);
Var expand(const Var& x, const Shape& shape);
Var unsqueeze(const Var& x, int64_t dim);
Var squeeze(const Var& x, int64_t dim);
Var contiguous(const Var& x);
Var cat(const std::vector<Var>& parts, int64_t dim);  // [.., n_i, ..] -> [.., sum n_i, ..]

// ---- reductions
Var sum(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var mean(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var max(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);  // ties share the gradient
Var logsumexp(const Var& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// ---- linear algebra and convolution
Var matmul(const Var& a, const Var& b);
// x: [N, in], w: [out, in], b: [out] -> [N, out]  (PyTorch's Linear layout)
Var linear(const Var& x, const Var& w, const Var& b);
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p);
Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p);

// ---- indexing
Var index_select(const Var& x, int64_t dim, const Tensor& idx);
Var embedding(const Var& weight, const Tensor& idx);  // weight: [num, dim], idx: any i64 shape -> [*idx, dim]
Var gather(const Var& x, int64_t dim, const Tensor& idx);

// ---- losses
enum class Reduction { None, Sum, Mean };
// Stable for any |logits|: max(x, 0) - x t + log1p(exp(-|x|)).
Var bce_with_logits(const Var& logits, const Var& target, Reduction r = Reduction::Mean);
// logits: [N, C, *], target: [N, *] of class indices -> loss per position
// = logsumexp over C - the target's logit.
Var cross_entropy(const Var& logits, const Tensor& target, Reduction r = Reduction::Mean);
Var mse(const Var& a, const Var& b, Reduction r = Reduction::Mean);

}  // namespace vq::ag

namespace vq::ag {
// The name every differentiable op gives its output node (Var::op()). The
// gradient-check test asserts that its table exercises each one, so a new op
// added here without a gradient check fails the suite.
inline constexpr const char* kDifferentiableOps[] = {
    "add", "sub", "mul", "div", "maximum", "add_scalar", "mul_scalar", "pow",
    "neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs", "square", "softplus", "gated_tanh",
    "reshape", "permute", "transpose", "narrow", "expand", "unsqueeze", "squeeze", "contiguous", "cat",
    "sum", "mean", "max", "logsumexp",
    "matmul", "linear", "conv2d", "conv_transpose2d",
    "index_select", "gather", "bce_with_logits", "cross_entropy",
};
}  // namespace vq::ag
