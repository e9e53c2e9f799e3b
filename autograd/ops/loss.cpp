// Losses. BCE-with-logits is one fused op (stable, and its gradient is just
// sigmoid(x) - t); cross-entropy is fused too (softmax - onehot); MSE is
// built from other ops.
#include "autograd/ops.hpp"

namespace vq::ag {

static Var reduce(const Var& loss, Reduction r) {
    switch (r) {
        case Reduction::None: return loss;
        case Reduction::Sum: return sum(loss);
        case Reduction::Mean: return mean(loss);
    }
    return loss;
}

// logits, target: [*] -> [*]; dlogits = g (sigmoid(x) - t), dtarget = -g x
Var bce_with_logits(const Var& logits, const Var& target, Reduction r) {
    Tensor x = logits.value(), t = target.value();
    if (x.shape() != t.shape())
        throw std::invalid_argument(shape_error("bce_with_logits", "logits and targets must have the same shape",
                                                x.shape(), t.shape()));
    Tensor loss = vq::sub(vq::softplus(x), vq::mul(x, t));
    Var l = make_result(loss, {logits, target}, "bce_with_logits", [x, t](const Tensor& g, const std::vector<bool>& n) {
        return std::vector<Tensor>{n[0] ? vq::mul(g, vq::sub(vq::sigmoid(x), t)) : Tensor(),
                                   n[1] ? vq::neg(vq::mul(g, x)) : Tensor()};
    });
    return reduce(l, r);
}

// logits: [N, C, *], target: [N, *] -> [N, *]; one fused kernel each way
Var cross_entropy(const Var& logits, const Tensor& target, Reduction r) {
    Tensor x = logits.value(), lse;
    Tensor loss = vq::cross_entropy_loss(x, target, &lse);
    Var l = make_result(loss, {logits}, "cross_entropy", [x, target, lse](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{vq::cross_entropy_backward(x, target, lse, g)};
    });
    return reduce(l, r);
}

Var mse(const Var& a, const Var& b, Reduction r) {
    if (a.shape() != b.shape())
        throw std::invalid_argument(shape_error("mse", "inputs must have the same shape", a.shape(), b.shape()));
    return reduce(square(sub(a, b)), r);
}

}  // namespace vq::ag
