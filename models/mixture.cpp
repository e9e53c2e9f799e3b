#include "models/mixture.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "data/binarize.hpp"
#include "data/idx.hpp"
#include "io/files.hpp"
#include "models/checkpoint.hpp"
#include "models/progress.hpp"

namespace vq::models {

namespace {

// mu stays this far from 0 and 1, so that log mu and log(1 - mu) are finite
// (it binds only when alpha = 0 and a pixel never differs within a component)
constexpr double kProbFloor = 1e-6;

// x: [N, 1, H, W] or [N, D] -> [N, D]
Tensor flat_images(const Tensor& x) { return x.reshape({x.size(0), -1}); }

}  // namespace

BernoulliMixture::BernoulliMixture(int64_t components, int64_t pixels) {
    if (components < 1) throw std::invalid_argument("--components must be at least 1, got " + std::to_string(components));
    log_weights = register_parameter("log_weights", Tensor::full({components}, -std::log(double(components))), false);
    probs = register_parameter("probs", Tensor::full({components, pixels}, 0.5), false);
}

void BernoulliMixture::init_from_data(const Tensor& x_in, Generator& gen) {
    Tensor x = flat_images(x_in);
    const int64_t C = components();
    std::vector<int64_t> rows(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) rows[size_t(c)] = gen.randint(x.size(0));
    // mu_c = x_i / 2 + 1/4: a random image, pulled halfway to 1/2
    Tensor mu = add(mul(index_select(x, 0, Tensor::from_vector(rows, {C})), 0.5), 0.25);
    probs.assign(mu.to(probs.dtype()));
}

// x: [N, D] -> [N, C]
Tensor BernoulliMixture::joint_log_prob(const Tensor& x_in) const {
    Tensor x = flat_images(x_in).to(probs.dtype());
    const Tensor& mu = probs.value();
    Tensor log_mu = log(mu), log_not = log1p(neg(mu));          // [C, D] each
    Tensor a = sub(log_mu, log_not);                              // [C, D]
    Tensor b = add(sum(log_not, {1}), log_weights.value());       // [C]
    return add(matmul(x, a.t()), b.reshape({1, -1}));             // [N, C]
}

Tensor BernoulliMixture::log_likelihood(const Tensor& x) const { return logsumexp(joint_log_prob(x), {1}); }

double BernoulliMixture::em_step(const Tensor& x_in, double alpha, int64_t chunk) {
    Tensor x = flat_images(x_in).to(probs.dtype());
    const int64_t N = x.size(0), C = components(), D = x.size(1);
    Tensor counts = Tensor::zeros({C}, x.dtype());     // N_c = sum_n r_nc
    Tensor sums = Tensor::zeros({C, D}, x.dtype());    // sum_n r_nc x_n
    double total_ll = 0;
    for (int64_t first = 0; first < N; first += chunk) {
        Tensor xc = x.narrow(0, first, std::min(chunk, N - first));
        // E step: log r = joint - log-sum-exp over components
        Tensor joint = joint_log_prob(xc);                             // [n, C]
        Tensor lse = logsumexp(joint, {1}, true);                      // [n, 1]
        total_ll += sum(lse).item();
        Tensor r = exp(sub(joint, lse));                               // [n, C]
        add_(counts, sum(r, {0}));
        add_(sums, matmul(r.t(), xc));                                 // [C, D]
    }
    // M step
    log_weights.assign(log(div(counts, double(N))));
    Tensor mu = div(add(sums, alpha), add(counts, 2.0 * alpha).reshape({C, 1}));
    mu = minimum(maximum(mu, Tensor::scalar(kProbFloor, mu.dtype())), Tensor::scalar(1.0 - kProbFloor, mu.dtype()));
    probs.assign(mu);
    return total_ll / double(N);
}

int train_mixture(const TrainOptions& o) {
    namespace fs = std::filesystem;
    if (o.out_dir.empty()) throw std::invalid_argument("--out: an output directory is required");
    if (o.epochs < 1) throw std::invalid_argument("--epochs (EM iterations) must be positive, got " + std::to_string(o.epochs));
    if (!std::isfinite(o.mixture_alpha) || o.mixture_alpha < 0)
        throw std::invalid_argument(fmt::format("--alpha must be a finite number >= 0, got {}", o.mixture_alpha));
    // the data is read and checked before the output folder is touched
    data::Dataset train = data::load_split(o.data_dir, "train"), test = data::load_split(o.data_dir, "t10k");
    prepare_run_directory(o);
    save_config(o, o.out_dir + "/config.json");

    Generator gen(o.seed);
    // the training images binarized once by the training rule; the test
    // images by the deterministic rule, as for every model
    Tensor x = flat_images(data::binarize_dynamic(train.pixels.data(), train.count, train.height, train.width, gen));
    const int64_t n_test = std::min<int64_t>(o.eval_limit, test.count);
    Tensor x_test = flat_images(data::binarize_deterministic(test.pixels.data(), 0, n_test, test.height, test.width));

    BernoulliMixture model(o.components, x.size(1));
    model.init_from_data(x, gen);
    std::string metrics;  // written once, atomically, with the model
    fmt::print(stderr, "training a mixture of {} Bernoullis by EM: {} iterations over {} images (alpha {})\n",
               o.components, o.epochs, x.size(0), o.mixture_alpha);
    ProgressBar bar("EM", o.epochs);
    double test_nll = 0, seconds = 0;  // seconds of EM, counted as a deep model's training steps are
    for (int64_t it = 1; it <= o.epochs; ++it) {
        const auto started = std::chrono::steady_clock::now();
        double train_ll = model.em_step(x, o.mixture_alpha);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        test_nll = -mean(model.log_likelihood(x_test)).item();
        nlohmann::json j = {{"step", it}, {"epoch", it}, {"seconds", seconds}, {"train_nll_before_step", -train_ll},
                            {"test_nll", test_nll}};
        metrics += j.dump() + "\n";
        bar.update(it, x.size(0), {{"test_nll", test_nll}});
    }
    bar.finish();
    if (!std::isfinite(test_nll)) throw std::runtime_error(fmt::format("EM gave a non-finite test NLL ({}): nothing saved", test_nll));
    save_model_file(model, o.out_dir + "/model.safetensors", "mixture", o.epochs, {});
    io::write_file_atomic(o.out_dir + "/metrics.jsonl", metrics);
    fmt::print(stderr, "done: test NLL {:.2f} nats/image (exact, {} test images); {}/model.safetensors\n", test_nll,
               n_test, o.out_dir);
    return 0;
}

}  // namespace vq::models
