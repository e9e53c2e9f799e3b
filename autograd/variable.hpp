// Var: a tensor that remembers how it was made, for reverse-mode autodiff.
//
// Every differentiable op builds its output Var with a backward closure beside
// it (micrograd's design): the closure maps the output's gradient to one
// gradient per input. backward() sorts the graph topologically without
// recursion, runs the closures in reverse, accumulates gradients with +=, and
// frees each node's saved tensors as soon as its closure has run.
//
// The graph holds no forward values, only what each closure saved (PyTorch's
// design): a Var is a value plus a pointer to its graph node. An intermediate
// value that no backward needs (a conv output that only feeds a ReLU, which
// saves its own output) is freed as soon as the last Var holding it goes,
// not kept until backward. Binary ops likewise save only the operands their
// gradient reads.
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

// A vertex of the backward graph: the gradient flowing into one value, and
// how to pass it on. It keeps the value's shape (to check gradients), never
// the value itself.
struct Node {
    Shape shape;
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
    explicit Var(Tensor value, bool requires_grad = false);

    bool defined() const { return cell_ != nullptr; }
    const Tensor& value() const { return cell_->value; }
    const Tensor& grad() const { return node_->grad; }
    void set_grad(Tensor g) { node_->grad = std::move(g); }
    void zero_grad() { node_->grad = Tensor(); }
    bool requires_grad() const { return node_ && node_->requires_grad; }
    void set_requires_grad(bool r) { node_->requires_grad = r; }
    // Replaces the value in place (same shape), keeping the node: used by
    // optimizers, EMA updates and checkpoint loading.
    void assign(const Tensor& value);

    const Shape& shape() const { return cell_->value.shape(); }
    int64_t dim() const { return cell_->value.dim(); }
    int64_t size(int64_t d) const { return cell_->value.size(d); }
    DType dtype() const { return cell_->value.dtype(); }
    Device device() const { return cell_->value.device(); }
    const char* op() const { return node_->op; }

    // The same value, cut from the graph: gradients stop here.
    Var detach() const { return Var(cell_->value, false); }

    // Reverse-mode sweep from this scalar (seed gradient 1), or from any
    // shape with an explicit seed gradient of that shape.
    void backward() const;
    void backward(const Tensor& seed) const;

    const std::shared_ptr<Node>& node() const { return node_; }

private:
    // Copies of a Var share the value (so assign() reaches every copy, as a
    // module's parameter and an optimizer's reference to it must) and the node.
    struct Cell {
        Tensor value;
    };
    std::shared_ptr<Cell> cell_;
    std::shared_ptr<Node> node_;
    friend Var make_result(Tensor, std::vector<Var>, const char*, BackwardFn);
};

// sg(t) in the papers' notation: `t` enters the graph as a constant, so no
// gradient flows back into whatever computed it. (Var(t) does the same; this
// name says why.) The VQ-VAE's straight-through estimator and commitment loss
// are written with it.
inline Var stop_gradient(const Tensor& t) { return Var(t, false); }
inline Var stop_gradient(const Var& v) { return v.detach(); }

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
