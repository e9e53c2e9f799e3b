// The mixture of Bernoullis: EM's monotone log-likelihood, and its exact
// NLL against a direct computation.
#include <cmath>
#include <fstream>

#include "models/evaluate.hpp"
#include "models/mixture.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;

namespace {

// n binary rows of d pixels drawn around 3 prototypes (each pixel flipped
// with probability 0.2), f64
Tensor prototype_data(int64_t n, int64_t d, Generator& gen) {
    std::vector<double> v(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t k = i % 3;
        for (int64_t j = 0; j < d; ++j) {
            int bit = ((j * (k + 1)) % 3 == 0) ? 1 : 0;
            if (gen.uniform() < 0.2) bit ^= 1;
            v[size_t(i * d + j)] = bit;
        }
    }
    return Tensor::from_vector(v, {n, d});
}

}  // namespace

TEST_CASE("EM never lets the log-likelihood decrease") {
    Generator gen(1);
    Tensor x = prototype_data(90, 12, gen);
    models::BernoulliMixture m(4, 12);
    m.probs.assign(m.probs.value().to(DType::F64));
    m.log_weights.assign(m.log_weights.value().to(DType::F64));
    m.init_from_data(x, gen);
    double previous = -INFINITY;
    for (int it = 0; it < 40; ++it) {
        double ll = m.em_step(x, 0.0, 32);  // alpha 0: plain maximum likelihood; chunks of 32 rows
        CAPTURE(it);
        CHECK(ll >= previous - 1e-12);
        previous = ll;
    }
    // and it learned something: far better than 12 fair coins
    CHECK(previous > -12 * std::log(2.0) + 1.0);
    CHECK(sum(exp(m.log_weights.value())).item() == doctest::Approx(1.0).epsilon(1e-12));  // pi sums to 1
}

TEST_CASE("the mixture's log-likelihood equals a direct sum over components") {
    models::BernoulliMixture m(2, 3);
    m.log_weights.assign(Tensor::from_vector(std::vector<double>{std::log(0.3), std::log(0.7)}, {2}).to(DType::F32));
    m.probs.assign(Tensor::from_vector(std::vector<float>{0.9f, 0.2f, 0.5f, 0.1f, 0.6f, 0.75f}, {2, 3}));
    Tensor x = Tensor::from_vector(std::vector<float>{1, 0, 1, 0, 1, 1, 0, 0, 0}, {3, 3});
    std::vector<double> got = m.log_likelihood(x).to_vector();
    const double pi[2] = {0.3, 0.7}, mu[2][3] = {{0.9, 0.2, 0.5}, {0.1, 0.6, 0.75}};
    const int xs[3][3] = {{1, 0, 1}, {0, 1, 1}, {0, 0, 0}};
    for (int n = 0; n < 3; ++n) {
        double p = 0;
        for (int c = 0; c < 2; ++c) {
            double q = pi[c];
            for (int d = 0; d < 3; ++d) q *= xs[n][d] ? mu[c][d] : 1 - mu[c][d];
            p += q;
        }
        CHECK(got[size_t(n)] == doctest::Approx(std::log(p)).epsilon(1e-6));
    }
}

TEST_CASE("train --model mixture writes a model that evaluate scores exactly") {
    const std::string dir = test_dir("density", "mixture", true);
    ProcessResult r = run_tool(tool("train"), {"--model", "mixture", "--components", "3", "--epochs", "2",
                                               "--eval-limit", "50", "--out", dir});
    REQUIRE(r.exit_code == 0);
    models::EvalOptions o;
    o.mixture = dir + "/model.safetensors";
    o.limit = 50;
    nlohmann::json j = models::evaluate_density(o);
    CHECK(j["mixture_components"] == 3);
    CHECK(j["mixture_iterations"] == 2);
    // the training run's last test NLL on the same 50 images
    std::string last;
    std::ifstream metrics(dir + "/metrics.jsonl");
    for (std::string line; std::getline(metrics, line);) last = line;
    CHECK(j["mixture_nats"].get<double>() == doctest::Approx(nlohmann::json::parse(last)["test_nll"].get<double>()).epsilon(1e-5));
    ProcessResult bad = run_tool(tool("train"), {"--model", "mixture", "--components", "0", "--out", dir + "/x"});
    CHECK(bad.exit_code != 0);
}
