// The VAE, the Gated PixelCNN prior and the density evaluation.
#include <cmath>
#include <filesystem>
#include <tuple>

#include "models/checkpoint.hpp"
#include "models/evaluate.hpp"
#include "models/pixelcnn.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/vae.hpp"
#include "models/vqvae.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {


std::map<std::string, Shape> shapes_of(const nn::Module& m) {
    std::map<std::string, Shape> out;
    for (auto& [n, v] : m.named_parameters()) out[n] = v.shape();
    return out;
}

}  // namespace

TEST_CASE("VAE and prior parameters carry docs/design.md's names and shapes") {
    Generator gen(0);
    models::VAE vae(gen);
    auto v = shapes_of(vae);
    CHECK(v.size() == 16 + 14);  // encoder: 3 convs, 2 res blocks, fc; decoder: fc, 2 res blocks, 2 deconvs
    CHECK(v.at("encoder.fc.weight") == Shape{64, 6272});
    CHECK(v.at("decoder.fc.weight") == Shape{6272, 32});
    CHECK(v.at("decoder.fc.bias") == Shape{6272});
    CHECK(v.at("encoder.res2.conv2.weight") == Shape{128, 32, 1, 1});
    CHECK(v.at("decoder.deconv2.weight") == Shape{64, 1, 4, 4});
    models::GatedPixelCNN prior(gen);
    auto p = shapes_of(prior);
    CHECK(p.size() == 1 + 10 * 8 + 2);
    CHECK(p.at("embedding.weight") == Shape{512, 64});
    for (int i : {0, 9}) {
        std::string l = "layers." + std::to_string(i) + ".";
        CHECK(p.at(l + "vert.weight") == Shape{128, 64, 2, 3});
        CHECK(p.at(l + "vert_to_horiz.weight") == Shape{128, 128, 1, 1});
        CHECK(p.at(l + "horiz.weight") == Shape{128, 64, 1, 2});
        CHECK(p.at(l + "horiz_resid.weight") == Shape{64, 64, 1, 1});
    }
    CHECK(p.at("output.weight") == Shape{512, 64, 1, 1});
}

TEST_CASE("the prior is causal: the code at p changes logits only after p") {
    Generator gen(1);
    models::GatedPixelCNN prior(gen);
    Tensor base = randint({1, 7, 7}, 512, gen);
    // row p of the batch differs from base only at raster position p
    Tensor batch = base.expand({49, 7, 7}).contiguous();
    int64_t* b = batch.data<int64_t>();
    for (int64_t p = 0; p < 49; ++p) b[p * 49 + p] = (b[p * 49 + p] + 1 + p) % 512;
    ag::NoGradGuard no_grad;
    // The reference is the unchanged map in a batch of the same size, so that
    // both passes run the same GEMM shapes (BLAS may pick other kernels, and
    // round differently, for other shapes) and any difference is causal.
    Tensor ref = prior.forward(base.expand({49, 7, 7}).contiguous()).value();  // [49, 512, 7, 7]
    Tensor out = prior.forward(batch).value();                                  // [49, 512, 7, 7]
    Tensor diff = max(abs(sub(out, ref)), {1});        // [49, 7, 7]: max change per position
    std::vector<double> d = diff.to_vector();
    for (int64_t p = 0; p < 49; ++p) {
        CAPTURE(p);
        double before = 0, after = 0;
        for (int64_t q = 0; q < 49; ++q) (q <= p ? before : after) = std::max(q <= p ? before : after, d[size_t(p * 49 + q)]);
        CHECK(before == 0.0);
        if (p < 48) CHECK(after > 1e-6);
    }
}

TEST_CASE("uniform logits give a prior NLL of 49 ln 512") {
    Generator gen(2);
    models::GatedPixelCNN prior(gen);
    prior.output.weight.assign(Tensor::zeros(prior.output.weight.shape()));
    prior.output.bias.assign(Tensor::zeros(prior.output.bias.shape()));
    Tensor codes = randint({3, 7, 7}, 512, gen);
    for (double nll : prior.nll_per_image(codes).to_vector()) CHECK(nll == doctest::Approx(49.0 * std::log(512.0)).epsilon(1e-6));
}

TEST_CASE("prior samples are valid codes and keep the conditioning rows") {
    Generator gen(3);
    models::GatedPixelCNN prior(gen);
    Tensor given = randint({2, 7, 7}, 512, gen);
    Tensor s = prior.sample(2, 1.0, gen, Device::cpu(), given, 3);
    CHECK(s.shape() == Shape{2, 7, 7});
    CHECK(s.narrow(1, 0, 3).contiguous().to_ints() == given.narrow(1, 0, 3).contiguous().to_ints());
    CHECK(min(s).item() >= 0);
    CHECK(max(s).item() < 512);
    Generator g1(9), g2(9);
    CHECK(prior.sample(2, 0.5, g1, Device::cpu()).to_ints() == prior.sample(2, 0.5, g2, Device::cpu()).to_ints());
}

TEST_CASE("prior samples follow softmax(logits / T): a chi-square test on a model with known logits") {
    // All weights zero: every gate gives tanh(0) sigmoid(0) = 0, so the logits
    // at every position are the output bias b, whatever came before. Sampling
    // must then draw each code with probability softmax(b / T).
    Generator gen(5);
    models::PixelCNNConfig config;
    config.num_codes = 4;
    config.channels = 4;
    config.layers = 2;
    models::GatedPixelCNN prior(gen, config);
    const std::vector<double> b = {1.0, 0.0, -1.0, 0.5};
    for (auto& [name, p] : prior.named_parameters())
        p.assign(name == "output.bias" ? Tensor::from_vector(std::vector<float>(b.begin(), b.end()), {4})
                                       : Tensor::zeros(p.shape()));
    for (double T : {1.0, 2.0}) {
        CAPTURE(T);
        Generator draw(11);
        const int64_t n = 300;
        std::vector<int64_t> s = prior.sample(n, T, draw, Device::cpu()).to_ints();
        std::vector<double> observed(4, 0.0), expected(4);
        for (int64_t k : s) observed[size_t(k)] += 1;
        double z = 0;
        for (size_t k = 0; k < 4; ++k) z += std::exp(b[k] / T);
        double chi2 = 0;
        for (size_t k = 0; k < 4; ++k) {
            expected[k] = double(s.size()) * std::exp(b[k] / T) / z;
            chi2 += (observed[k] - expected[k]) * (observed[k] - expected[k]) / expected[k];
        }
        CAPTURE(observed);
        CAPTURE(expected);
        // 3 degrees of freedom: P(chi2 > 16.27) = 0.001 under the right distribution,
        // while drawing from softmax(b) at T = 2 (the temperature ignored) gives over 1,000
        CHECK(chi2 < 16.27);
    }
}

TEST_CASE("IWAE is below the ELBO and tightens as k grows") {
    Generator gen(4);
    models::VAE vae(gen);
    Tensor x = bernoulli(Tensor::full({3, 1, 28, 28}, 0.2), gen);
    auto avg = [](const Tensor& t) { return mean(t).item(); };
    Generator g(5);
    double elbo = 0;
    for (int i = 0; i < 20; ++i) elbo += avg(vae.negative_elbo(x, g)) / 20;  // the expected -ELBO
    double k10 = avg(vae.iwae_nll(x, 10, g)), k100 = avg(vae.iwae_nll(x, 100, g, 64)), k1000 = avg(vae.iwae_nll(x, 1000, g, 512));
    MESSAGE("-ELBO " << elbo << ", IWAE-10 " << k10 << ", IWAE-100 " << k100 << ", IWAE-1000 " << k1000);
    CHECK(k100 <= elbo);
    CHECK(k10 >= k100);
    CHECK(k100 >= k1000);
    CHECK(std::abs(k1000 - k100) < std::abs(k100 - k10));  // converging
    // chunking does not change the estimate's distribution: same seed, same numbers
    Generator a(6), b(6);
    CHECK_CLOSE(vae.iwae_nll(x, 7, a, 3), vae.iwae_nll(x, 7, b, 1000), 1e-5, 1e-4);
}

TEST_CASE("evaluate produces docs/design.md's JSON keys and a consistent table") {
    Generator gen(7);
    models::VQVAE vqvae(gen);
    models::GatedPixelCNN prior(gen);
    models::VAE vae(gen);
    std::string dir = test_dir("density", "eval");
    models::save_model_file(vqvae, dir + "/vqvae.safetensors", "vqvae", 0);
    models::save_model_file(prior, dir + "/prior.safetensors", "prior", 0);
    models::save_model_file(vae, dir + "/vae.safetensors", "vae", 0);
    models::EvalOptions o;
    o.vqvae = dir + "/vqvae.safetensors";
    o.prior = dir + "/prior.safetensors";
    o.vae = dir + "/vae.safetensors";
    o.limit = 20;
    o.iw_k = 5;
    auto r = models::evaluate_density(o);
    for (const char* k : {"images", "vqvae_recon_nats", "vqvae_uniform_nats", "prior_nats", "vqvae_prior_nats",
                          "vae_elbo_nats", "vae_iwae_nats", "iw_k"})
        CHECK(r.contains(k));
    CHECK(r["images"] == 20);
    CHECK(r["vqvae_uniform_nats"].get<double>() == doctest::Approx(r["vqvae_recon_nats"].get<double>() + 49 * std::log(512.0)));
    CHECK(r["vqvae_prior_nats"].get<double>() == doctest::Approx(r["vqvae_recon_nats"].get<double>() + r["prior_nats"].get<double>()));
    std::string table = models::format_density_table(r);
    CHECK(table.find("VAE IWAE-5") != std::string::npos);
    CHECK(models::nats_to_bits_per_dim(784 * std::log(2.0)) == doctest::Approx(1.0));
    // a checkpoint of the wrong model is named as such
    o.vae = dir + "/prior.safetensors";
    CHECK(message_contains([&] { models::evaluate_density(o); }, "this is a 'prior' checkpoint, expected a 'vae' one"));
    o.vae.clear();
    o.vqvae.clear();
    CHECK(message_contains([&] { models::evaluate_density(o); }, "--prior needs the --vqvae"));
}

TEST_CASE("the incremental PixelCNN gives the full forward's logits at every position") {
    for (auto [K, C, L] : {std::tuple<int64_t, int64_t, int64_t>{5, 8, 3}, {512, 64, 10}, {2, 4, 1}}) {
        CAPTURE(K);
        Generator gen(uint64_t(K + C + L));
        models::GatedPixelCNN prior(gen, {K, C, L});
        const int64_t n = 3;
        Tensor codes = randint({n, 7, 7}, K, gen);
        Tensor full = prior.forward(codes).value();  // [n, K, 7, 7]
        models::IncrementalPixelCNN inc(prior, n);
        for (int64_t r = 0; r < 7; ++r)
            for (int64_t c = 0; c < 7; ++c) {
                CAPTURE(r);
                CAPTURE(c);
                Tensor at = inc.logits(r, c);  // [n, K]
                CHECK_CLOSE(at, full.select(3, c).select(2, r), 1e-4, 1e-5);
                inc.set(r, c, codes.select(2, c).select(1, r).contiguous());
            }
        // out of order is refused
        models::IncrementalPixelCNN again(prior, n);
        CHECK(message_contains([&] { again.logits(0, 1); }, "raster order"));
    }
}
