// The classical baseline of the density table: a mixture of C multivariate
// Bernoullis over the 784 binary pixels, fitted by EM (the binary-data
// analogue of a Gaussian mixture):
//
//   p(x) = sum_c pi_c prod_d mu_cd^x_d (1 - mu_cd)^(1 - x_d)
//
// Its test NLL is exact: a log-sum-exp over the components, no bound.
#pragma once

#include <string>
#include <vector>

#include "models/task.hpp"
#include "nn/module.hpp"
#include "tensor/random.hpp"

namespace vq::models {

class BernoulliMixture : public nn::Module {
public:
    // C components over D pixels; mu starts from C random rows of `init_from`
    // ([N, D] of 0/1) pulled halfway to 1/2, pi uniform.
    BernoulliMixture(int64_t components, int64_t pixels);
    void init_from_data(const Tensor& x, Generator& gen);

    // x: [N, D] of 0/1 -> [N, C]: log pi_c + log p(x | c), as one GEMM:
    //   x . (log mu_c - log(1 - mu_c)) + sum_d log(1 - mu_cd) + log pi_c
    Tensor joint_log_prob(const Tensor& x) const;
    // x: [N, D] -> log p(x): [N] (log-sum-exp over components)
    Tensor log_likelihood(const Tensor& x) const;

    // One EM iteration over x ([N, D], in chunks of `chunk` rows): the E step
    // computes responsibilities r_nc = p(c | x_n) in log space; the M step
    //   pi_c = N_c / N,   mu_cd = (sum_n r_nc x_nd + alpha) / (N_c + 2 alpha)
    // (alpha > 0 is a Beta(alpha + 1, alpha + 1) prior that keeps mu off 0
    // and 1). Returns the mean log-likelihood of x under the parameters the
    // iteration started from; EM never lets it decrease (alpha = 0).
    double em_step(const Tensor& x, double alpha, int64_t chunk = 4096);

    int64_t components() const { return log_weights.size(0); }
    ag::Var log_weights;  // [C]: log pi
    ag::Var probs;        // [C, D]: mu, in (0, 1)
};

// `train --model mixture --components C`: EM for o.epochs iterations on the
// training images binarized once (the training rule, seed o.seed); writes
// model.safetensors, metrics.jsonl (train and test NLL per iteration) and
// config.json to o.out_dir.
int train_mixture(const TrainOptions& o);

}  // namespace vq::models
