// Optimizers over named parameters. State (moments, step count) is a state
// dict keyed by parameter name, so a resumed run continues exactly.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nn/module.hpp"
#include "optim/adam_step.hpp"

namespace vq::optim {

using NamedParams = std::vector<std::pair<std::string, ag::Var>>;

class Optimizer {
public:
    explicit Optimizer(NamedParams params);
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    void zero_grad();
    virtual nn::StateDict state_dict() const = 0;
    virtual void load_state_dict(const nn::StateDict& state, const std::string& source) = 0;
    double lr() const { return lr_; }
    void set_lr(double lr) { lr_ = lr; }
    const NamedParams& params() const { return params_; }

protected:
    NamedParams params_;
    double lr_ = 1e-3;
};

// Adam (L2 weight decay) or AdamW (decoupled weight decay), PyTorch's update.
class Adam : public Optimizer {
public:
    Adam(NamedParams params, AdamConfig config);
    void step() override;
    nn::StateDict state_dict() const override;
    void load_state_dict(const nn::StateDict& state, const std::string& source) override;
    int64_t steps_taken() const { return step_; }

private:
    AdamConfig config_;
    std::vector<Tensor> m_, v_;
    int64_t step_ = 0;
};

// SGD with momentum (PyTorch's form: buf = momentum * buf + g; p -= lr * buf).
class SGD : public Optimizer {
public:
    SGD(NamedParams params, double lr, double momentum = 0.0, double weight_decay = 0.0);
    void step() override;
    nn::StateDict state_dict() const override;
    void load_state_dict(const nn::StateDict& state, const std::string& source) override;

private:
    double momentum_, weight_decay_;
    std::vector<Tensor> buf_;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns
// the norm before clipping.
double clip_grad_norm(const std::vector<ag::Var>& params, double max_norm);

}  // namespace vq::optim
