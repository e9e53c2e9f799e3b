#include "optim/weight_average.hpp"

#include <algorithm>
#include <stdexcept>

namespace vq::optim {

WeightAverage::WeightAverage(NamedParams params, double decay) : params_(std::move(params)), decay_(decay) {
    if (!(decay > 0 && decay < 1))
        throw std::invalid_argument("Polyak averaging: the decay must be in (0, 1), got " + std::to_string(decay));
    for (auto& [name, p] : params_) other_.push_back(p.value().clone());
}

void WeightAverage::update(int64_t step) {
    if (swapped_) throw std::logic_error("WeightAverage::update inside an AveragedScope");
    const double d = std::min(decay_, double(1 + step) / double(10 + step));
    for (size_t i = 0; i < params_.size(); ++i) {
        mul_(other_[i], d);
        add_(other_[i], mul(params_[i].second.value(), 1.0 - d));
    }
}

void WeightAverage::swap() {
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor p = params_[i].second.value();
        Tensor held = p.clone();
        p.copy_from(other_[i]);
        other_[i] = held;
    }
    swapped_ = !swapped_;
}

nn::StateDict WeightAverage::raw_state() const {
    if (!swapped_) throw std::logic_error("WeightAverage::raw_state outside an AveragedScope");
    nn::StateDict s;
    for (size_t i = 0; i < params_.size(); ++i) s["polyak.raw." + params_[i].first] = other_[i];
    return s;
}

void WeightAverage::restore(const nn::StateDict& state, const std::string& source) {
    for (size_t i = 0; i < params_.size(); ++i) {
        const std::string key = "polyak.raw." + params_[i].first;
        auto it = state.find(key);
        if (it == state.end())
            throw std::runtime_error(source + ": missing '" + key + "' (was this run trained without --polyak?)");
        Tensor p = params_[i].second.value();
        if (it->second.shape() != p.shape())
            throw std::runtime_error(source + ": '" + key + "' has shape " + it->second.shape_str() + ", expected " +
                                     p.shape_str());
        other_[i] = p.clone();  // the model file held the average
        p.copy_from(it->second.to(p.device()));
    }
}

}  // namespace vq::optim
