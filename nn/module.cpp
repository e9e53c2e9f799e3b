#include "nn/module.hpp"

#include <set>

namespace vq::nn {

ag::Var Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
    ag::Var v(std::move(value), requires_grad);
    params_.emplace_back(name, v);
    return v;
}

void Module::register_module(const std::string& name, Module& child) { children_.emplace_back(name, &child); }

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, ag::Var>>& out) const {
    for (const auto& [name, v] : params_) out.emplace_back(prefix + name, v);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, ag::Var>> Module::named_parameters() const {
    std::vector<std::pair<std::string, ag::Var>> out;
    collect("", out);
    return out;
}

std::vector<ag::Var> Module::parameters() const {
    std::vector<ag::Var> out;
    for (auto& [name, v] : named_parameters()) out.push_back(v);
    return out;
}

std::vector<ag::Var> Module::trainable_parameters() const {
    std::vector<ag::Var> out;
    for (auto& [name, v] : named_parameters())
        if (v.requires_grad()) out.push_back(v);
    return out;
}

int64_t Module::parameter_count() const {
    int64_t n = 0;
    for (auto& [name, v] : named_parameters()) n += v.value().numel();
    return n;
}

StateDict Module::state_dict() const {
    StateDict out;
    for (auto& [name, v] : named_parameters()) out[name] = v.value();
    return out;
}

void Module::load_state_dict(const StateDict& state, const std::string& source) {
    auto named = named_parameters();
    std::set<std::string> expected;
    for (auto& [name, v] : named) {
        expected.insert(name);
        auto it = state.find(name);
        if (it == state.end())
            throw std::runtime_error(source + ": missing tensor '" + name + "' (expected shape " +
                                     shape_str(v.shape()) + ")");
        if (it->second.shape() != v.shape())
            throw std::runtime_error(source + ": tensor '" + name + "' has shape " + it->second.shape_str() +
                                     ", expected " + shape_str(v.shape()));
        if (it->second.dtype() != v.dtype())
            throw std::runtime_error(source + ": tensor '" + name + "' has dtype " + dtype_name(it->second.dtype()) +
                                     ", expected " + dtype_name(v.dtype()));
    }
    for (auto& [name, t] : state)
        if (!expected.count(name))
            throw std::runtime_error(source + ": unexpected tensor '" + name +
                                     "' (is this a checkpoint of another model?)");
    // validated everything first, so a bad file changes nothing
    for (auto& [name, v] : named) v.assign(state.at(name).to(v.device()).contiguous());
}

void Module::to(Device device) {
    for (auto& [name, v] : named_parameters()) v.assign(v.value().to(device));
}

void Module::zero_grad() {
    for (auto& [name, v] : named_parameters()) v.zero_grad();
}

}  // namespace vq::nn
