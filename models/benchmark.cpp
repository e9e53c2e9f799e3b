#include "models/benchmark.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "cuda/backend.hpp"
#include "models/pixelcnn.hpp"
#include "models/vae.hpp"
#include "models/vqvae.hpp"
#include "optim/optimizer.hpp"
#include "tensor/blas.hpp"
#include "tensor/storage.hpp"

namespace vq::models {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void sync(Device d) {
    if (d.is_cuda()) cuda::synchronize();
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

struct Bench {
    std::function<void()> train_step;  // ends with a host read of the loss (a sync)
    std::function<void()> eval_step;   // one forward of `batch` images, no grad
};

}  // namespace

double sgemm_peak_gflops(const std::string& device_name) {
    Device device = Device::parse(device_name);
    const int64_t n = 1024;
    Generator gen(1);
    Tensor a = rand_uniform({n, n}, -1, 1, gen, DType::F32, device), b = rand_uniform({n, n}, -1, 1, gen, DType::F32, device);
    double best = 1e30;
    for (int i = 0; i < 6; ++i) {
        sync(device);
        auto t = Clock::now();
        Tensor c = matmul(a, b);
        sync(device);
        best = std::min(best, ms_since(t));
    }
    return 2.0 * double(n) * n * n / (best * 1e6);
}

nlohmann::json run_benchmark(const BenchOptions& o) {
    if (o.batch <= 0) throw std::invalid_argument("--batch must be positive, got " + std::to_string(o.batch));
    if (o.steps <= 0) throw std::invalid_argument("--steps must be positive, got " + std::to_string(o.steps));
    if (o.threads > 0) blas::set_threads(int(o.threads));
    Device device = Device::parse(o.device);
    Generator gen(0);
    Tensor images = bernoulli(Tensor::full({o.batch, 1, 28, 28}, 0.3), gen).to(device);
    Tensor codes = randint({o.batch, 7, 7}, 512, gen).to(device);
    Bench b;
    // models and optimizers live as long as the lambdas that use them
    std::shared_ptr<void> keep;
    if (o.model == "vqvae") {
        auto m = std::make_shared<VQVAE>(gen);
        m->to(device);
        auto opt = std::make_shared<optim::Adam>(m->named_parameters(), optim::AdamConfig{2e-4});
        keep = std::make_shared<std::pair<decltype(m), decltype(opt)>>(m, opt);
        b.train_step = [=, &gen] {
            opt->zero_grad();
            VQVAE::Output out = m->forward(images);
            out.loss.backward();
            opt->step();
            m->quantizer.ema_update(out.q.z_e_flat, out.q.codes, gen);
            (void)out.loss.value().item();
        };
        b.eval_step = [=] { (void)sum(m->decode_logits(m->encode(images))).item(); };
    } else if (o.model == "vae" || o.model == "vae-ar") {
        // vae-ar: the VAE with the autoregressive decoder of scripts/long_run.sh (32 x 3)
        auto m = std::make_shared<VAE>(gen, DecoderConfig{o.model == "vae-ar", 3, 32});
        m->to(device);
        auto opt = std::make_shared<optim::Adam>(m->named_parameters(), optim::AdamConfig{2e-4});
        keep = std::make_shared<std::pair<decltype(m), decltype(opt)>>(m, opt);
        b.train_step = [=, &gen] {
            opt->zero_grad();
            VAE::Output out = m->forward(images, gen);
            out.loss.backward();
            opt->step();
            (void)out.loss.value().item();
        };
        b.eval_step = [=, &gen] { (void)sum(m->negative_elbo(images, gen)).item(); };
    } else if (o.model == "prior" || o.model == "pixelcnn") {
        // the prior over 7x7 codes (K = 512, 64 x 10), or the pixel model over the 28x28 pixels at its
        // default 32 x 8 (train --model pixelcnn): the same module, each at its training lr
        const bool pixels = o.model == "pixelcnn";
        auto m = std::make_shared<GatedPixelCNN>(gen, pixels ? PixelCNNConfig{2, 32, 8} : PixelCNNConfig{});
        m->to(device);
        auto opt = std::make_shared<optim::Adam>(m->named_parameters(), optim::AdamConfig{pixels ? 1e-3 : 3e-4});
        keep = std::make_shared<std::pair<decltype(m), decltype(opt)>>(m, opt);
        Tensor symbols = pixels ? images.reshape({o.batch, 28, 28}).to(DType::I64) : codes;  // [B, 28, 28] or [B, 7, 7]
        b.train_step = [=] {
            opt->zero_grad();
            ag::Var loss = m->loss(symbols);
            loss.backward();
            opt->step();
            (void)loss.value().item();
        };
        b.eval_step = [=] { (void)sum(m->nll_per_image(symbols)).item(); };
    } else {
        throw std::invalid_argument("--model must be vqvae, vae, vae-ar, prior, pixelcnn or all, got '" + o.model + "'");
    }

    for (int64_t i = 0; i < o.warmup; ++i) b.train_step();
    double flops_before = blas::flops_issued();
    b.train_step();
    double step_flops = blas::flops_issued() - flops_before;
    std::vector<double> times;
    for (int64_t i = 0; i < o.steps; ++i) {
        sync(device);
        auto t = Clock::now();
        b.train_step();
        times.push_back(ms_since(t));
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    b.eval_step();
    int64_t eval_reps = 5;
    sync(device);
    auto t = Clock::now();
    for (int64_t i = 0; i < eval_reps; ++i) b.eval_step();
    double eval_ms = ms_since(t);
    double peak = sgemm_peak_gflops(o.device);
    double achieved = step_flops / (median * 1e6);
    nlohmann::json j = {{"model", o.model},
                        {"device", device.str()},
                        {"threads", device.is_cpu() ? blas::threads() : 0},
                        {"batch", o.batch},
                        {"step_ms", median},
                        {"images_per_s", double(o.batch * eval_reps) / (eval_ms / 1000.0)},
                        {"gflops", achieved},
                        {"peak_rss_mb", peak_rss_mb()},
                        {"step_gflop", step_flops / 1e9},
                        {"sgemm_peak_gflops", peak},
                        {"peak_fraction", achieved / peak}};
    // the allocator's peak of live tensor bytes (RSS adds code, caches and the allocator's slack)
    size_t live_peak = device.is_cuda() ? cuda::pool_stats().peak_bytes_in_use : cpu_allocator_stats().peak_bytes_in_use;
    j["device_peak_mb"] = double(live_peak) / (1 << 20);
    return j;
}

}  // namespace vq::models
