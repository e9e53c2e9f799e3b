// Elementwise ops and their gradients. Broadcast inputs get their gradient
// summed back to their own shape (sum_to).
#include "autograd/ops.hpp"

namespace vq::ag {

namespace {

// What a binary op's backward reads. Only these are saved: anything else the
// closure held would stay alive until backward (add saves nothing at all).
struct Saved {
    bool a = false, b = false, out = false;
};

template <typename F>
Var binary_op(const Var& a, const Var& b, BinaryOp op, Saved saved, F grads) {
    Tensor out = binary(op, a.value(), b.value());
    Tensor av = saved.a ? a.value() : Tensor(), bv = saved.b ? b.value() : Tensor(), outv = saved.out ? out : Tensor();
    Shape a_shape = a.shape(), b_shape = b.shape();
    return make_result(out, {a, b}, op_name(op), [=](const Tensor& g, const std::vector<bool>& needs) {
        auto [ga, gb] = grads(g, av, bv, outv, needs);
        return std::vector<Tensor>{needs[0] ? sum_to(ga, a_shape) : Tensor(), needs[1] ? sum_to(gb, b_shape) : Tensor()};
    });
}

using TT = std::pair<Tensor, Tensor>;

}  // namespace

// out = a + b: da = g, db = g
Var add(const Var& a, const Var& b) {
    return binary_op(a, b, BinaryOp::Add, {}, [](const Tensor& g, auto&, auto&, auto&, auto&) { return TT{g, g}; });
}
// out = a - b: da = g, db = -g
Var sub(const Var& a, const Var& b) {
    return binary_op(a, b, BinaryOp::Sub, {}, [](const Tensor& g, auto&, auto&, auto&, const std::vector<bool>& n) {
        return TT{g, n[1] ? vq::neg(g) : Tensor()};
    });
}
// out = a * b: da = g b, db = g a (a is saved only if b wants a gradient, and the other way round)
Var mul(const Var& a, const Var& b) {
    return binary_op(a, b, BinaryOp::Mul, {b.requires_grad(), a.requires_grad(), false},
                     [](const Tensor& g, const Tensor& av, const Tensor& bv, auto&, const std::vector<bool>& n) {
                         return TT{n[0] ? vq::mul(g, bv) : Tensor(), n[1] ? vq::mul(g, av) : Tensor()};
                     });
}
// out = a / b: da = g / b, db = -g out / b
Var div(const Var& a, const Var& b) {
    return binary_op(a, b, BinaryOp::Div, {false, true, b.requires_grad()},
                     [](const Tensor& g, auto&, const Tensor& bv, const Tensor& out, const std::vector<bool>& n) {
                         return TT{n[0] ? vq::div(g, bv) : Tensor(),
                                   n[1] ? vq::neg(vq::div(vq::mul(g, out), bv)) : Tensor()};
                     });
}
// out = max(a, b): the gradient goes to a where a >= b, else to b
Var maximum(const Var& a, const Var& b) {
    return binary_op(a, b, BinaryOp::Max, {true, true, false},
                     [](const Tensor& g, const Tensor& av, const Tensor& bv, auto&, const std::vector<bool>& n) {
                         Tensor take_a = vq::ge(av, bv);
                         return TT{n[0] ? vq::mul(g, take_a) : Tensor(),
                                   n[1] ? vq::mul(g, vq::sub(vq::Tensor::ones({}, g.dtype(), g.device()), take_a)) : Tensor()};
                     });
}

Var add(const Var& a, double b) {
    return make_result(vq::add(a.value(), b), {a}, "add_scalar",
                       [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}
Var mul(const Var& a, double b) {
    return make_result(vq::mul(a.value(), b), {a}, "mul_scalar",
                       [b](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{vq::mul(g, b)}; });
}
// out = x^p: dx = g p x^(p-1)
Var pow(const Var& x, double p) {
    Tensor xv = x.value();
    return make_result(vq::pow(xv, p), {x}, "pow", [xv, p](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{vq::mul(g, vq::mul(vq::pow(xv, p - 1), p))};
    });
}

// Unary ops: each derivative is written from the saved input x or output y.
#define VQ_UNARY(NAME, SAVE_X, SAVE_Y, DERIV)                                                      \
    Var NAME(const Var& xin) {                                                                     \
        Tensor y = vq::NAME(xin.value());                                                          \
        Tensor x = SAVE_X ? xin.value() : Tensor();                                                \
        Tensor ys = SAVE_Y ? y : Tensor();                                                         \
        return make_result(y, {xin}, #NAME, [x, y = ys](const Tensor& g, const std::vector<bool>&) { \
            return std::vector<Tensor>{DERIV};                                                     \
        });                                                                                        \
    }

VQ_UNARY(neg, false, false, vq::neg(g))                                              // -g
VQ_UNARY(exp, false, true, vq::mul(g, y))                                            // g e^x
VQ_UNARY(log, true, false, vq::div(g, x))                                            // g / x
VQ_UNARY(tanh, false, true, vq::mul(g, vq::sub(vq::Tensor::ones({}, g.dtype(), g.device()), vq::square(y))))  // g (1 - y^2)
VQ_UNARY(sigmoid, false, true, vq::mul(g, vq::mul(y, vq::sub(vq::Tensor::ones({}, g.dtype(), g.device()), y))))  // g y (1 - y)
VQ_UNARY(relu, false, true, vq::relu_backward(g, y))                                // g [y > 0]
VQ_UNARY(sqrt, false, true, vq::div(vq::mul(g, 0.5), y))                             // g / (2 y)
VQ_UNARY(abs, true, false, vq::mul(g, vq::sign(x)))                                  // g sign(x)
VQ_UNARY(square, true, false, vq::mul(g, vq::mul(x, 2.0)))                           // 2 g x
VQ_UNARY(softplus, true, false, vq::mul(g, vq::sigmoid(x)))                          // g sigmoid(x)
#undef VQ_UNARY

// out = tanh(a[:, :C]) * sigmoid(a[:, C:]) in one fused pass each way
Var gated_tanh(const Var& a) {
    Tensor av = a.value();
    return make_result(vq::gated_tanh(av), {a}, "gated_tanh", [av](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{vq::gated_tanh_backward(av, g)};
    });
}

}  // namespace vq::ag
