// Module: a tree of named parameters. Names are dotted paths built from the
// registration names (`encoder.res1.conv1.weight`), exactly the names that
// checkpoints use.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.hpp"

namespace vq::nn {

using StateDict = std::map<std::string, Tensor>;

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    // Children register by address, so modules neither copy nor move.
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    std::vector<std::pair<std::string, ag::Var>> named_parameters() const;
    std::vector<ag::Var> parameters() const;              // all, in registration order
    std::vector<ag::Var> trainable_parameters() const;    // requires_grad only
    int64_t parameter_count() const;

    StateDict state_dict() const;
    // Every name must be present with the right shape, and nothing extra:
    // errors name the tensor and `source` (a file name, say).
    void load_state_dict(const StateDict& state, const std::string& source);

    void to(Device device);
    void zero_grad();

protected:
    ag::Var register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
    void register_module(const std::string& name, Module& child);

private:
    void collect(const std::string& prefix, std::vector<std::pair<std::string, ag::Var>>& out) const;
    std::vector<std::pair<std::string, ag::Var>> params_;
    std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace vq::nn
