// matmul, linear, conv2d and conv_transpose2d with their gradients. Following
// candle, the input gradient of conv2d is conv_transpose2d-shaped and the
// gradient of conv_transpose2d's input is a conv2d.
#include "autograd/ops.hpp"

namespace vq::ag {

// a: [M, K], b: [K, N] (or batched) -> [M, N]; da = g b^T, db = a^T g
Var matmul(const Var& a, const Var& b) {
    Tensor av = a.value(), bv = b.value();
    return make_result(vq::matmul(av, bv), {a, b}, "matmul", [av, bv](const Tensor& g, const std::vector<bool>& n) {
        Tensor ga, gb;
        if (n[0]) ga = vq::matmul(g, bv.transpose(-1, -2));
        if (n[1]) {
            if (av.dim() == 3 && bv.dim() == 2)  // batch folded into rows
                gb = vq::matmul(av.reshape({-1, av.size(-1)}).t(), g.reshape({-1, g.size(-1)}));
            else
                gb = vq::matmul(av.transpose(-1, -2), g);
        }
        return std::vector<Tensor>{ga, gb};
    });
}

// x: [N, in], w: [out, in], b: [out] -> [N, out]
// dx = g w, dw = g^T x, db = sum_N g. w is read transposed without a copy.
Var linear(const Var& x, const Var& w, const Var& b) {
    Tensor xv = x.value(), wv = w.value();
    if (xv.dim() != 2 || wv.dim() != 2 || xv.size(1) != wv.size(1))
        throw std::invalid_argument(shape_error("linear", "expected x [N, in] and weight [out, in]", xv.shape(), wv.shape()));
    Tensor y = vq::matmul(xv, wv.t());
    if (b.defined()) y = vq::add(y, b.value());
    std::vector<Var> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    return make_result(y, inputs, "linear", [xv, wv](const Tensor& g, const std::vector<bool>& n) {
        std::vector<Tensor> grads(n.size());
        if (n[0]) grads[0] = vq::matmul(g, wv);
        if (n[1]) grads[1] = vq::matmul(g.t(), xv);
        if (n.size() > 2 && n[2]) grads[2] = vq::sum(g, {0});
        return grads;
    });
}

// x: [N, C, H, W], w: [O, C, kh, kw], b: [O] -> y: [N, O, Ho, Wo]
// dx = conv2d_input_grad(g, w), dw = conv2d_weight_grad(x, g), db = sum_{N,Ho,Wo} g
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
    Tensor xv = x.value(), wv = w.value();
    Tensor y = vq::conv2d(xv, wv, b.defined() ? b.value() : Tensor(), p);
    std::vector<Var> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    return make_result(y, inputs, "conv2d", [xv, wv, p](const Tensor& g, const std::vector<bool>& n) {
        std::vector<Tensor> grads(n.size());
        if (n[0]) grads[0] = vq::conv2d_input_grad(g, wv, xv.shape(), p);
        if (n[1]) grads[1] = vq::conv2d_weight_grad(xv, g, wv.shape(), p);
        if (n.size() > 2 && n[2]) grads[2] = vq::sum(g, {0, 2, 3});
        return grads;
    });
}

// x: [N, Cin, H, W], w: [Cin, Cout, kh, kw], b: [Cout] -> y: [N, Cout, Ho, Wo]
// dx = conv2d(g, w), dw = conv2d_weight_grad(g, x) (roles swapped), db = sum g
Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
    Tensor xv = x.value(), wv = w.value();
    Tensor y = vq::conv_transpose2d(xv, wv, b.defined() ? b.value() : Tensor(), p);
    std::vector<Var> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    return make_result(y, inputs, "conv_transpose2d", [xv, wv, p](const Tensor& g, const std::vector<bool>& n) {
        std::vector<Tensor> grads(n.size());
        if (n[0]) grads[0] = vq::conv2d(g, wv, Tensor(), p);
        if (n[1]) grads[1] = vq::conv2d_weight_grad(g, xv, wv.shape(), p);
        if (n.size() > 2 && n[2]) grads[2] = vq::sum(g, {0, 2, 3});
        return grads;
    });
}

}  // namespace vq::ag
