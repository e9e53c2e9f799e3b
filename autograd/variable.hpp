// Var: a tensor that remembers how it was made, for reverse-mode autodiff.
//
// Every differentiable op builds its output Var with a backward closure beside
// it (micrograd's design): the closure maps the output's gradient to one
// gradient per input. backward() sorts the graph topologically without
// recursion, runs the closures in reverse, accumulates gradients with +=, and
// frees each node's saved tensors as soon as its closure has run.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "tensor/ops.hpp"

namespace vq::ag {

// grad_out has the output's shape; needs[i] says whether input i wants a
// gradient. Returns one tensor per input (undefined where not needed), each
// of that input's shape.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out, const std::vector<bool>& needs)>;

struct Node {
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    const char* op = "leaf";
    std::vector<std::shared_ptr<Node>> inputs;
    BackwardFn backward;  // empty for leaves and constants
    bool is_leaf() const { return !backward; }
};

class Var {
public:
    Var() = default;
    Var(Tensor value, bool requires_grad = false);  // implicit: constants mix freely with Vars

    bool defined() const { return node_ != nullptr; }
    const Tensor& value() const { return node_->value; }
    const Tensor& grad() const { return node_->grad; }
    void set_grad(Tensor g) { node_->grad = std::move(g); }
    void zero_grad() { node_->grad = Tensor(); }
    bool requires_grad() const { return node_ && node_->requires_grad; }
    void set_requires_grad(bool r) { node_->requires_grad = r; }
    // Replaces the value in place (same shape), keeping the node: used by
    // optimizers, EMA updates and checkpoint loading.
    void assign(const Tensor& value);

    const Shape& shape() const { return node_->value.shape(); }
    int64_t dim() const { return node_->value.dim(); }
    int64_t size(int64_t d) const { return node_->value.size(d); }
    DType dtype() const { return node_->value.dtype(); }
    Device device() const { return node_->value.device(); }
    const char* op() const { return node_->op; }

    // The same value, cut from the graph: gradients stop here.
    Var detach() const { return Var(node_->value, false); }

    // Reverse-mode sweep from this scalar (seed gradient 1), or from any
    // shape with an explicit seed gradient of that shape.
    void backward() const;
    void backward(const Tensor& seed) const;

    const std::shared_ptr<Node>& node() const { return node_; }

private:
    std::shared_ptr<Node> node_;
    friend Var make_result(Tensor, std::vector<Var>, const char*, BackwardFn);
};

// The one way ops make outputs: records inputs and closure only when grad
// mode is on and some input requires a gradient.
Var make_result(Tensor value, std::vector<Var> inputs, const char* op, BackwardFn backward);

// Grad mode is per thread and changed only through this RAII guard.
bool grad_enabled();
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

}  // namespace vq::ag
