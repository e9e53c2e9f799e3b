// View ops: the gradient of a view is the inverse view of the gradient.
#include "autograd/ops.hpp"

namespace vq::ag {

// x: [*S] -> [*T]; dx = g reshaped back to [*S]
Var reshape(const Var& x, const Shape& shape) {
    Shape in = x.shape();
    return make_result(x.value().reshape(shape), {x}, "reshape", [in](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(in)};
    });
}

// dx = g permuted by the inverse permutation
Var permute(const Var& x, const std::vector<int64_t>& dims) {
    std::vector<int64_t> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) inverse[wrap_dim(dims[i], x.dim(), "permute")] = int64_t(i);
    return make_result(x.value().permute(dims), {x}, "permute", [inverse](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.permute(inverse)};
    });
}

Var transpose(const Var& x, int64_t a, int64_t b) {
    return make_result(x.value().transpose(a, b), {x}, "transpose", [a, b](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.transpose(a, b)};
    });
}

// x: [.., n, ..] -> [.., length, ..]; dx = zeros with g written at [start, start+length)
Var narrow(const Var& x, int64_t dim, int64_t start, int64_t length) {
    Shape in = x.shape();
    DType dt = x.dtype();
    Device dev = x.device();
    return make_result(x.value().narrow(dim, start, length), {x}, "narrow",
                       [=](const Tensor& g, const std::vector<bool>&) {
                           Tensor dx = Tensor::zeros(in, dt, dev);
                           dx.narrow(dim, start, length).copy_from(g);
                           return std::vector<Tensor>{dx};
                       });
}

// dx = g summed over the broadcast dims
Var expand(const Var& x, const Shape& shape) {
    Shape in = x.shape();
    return make_result(x.value().expand(shape), {x}, "expand", [in](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{sum_to(g, in)};
    });
}

Var unsqueeze(const Var& x, int64_t dim) {
    Shape in = x.shape();
    return make_result(x.value().unsqueeze(dim), {x}, "unsqueeze", [in](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(in)};
    });
}

Var squeeze(const Var& x, int64_t dim) {
    Shape in = x.shape();
    return make_result(x.value().squeeze(dim), {x}, "squeeze", [in](const Tensor& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g.reshape(in)};
    });
}

Var contiguous(const Var& x) {
    if (x.value().is_contiguous()) return x;
    return make_result(x.value().contiguous(), {x}, "contiguous",
                       [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

// parts: [.., n_i, ..] -> [.., sum n_i, ..]; d part_i = g narrowed to part i's slice
Var cat(const std::vector<Var>& parts, int64_t dim) {
    std::vector<Tensor> values;
    for (const Var& p : parts) values.push_back(p.value());
    Tensor out = vq::cat(values, dim);
    dim = wrap_dim(dim, out.dim(), "cat");
    std::vector<int64_t> sizes;
    for (const Tensor& v : values) sizes.push_back(v.size(dim));
    return make_result(out, parts, "cat", [dim, sizes](const Tensor& g, const std::vector<bool>& needs) {
        std::vector<Tensor> grads;
        int64_t at = 0;
        for (size_t i = 0; i < sizes.size(); ++i) {
            grads.push_back(needs[i] ? g.narrow(dim, at, sizes[i]).contiguous() : Tensor());
            at += sizes[i];
        }
        return grads;
    });
}

}  // namespace vq::ag
