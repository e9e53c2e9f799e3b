#include "optim/optimizer.hpp"

#include <cmath>

namespace vq::optim {

Optimizer::Optimizer(NamedParams params) {
    for (auto& [name, v] : params)
        if (v.requires_grad()) params_.emplace_back(name, v);
}

void Optimizer::zero_grad() {
    for (auto& [name, v] : params_) v.zero_grad();
}

static Tensor get_state(const nn::StateDict& state, const std::string& key, const Tensor& like, const std::string& source) {
    auto it = state.find(key);
    if (it == state.end()) throw std::runtime_error(source + ": optimizer state is missing '" + key + "'");
    if (it->second.shape() != like.shape())
        throw std::runtime_error(source + ": optimizer state '" + key + "' has shape " + it->second.shape_str() +
                                 ", expected " + like.shape_str());
    return it->second.to(like.dtype()).to(like.device()).clone();
}

Adam::Adam(NamedParams params, AdamConfig config) : Optimizer(std::move(params)), config_(config) {
    lr_ = config.lr;
    for (auto& [name, v] : params_) {
        m_.push_back(Tensor::zeros(v.shape(), v.dtype(), v.device()));
        v_.push_back(Tensor::zeros(v.shape(), v.dtype(), v.device()));
    }
}

void Adam::step() {
    ++step_;
    AdamConfig c = config_;
    c.lr = lr_;
    for (size_t i = 0; i < params_.size(); ++i) {
        ag::Var& p = params_[i].second;
        if (!p.grad().defined()) continue;
        Tensor value = p.value();
        if (!value.is_contiguous()) {
            value = value.contiguous();
            p.assign(value);
        }
        adam_step_(value, p.grad().contiguous(), m_[i], v_[i], c, step_);
    }
}

nn::StateDict Adam::state_dict() const {
    nn::StateDict s;
    for (size_t i = 0; i < params_.size(); ++i) {
        s["adam.m." + params_[i].first] = m_[i];
        s["adam.v." + params_[i].first] = v_[i];
    }
    s["adam.step"] = Tensor::full({1}, double(step_), DType::I64);
    return s;
}

void Adam::load_state_dict(const nn::StateDict& state, const std::string& source) {
    std::vector<Tensor> m, v;
    for (size_t i = 0; i < params_.size(); ++i) {
        m.push_back(get_state(state, "adam.m." + params_[i].first, m_[i], source));
        v.push_back(get_state(state, "adam.v." + params_[i].first, v_[i], source));
    }
    Tensor st = get_state(state, "adam.step", Tensor::zeros({1}, DType::I64), source);
    m_ = std::move(m);
    v_ = std::move(v);
    step_ = int64_t(st.item());
}

SGD::SGD(NamedParams params, double lr, double momentum, double weight_decay)
    : Optimizer(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
    lr_ = lr;
    buf_.resize(params_.size());
}

void SGD::step() {
    for (size_t i = 0; i < params_.size(); ++i) {
        ag::Var& p = params_[i].second;
        if (!p.grad().defined()) continue;
        Tensor g = p.grad();
        if (weight_decay_ != 0) g = add(g, mul(p.value(), weight_decay_));
        if (momentum_ != 0) {
            // the first step starts the buffer at g, as PyTorch does
            buf_[i] = buf_[i].defined() ? add(mul(buf_[i], momentum_), g) : g.clone();
            g = buf_[i];
        }
        p.assign(sub(p.value(), mul(g, lr_)));
    }
}

nn::StateDict SGD::state_dict() const {
    nn::StateDict s;
    for (size_t i = 0; i < params_.size(); ++i)
        if (buf_[i].defined()) s["sgd.momentum." + params_[i].first] = buf_[i];
    return s;
}

void SGD::load_state_dict(const nn::StateDict& state, const std::string& source) {
    for (size_t i = 0; i < params_.size(); ++i) {
        auto it = state.find("sgd.momentum." + params_[i].first);
        buf_[i] = it == state.end() ? Tensor() : get_state(state, it->first, params_[i].second.value(), source);
    }
}

double clip_grad_norm(const std::vector<ag::Var>& params, double max_norm) {
    double total = 0;
    for (const ag::Var& p : params)
        if (p.grad().defined()) total += sum(square(p.grad().to(DType::F64))).item();
    double norm = std::sqrt(total);
    if (norm > max_norm && norm > 0) {
        double scale = max_norm / (norm + 1e-6);  // PyTorch's epsilon
        for (const ag::Var& p : params)
            if (p.grad().defined()) {
                Tensor g = p.grad();
                mul_(g, scale);
            }
    }
    return norm;
}

}  // namespace vq::optim
