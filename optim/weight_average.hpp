// Polyak averaging: an exponential moving average of the parameters,
//   avg <- d_t * avg + (1 - d_t) * p   after every optimizer step,
// with d_t = min(decay, (1 + t) / (10 + t)) so that the first steps' average
// is not dominated by the initial weights. The average is what evaluation
// sees and what the model file holds; training continues from the raw
// weights, which the train state keeps, so a resumed run is bit-exact.
#pragma once

#include "optim/optimizer.hpp"

namespace vq::optim {

class WeightAverage {
public:
    WeightAverage(NamedParams params, double decay);
    double decay() const { return decay_; }
    // After optimizer step number `step` (1-based).
    void update(int64_t step);
    // While a scope is alive the parameters hold the average (for evaluation
    // and the model file); the raw weights come back when it ends.
    class AveragedScope {
    public:
        explicit AveragedScope(WeightAverage& w) : w_(w) { w_.swap(); }
        ~AveragedScope() { w_.swap(); }
        AveragedScope(const AveragedScope&) = delete;
        AveragedScope& operator=(const AveragedScope&) = delete;

    private:
        WeightAverage& w_;
    };
    // Inside an AveragedScope: the raw weights, "polyak.raw.<name>", for the train state.
    nn::StateDict raw_state() const;
    // After the model was loaded from a model file (the average): takes the
    // parameters as the average and restores the raw weights from the state.
    void restore(const nn::StateDict& state, const std::string& source);

private:
    void swap();
    NamedParams params_;
    std::vector<Tensor> other_;  // the average, or the raw weights while swapped
    double decay_;
    bool swapped_ = false;
};

}  // namespace vq::optim
