// Reductions and their gradients: each broadcasts g back over the reduced dims.
#include "autograd/ops.hpp"

namespace vq::ag {

namespace {

// The reduced output's shape with the reduced dims kept as 1, so that g can
// broadcast against x.
Shape keepdim_shape(const Shape& in, const std::vector<int64_t>& dims) {
    Shape out = in;
    if (dims.empty()) return Shape(in.size(), 1);
    for (int64_t d : dims) out[wrap_dim(d, int64_t(in.size()), "reduce")] = 1;
    return out;
}

// The reduced output's shape without keepdim.
Shape dropped_shape(const Shape& in, const std::vector<int64_t>& dims) {
    Shape out;
    std::vector<bool> gone(in.size(), dims.empty());
    for (int64_t d : dims) gone[wrap_dim(d, int64_t(in.size()), "reduce")] = true;
    for (size_t i = 0; i < in.size(); ++i)
        if (!gone[i]) out.push_back(in[i]);
    return out;
}

int64_t reduced_count(const Shape& in, const std::vector<int64_t>& dims) {
    if (dims.empty()) return shape_numel(in);
    int64_t n = 1;
    for (int64_t d : dims) n *= in[wrap_dim(d, int64_t(in.size()), "reduce")];
    return n;
}

}  // namespace

// x: [*S] -> reduced; dx = g broadcast back to [*S]
Var sum(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
    Shape in = x.shape(), kept = keepdim_shape(in, dims);
    return make_result(vq::sum(x.value(), dims, keepdim), {x}, "sum", [in, kept](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(kept).expand(in)};
    });
}

// dx = g / count broadcast back
Var mean(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
    Shape in = x.shape(), kept = keepdim_shape(in, dims);
    double scale = 1.0 / double(std::max<int64_t>(reduced_count(in, dims), 1));
    return make_result(vq::mean(x.value(), dims, keepdim), {x}, "mean",
                       [in, kept, scale](const Tensor& g, const std::vector<bool>&) {
                           return std::vector<Tensor>{vq::mul(g.reshape(kept), scale).expand(in)};
                       });
}

// dx = g where x equals the max, split evenly between ties
Var max(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
    Tensor xv = x.value();
    Tensor m = vq::max(xv, dims, true);
    Shape kept = m.shape();
    Tensor out = keepdim ? m : m.reshape(dropped_shape(xv.shape(), dims));
    return make_result(out, {x}, "max", [xv, m, kept, dims](const Tensor& g, const std::vector<bool>&) {
        Tensor mask = vq::eq(xv, m);
        Tensor count = vq::sum(mask, dims, true);
        return std::vector<Tensor>{vq::mul(mask, vq::div(g.reshape(kept), count))};
    });
}

// dx = g softmax(x) over the reduced dims
Var logsumexp(const Var& x, const std::vector<int64_t>& dims, bool keepdim) {
    Tensor xv = x.value();
    Tensor lse = vq::logsumexp(xv, dims, true);
    Shape kept = lse.shape();
    Tensor out = keepdim ? lse : lse.reshape(dropped_shape(xv.shape(), dims));
    return make_result(out, {x}, "logsumexp", [xv, lse, kept](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{vq::mul(g.reshape(kept), vq::exp(vq::sub(xv, lse)))};
    });
}

}  // namespace vq::ag
