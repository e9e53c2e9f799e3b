// Every tensor op, without autograd. Each op picks its kernel by the device of
// its inputs (CPU kernels live in tensor/, CUDA kernels in cuda/), so callers
// never branch on the device. All inputs of one op must share dtype and device;
// shape errors throw std::invalid_argument showing the shapes involved.
#pragma once

#include <optional>
#include <vector>

#include "tensor/op_kinds.hpp"
#include "tensor/tensor.hpp"

namespace vq {

// ---------------------------------------------------------------- elementwise

const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);

Tensor unary(UnaryOp op, const Tensor& x);
// NumPy broadcasting; comparisons return 0/1 in the inputs' dtype.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// a = a op b, with b broadcast to a's shape (a may be a strided view).
void binary_(BinaryOp op, Tensor& a, const Tensor& b);

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::Abs, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::Square, x); }
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::Softplus, x); }
inline Tensor log1p(const Tensor& x) { return unary(UnaryOp::Log1p, x); }
inline Tensor sign(const Tensor& x) { return unary(UnaryOp::Sign, x); }

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline Tensor pow(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Pow, a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Max, a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Min, a, b); }
inline Tensor eq(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Eq, a, b); }
inline Tensor ne(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Ne, a, b); }
inline Tensor lt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Lt, a, b); }
inline Tensor le(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Le, a, b); }
inline Tensor gt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Gt, a, b); }
inline Tensor ge(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Ge, a, b); }
// g where y > 0 else 0 (y = relu(x)): ReLU's gradient without a mask tensor
inline Tensor relu_backward(const Tensor& g, const Tensor& y) { return binary(BinaryOp::ReluGrad, g, y); }

// Tensor-scalar forms: the scalar becomes a 0-dim tensor of x's dtype and device.
Tensor binary(BinaryOp op, const Tensor& a, double b);
inline Tensor add(const Tensor& a, double b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, double b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, double b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, double b) { return binary(BinaryOp::Div, a, b); }
inline Tensor pow(const Tensor& a, double b) { return binary(BinaryOp::Pow, a, b); }
inline Tensor gt(const Tensor& a, double b) { return binary(BinaryOp::Gt, a, b); }

void fill_(Tensor& x, double value);
inline void add_(Tensor& a, const Tensor& b) { binary_(BinaryOp::Add, a, b); }
void mul_(Tensor& a, double b);

// ---------------------------------------------------------------- reductions
// `dims` may be negative; an empty list reduces over every dim.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // i64
// Sums a broadcast result back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---------------------------------------------------------------- linear algebra
// a: [M, K] or [B, M, K]; b: [K, N] or [B, K, N] -> [M, N] or [B, M, N].
// Transposed views are passed to BLAS as transposes, without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---------------------------------------------------------------- convolution
struct Conv2dParams {
    int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
    static Conv2dParams square(int64_t stride, int64_t pad) { return {stride, stride, pad, pad}; }
};

// x: [N, C, H, W], w: [O, C, kh, kw], bias: [O] or undefined -> [N, O, Ho, Wo]
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
// gy: [N, O, Ho, Wo], w: [O, C, kh, kw] -> dx: [N, C, H, W] (H, W from input_shape)
Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const Shape& input_shape,
                         const Conv2dParams& p);
// x: [N, C, H, W], gy: [N, O, Ho, Wo] -> dw: [O, C, kh, kw]
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const Shape& weight_shape,
                          const Conv2dParams& p);
// x: [N, Cin, H, W], w: [Cin, Cout, kh, kw], bias: [Cout] or undefined
// -> [N, Cout, (H-1)*s - 2p + kh, (W-1)*s - 2p + kw]
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
// Direct seven-loop convolutions: slow, obviously right, the oracle for the above.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
Tensor conv_transpose2d_naive(const Tensor& x, const Tensor& w, const Tensor& bias,
                              const Conv2dParams& p);

// ---------------------------------------------------------------- indexing
// out[..., i, ...] = x[..., idx[i], ...] along dim; idx: 1-D i64.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx);
// zeros(shape) with out[..., idx[i], ...] += src[..., i, ...] along dim.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& idx, const Tensor& src);
// torch.gather: out[i][j] = x[i][idx[i][j]] for dim 1 (any dim); idx has x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);
// The adjoint of gather: zeros(shape) with out[i][idx[i][j]] += src[i][j].
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& idx, const Tensor& src);
// parts: [.., n_i, ..] with equal other sizes, one dtype and device -> [.., sum n_i, ..], in order
Tensor cat(const std::vector<Tensor>& parts, int64_t dim);

}  // namespace vq

namespace vq {
// ---------------------------------------------------------------- fused model kernels
// The Gated PixelCNN's gate in one pass: a: [B, 2C, *] -> [B, C, *] =
// tanh(a[:, :C]) * sigmoid(a[:, C:]). The backward takes g: [B, C, *] and
// gives da: [B, 2C, *] = [g s (1 - t^2), g t s (1 - s)], recomputing t and s
// from a rather than keeping them.
Tensor gated_tanh(const Tensor& a);
Tensor gated_tanh_backward(const Tensor& a, const Tensor& g);

// Cross-entropy over dim 1 without the dozen temporaries of its composed form.
// logits: [N, C, *], target: [N, *] (i64 in [0, C)) -> loss: [N, *] =
// logsumexp over C - the target's logit; *lse (if given) gets the logsumexp,
// [N, *], which the backward reuses: dlogits = g (softmax - onehot(target)).
Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, Tensor* lse = nullptr);
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g);
// The same four from the elementwise, reduction and gather ops: the CUDA path,
// and the oracle of the fused CPU kernels.
namespace composed {
Tensor gated_tanh(const Tensor& a);
Tensor gated_tanh_backward(const Tensor& a, const Tensor& g);
Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, Tensor* lse = nullptr);
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& g);
}  // namespace composed
}  // namespace vq
