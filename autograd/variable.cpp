#include "autograd/variable.hpp"

#include <string>
#include <unordered_set>

namespace vq::ag {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

Var::Var(Tensor value, bool requires_grad) : cell_(std::make_shared<Cell>()), node_(std::make_shared<Node>()) {
    check_defined(value, "Var");
    node_->shape = value.shape();
    node_->requires_grad = requires_grad;
    cell_->value = std::move(value);
}

void Var::assign(const Tensor& value) {
    if (value.shape() != cell_->value.shape())
        throw std::invalid_argument(shape_error("assign", "shape must stay the same", cell_->value.shape(), value.shape()));
    cell_->value = value;
}

Var make_result(Tensor value, std::vector<Var> inputs, const char* op, BackwardFn backward) {
    Var out(std::move(value), false);
    out.node_->op = op;
    if (!grad_enabled()) return out;
    bool any = false;
    for (const Var& v : inputs) any = any || v.requires_grad();
    if (!any) return out;
    out.node_->requires_grad = true;
    out.node_->backward = std::move(backward);
    out.node_->inputs.reserve(inputs.size());
    for (Var& v : inputs) out.node_->inputs.push_back(v.node());
    return out;
}

void Var::backward() const {
    const Tensor& v = value();
    if (v.numel() != 1)
        throw std::invalid_argument("backward: needs a scalar, got shape " + v.shape_str() +
                                    "; pass a seed gradient of that shape");
    backward(Tensor::ones(v.shape(), v.dtype(), v.device()));
}

void Var::backward(const Tensor& seed) const {
    if (!node_->requires_grad)
        throw std::invalid_argument("backward: this value does not require grad (no input needs a gradient)");
    if (seed.shape() != node_->shape)
        throw std::invalid_argument(shape_error("backward", "seed gradient must match the output", node_->shape, seed.shape()));

    // Iterative post-order DFS: deep graphs cannot overflow the stack.
    // `order` holds owning pointers: clearing a node's edges below must not
    // free nodes that are still waiting for their turn.
    std::vector<std::shared_ptr<Node>> order;
    std::unordered_set<Node*> visited;
    std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
    visited.insert(node_.get());
    while (!stack.empty()) {
        auto& [n, next] = stack.back();
        if (next < n->inputs.size()) {
            std::shared_ptr<Node> child = n->inputs[next++];
            if (child->requires_grad && visited.insert(child.get()).second) stack.push_back({std::move(child), 0});
        } else {
            order.push_back(n);
            stack.pop_back();
        }
    }

    node_->grad = seed;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node* n = it->get();
        if (n->is_leaf() || !n->grad.defined()) continue;
        std::vector<bool> needs(n->inputs.size());
        for (size_t i = 0; i < needs.size(); ++i) needs[i] = n->inputs[i]->requires_grad;
        std::vector<Tensor> grads = n->backward(n->grad, needs);
        for (size_t i = 0; i < n->inputs.size(); ++i) {
            if (!needs[i] || i >= grads.size() || !grads[i].defined()) continue;
            Node* in = n->inputs[i].get();
            if (grads[i].shape() != in->shape)
                throw std::logic_error(shape_error(n->op, "backward produced a gradient of the wrong shape",
                                                   grads[i].shape(), in->shape));
            if (!in->grad.defined())
                // leaves keep their own copy: optimizers scale gradients in place
                in->grad = in->is_leaf() ? grads[i].clone() : grads[i];
            else if (in->is_leaf() && in->grad.is_contiguous())
                add_(in->grad, grads[i]);
            else
                in->grad = add(in->grad, grads[i]);
        }
        // Free the closure (and the tensors it saved), the edges and the
        // intermediate gradient: nothing of the graph outlives backward.
        n->backward = nullptr;
        n->inputs.clear();
        n->grad = Tensor();
    }
}

}  // namespace vq::ag
