// The autoregressive decoder of the latent models (--decoder pixelcnn,
// models/ar_decoder.hpp): causality over the pixels, a likelihood that sums
// to one over every image, sampling that draws from it, and whole runs of
// the tools: the VAE and the VQ-VAE train, resume, evaluate, get a prior and
// round-trip both codecs with it, and repair, which cannot use it, says so.
// The incremental form the codecs and sampling use equals the full forward.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "codec/io.hpp"
#include "models/ar_decoder.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"
#include "tests/tool_runs.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 28, kPixels = kSide * kSide;

models::AutoregressiveHead small_head(uint64_t seed, int64_t features, int64_t channels = 8, int64_t layers = 2) {
    Generator gen(seed);
    return models::AutoregressiveHead(features, models::DecoderConfig{true, layers, channels}, gen);
}

// log p(x | features) under the head: the sum over pixels of -BCE. x: [B, 1, H, W] -> [B]
std::vector<double> log_likelihood(const models::AutoregressiveHead& head, const Tensor& features, const Tensor& x) {
    ag::NoGradGuard no_grad;
    Tensor per_pixel = ag::bce_with_logits(head.forward(ag::Var(features), x), ag::Var(x), ag::Reduction::None).value();
    std::vector<double> nll = sum(per_pixel.reshape({x.size(0), -1}), {1}).to_vector();
    for (double& v : nll) v = -v;
    return nll;
}

// Every binary image of `pixels` pixels in a [2^pixels, 1, h, w] batch, image
// m's pixel i being bit i of m.
Tensor every_image(int64_t h, int64_t w) {
    const int64_t pixels = h * w, n = int64_t(1) << pixels;
    std::vector<float> v(size_t(n * pixels));
    for (int64_t m = 0; m < n; ++m)
        for (int64_t i = 0; i < pixels; ++i) v[size_t(m * pixels + i)] = float((m >> i) & 1);
    return Tensor::from_vector(v, {n, 1, h, w});
}

}  // namespace

TEST_CASE("the autoregressive decoder is causal: changing pixel i changes no logit at positions j <= i") {
    const int64_t F = 6;
    models::AutoregressiveHead head = small_head(1, F, 8, 3);
    Generator gen(2);
    const std::vector<int64_t> changed = {0, 1, 27, 28, 29, 55, 300, 417, 782, 783};
    const int64_t B = int64_t(changed.size());
    Tensor features = rand_normal({1, F, kSide, kSide}, 0.0, 1.0, gen).expand({B, F, kSide, kSide}).contiguous();
    Tensor base = lt(rand_uniform({1, 1, kSide, kSide}, 0.0, 1.0, gen), Tensor::scalar(0.5)).to(DType::F32);
    Tensor batch = base.expand({B, 1, kSide, kSide}).contiguous();
    float* p = batch.data<float>();
    for (int64_t b = 0; b < B; ++b) p[b * kPixels + changed[size_t(b)]] = 1.0f - p[b * kPixels + changed[size_t(b)]];
    ag::NoGradGuard no_grad;
    // the reference runs the same batch size, so both passes use the same GEMM shapes
    Tensor ref = head.forward(ag::Var(features), base.expand({B, 1, kSide, kSide}).contiguous()).value();  // [B, 1, 28, 28]
    Tensor out = head.forward(ag::Var(features), batch).value();                                          // [B, 1, 28, 28]
    check_causal(abs(sub(out, ref)).to_vector(), changed, kPixels);
}

TEST_CASE("the incremental masked stack equals the full forward at every position, and raster_scan follows the pixels it is given") {
    const int64_t F = 5, B = 3;
    models::AutoregressiveHead head = small_head(11, F, 8, 3);
    Generator gen(12);
    Tensor features = rand_normal({B, F, kSide, kSide}, 0.0, 1.0, gen);
    Tensor x = lt(rand_uniform({B, 1, kSide, kSide}, 0.0, 1.0, gen), Tensor::scalar(0.4)).to(DType::F32);
    ag::NoGradGuard no_grad;
    const std::vector<double> full = head.forward(ag::Var(features), x).value().to_vector();  // [B, 1, 28, 28]
    auto [gate_bias, skip_logits] = head.from_features(ag::Var(features));
    models::IncrementalPixelCNN stack(head, gate_bias.value(), skip_logits.value());
    CHECK(stack.batch() == B);
    CHECK(stack.side() == kSide);
    const std::vector<double> pixels = x.to_vector();
    double worst = 0;
    for (int64_t r = 0; r < kSide; ++r)
        for (int64_t c = 0; c < kSide; ++c) {
            const int64_t pos = r * kSide + c;
            const std::vector<double> got = stack.logits(r, c).to_vector();  // [B, 1]
            std::vector<double> symbols;
            for (int64_t i = 0; i < B; ++i) {
                worst = std::max(worst, std::abs(got[size_t(i)] - full[size_t(i * kPixels + pos)]));
                symbols.push_back(pixels[size_t(i * kPixels + pos)]);
            }
            stack.set(r, c, Tensor::from_vector(symbols, {B}).to(DType::I64));
        }
    CAPTURE(worst);
    CHECK(worst < 1e-4);
    // raster_scan hands out sigmoid of the same logits, and keeps the pixels it is told
    double worst_p = 0;
    Tensor kept = head.raster_scan(features, [&](int64_t pos, const float* p_one, float* out) {
        for (int64_t i = 0; i < B; ++i) {
            const double expected = 1.0 / (1.0 + std::exp(-full[size_t(i * kPixels + pos)]));
            worst_p = std::max(worst_p, std::abs(double(p_one[i]) - expected));
            out[i] = float(pixels[size_t(i * kPixels + pos)]);
        }
    });
    CHECK(worst_p < 1e-5);
    CHECK(kept.to_vector() == pixels);
    // positions go in raster order, and the pixels are 0 or 1
    models::IncrementalPixelCNN again(head, gate_bias.value(), skip_logits.value());
    CHECK(message_contains([&] { again.logits(0, 1); }, "raster order"));
    CHECK(message_contains([&] { again.set(0, 0, Tensor::full({B}, 2.0).to(DType::I64)); }, "outside 0..1"));
}

TEST_CASE("the conditionals make one distribution: p(x | features) sums to 1 over every 3x3 image") {
    // any side works; 3x3 has 512 images, so the sum is exact and cheap
    const int64_t F = 4;
    models::AutoregressiveHead head = small_head(3, F);
    Generator gen(4);
    Tensor x = every_image(3, 3);
    for (int trial = 0; trial < 3; ++trial) {
        Tensor features = rand_normal({1, F, 3, 3}, 0.0, 2.0, gen).expand({x.size(0), F, 3, 3}).contiguous();
        double total = 0;
        for (double lp : log_likelihood(head, features, x)) total += std::exp(lp);
        CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("sampling draws from the decoder's likelihood: a chi-square test over every 2x2 image") {
    const int64_t F = 3, n = 4000;
    models::AutoregressiveHead head = small_head(5, F, 8, 2);
    Generator gen(6);
    Tensor one = rand_normal({1, F, 2, 2}, 0.0, 2.0, gen);
    Tensor x = every_image(2, 2);  // [16, 1, 2, 2]
    std::vector<double> lp = log_likelihood(head, one.expand({16, F, 2, 2}).contiguous(), x);
    Generator draw(7);
    std::vector<double> drawn = head.sample(one.expand({n, F, 2, 2}).contiguous(), draw).to_vector();  // [n, 1, 2, 2]
    std::vector<double> counts(16, 0.0);
    for (int64_t s = 0; s < n; ++s) {
        int64_t m = 0;
        for (int64_t i = 0; i < 4; ++i) m |= int64_t(drawn[size_t(s * 4 + i)] > 0.5) << i;
        counts[size_t(m)] += 1;
    }
    double chi2 = 0;
    for (int64_t m = 0; m < 16; ++m) {
        const double expected = double(n) * std::exp(lp[size_t(m)]);
        chi2 += (counts[size_t(m)] - expected) * (counts[size_t(m)] - expected) / expected;
    }
    CAPTURE(chi2);
    // 15 degrees of freedom: P(chi2 > 37.70) = 0.001 under the right distribution
    CHECK(chi2 < 37.70);
}

TEST_CASE("a VAE and a VQ-VAE with --decoder pixelcnn train, resume, evaluate, get a prior and round-trip both codecs") {
    const std::string dir = test_dir("ar_decoder", "runs", true);
    const std::string data = tiny_data(test_dir("ar_decoder", "data"), 96, 40);
    const std::vector<std::string> ar = {"--decoder", "pixelcnn", "--decoder-channels", "8", "--decoder-layers", "2"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    const std::vector<std::string> common = {"--steps", "3", "--batch", "16", "--eval-limit", "40", "--threads", "1", "--data", data};
    run_ok("train", with(with({"--model", "vae", "--out", dir + "/vae"}, ar), common));
    run_ok("train", with(with({"--model", "vqvae", "--codes", "8", "--out", dir + "/vq"}, ar), common));

    // the file says what it holds: the decoder's depth and width come from its tensors
    auto vae = models::load_vae(dir + "/vae/model.safetensors", Device::cpu());
    CHECK(vae->decoder.autoregressive());
    CHECK(vae->decoder.config.layers == 2);
    CHECK(vae->decoder.config.channels == 8);
    auto vq = models::load_vqvae(dir + "/vq/model.safetensors", Device::cpu());
    CHECK(vq->decoder.autoregressive());
    CHECK(vq->config.decoder.channels == 8);

    // resume continues with the same decoder (config.json carries it)
    run_ok("train", {"--resume", dir + "/vae", "--steps", "5"});
    CHECK(nn::load_safetensors(dir + "/vae/model.safetensors").metadata["step"] == "5");

    // the prior trains on its codes and the bound is recon + prior
    run_ok("train", with({"--model", "prior", "--vqvae", dir + "/vq/model.safetensors", "--prior-channels", "8",
                          "--prior-layers", "2", "--out", dir + "/prior"}, common));
    run_ok("evaluate", {"--vqvae", dir + "/vq/model.safetensors", "--prior", dir + "/prior/model.safetensors", "--vae",
                        dir + "/vae/model.safetensors", "--iw", "4", "--data", data, "--json-out", dir + "/eval.json"});
    std::ifstream in(dir + "/eval.json");
    nlohmann::json r = nlohmann::json::parse(in);
    CHECK(std::isfinite(r["vae_elbo_nats"].get<double>()));
    CHECK(r["vae_iwae_nats"].get<double>() <= r["vae_elbo_nats"].get<double>() + 5.0);
    CHECK(r["vae_decoder"] == "AR decoder 8x2");
    CHECK(r["vqvae_models"][0]["label"] == "VQ-VAE K = 8 (AR decoder 8x2)");
    CHECK(r["vqvae_prior_nats"].get<double>() ==
          doctest::Approx(r["vqvae_recon_nats"].get<double>() + r["prior_nats"].get<double>()).epsilon(1e-6));

    // both codecs decode through the autoregressive decoder: exact round trips
    const std::string images = dir + "/images.idx";
    fs::copy_file(data + "/t10k-images-idx3-ubyte", images);
    run_ok("compress", {"--vae", dir + "/vae/model.safetensors", "--in", images, "--out", dir + "/x.bba"});
    run_ok("decompress", {"--vae", dir + "/vae/model.safetensors", "--in", dir + "/x.bba", "--out", dir + "/x_back.idx"});
    const std::vector<double> original = codec::read_binary_images(images, 0).bits.to_vector();
    CHECK(codec::read_binary_images(dir + "/x_back.idx", 0).bits.to_vector() == original);
    run_ok("compress", {"--vqvae", dir + "/vq/model.safetensors", "--prior", dir + "/prior/model.safetensors", "--in", images,
                        "--lossless", "--out", dir + "/x.vqz"});
    run_ok("decompress", {"--vqvae", dir + "/vq/model.safetensors", "--prior", dir + "/prior/model.safetensors", "--in",
                          dir + "/x.vqz", "--out", dir + "/x_vqz.idx"});
    CHECK(codec::read_binary_images(dir + "/x_vqz.idx", 0).bits.to_vector() == original);
    // repair scores candidates with the plain decoder's likelihood: it refuses the file and writes nothing
    ProcessResult repair = run_tool(tool("repair"), {"--vqvae", dir + "/vq/model.safetensors", "--prior", dir + "/prior/model.safetensors",
                                                     "--in", images, "--random-holes", "5", "--out", dir + "/r.png"});
    CHECK(repair.exit_code != 0);
    CHECK(repair.output.find("not supported by repair") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/r.png"));

    // sample draws the pixels one by one through the decoder
    run_ok("sample", {"--vqvae", dir + "/vq/model.safetensors", "--prior", dir + "/prior/model.safetensors", "-n", "2",
                      "--out", dir + "/s.png"});
    CHECK(fs::file_size(dir + "/s.png") > 0);
}

TEST_CASE("the decoder flags are checked before anything is written") {
    const std::string dir = test_dir("ar_decoder", "flags", true);
    ProcessResult no_kind = run_tool(tool("train"), {"--model", "vae", "--decoder-layers", "2", "--out", dir + "/a"});
    CHECK(no_kind.exit_code != 0);
    CHECK(no_kind.output.find("give --decoder pixelcnn") != std::string::npos);
    ProcessResult prior = run_tool(tool("train"), {"--model", "pixelcnn", "--decoder", "pixelcnn", "--out", dir + "/b"});
    CHECK(prior.exit_code != 0);
    CHECK(prior.output.find("--decoder is for --model vqvae or vae") != std::string::npos);
    ProcessResult range = run_tool(tool("train"), {"--model", "vae", "--decoder", "pixelcnn", "--decoder-layers", "99", "--out", dir + "/c"});
    CHECK(range.exit_code != 0);
    CHECK(range.output.find("--decoder-layers") != std::string::npos);
    for (const char* d : {"/a", "/b", "/c"}) CHECK_FALSE(fs::exists(dir + d));
}
