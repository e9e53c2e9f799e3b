// Gathers and their adjoint scatter-adds.
#include "autograd/ops.hpp"

namespace vq::ag {

// x: [*pre, n, *post], idx: [k] -> [*pre, k, *post]; dx = index_add(g)
Var index_select(const Var& x, int64_t dim, const Tensor& idx) {
    Shape in = x.shape();
    return make_result(vq::index_select(x.value(), dim, idx), {x}, "index_select",
                       [in, dim, idx](const Tensor& g, const std::vector<bool>&) {
                           return std::vector<Tensor>{vq::index_add(in, dim, idx, g)};
                       });
}

// weight: [num, d], idx: [*I] -> [*I, d]
Var embedding(const Var& weight, const Tensor& idx) {
    if (weight.dim() != 2)
        throw std::invalid_argument("embedding: weight must be [num, dim], got " + shape_str(weight.shape()));
    Shape out_shape = idx.shape();
    out_shape.push_back(weight.size(1));
    return reshape(index_select(weight, 0, idx.reshape({-1})), out_shape);
}

// x: [*pre, n, *post], idx: [*pre, k, *post] -> [*pre, k, *post]; dx = scatter_add(g)
Var gather(const Var& x, int64_t dim, const Tensor& idx) {
    Shape in = x.shape();
    return make_result(vq::gather(x.value(), dim, idx), {x}, "gather",
                       [in, dim, idx](const Tensor& g, const std::vector<bool>&) {
                           return std::vector<Tensor>{vq::scatter_add(in, dim, idx, g)};
                       });
}

}  // namespace vq::ag
