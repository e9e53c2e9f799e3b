// The VQ-VAE: parameter names and shapes against docs/design.md, the quantizer
// (nearest code, straight-through, EMA, dead-code restart) and a resumed
// training run equal bit for bit to an uninterrupted one.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/idx.hpp"
#include "io/files.hpp"
#include "models/checkpoint.hpp"
#include "models/vqvae.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {


// The VQ-VAE table of docs/design.md, written out as (name, shape).
const std::map<std::string, Shape> kReferenceVQVAE = {
    {"encoder.conv1.weight", {64, 1, 4, 4}},      {"encoder.conv1.bias", {64}},
    {"encoder.conv2.weight", {128, 64, 4, 4}},    {"encoder.conv2.bias", {128}},
    {"encoder.conv3.weight", {128, 128, 3, 3}},   {"encoder.conv3.bias", {128}},
    {"encoder.res1.conv1.weight", {32, 128, 3, 3}}, {"encoder.res1.conv1.bias", {32}},
    {"encoder.res1.conv2.weight", {128, 32, 1, 1}}, {"encoder.res1.conv2.bias", {128}},
    {"encoder.res2.conv1.weight", {32, 128, 3, 3}}, {"encoder.res2.conv1.bias", {32}},
    {"encoder.res2.conv2.weight", {128, 32, 1, 1}}, {"encoder.res2.conv2.bias", {128}},
    {"encoder.proj.weight", {64, 128, 1, 1}},     {"encoder.proj.bias", {64}},
    {"quantizer.codebook", {512, 64}},
    {"decoder.conv1.weight", {128, 64, 3, 3}},    {"decoder.conv1.bias", {128}},
    {"decoder.res1.conv1.weight", {32, 128, 3, 3}}, {"decoder.res1.conv1.bias", {32}},
    {"decoder.res1.conv2.weight", {128, 32, 1, 1}}, {"decoder.res1.conv2.bias", {128}},
    {"decoder.res2.conv1.weight", {32, 128, 3, 3}}, {"decoder.res2.conv1.bias", {32}},
    {"decoder.res2.conv2.weight", {128, 32, 1, 1}}, {"decoder.res2.conv2.bias", {128}},
    {"decoder.deconv1.weight", {128, 64, 4, 4}},  {"decoder.deconv1.bias", {64}},
    {"decoder.deconv2.weight", {64, 1, 4, 4}},    {"decoder.deconv2.bias", {1}},
};

}  // namespace

TEST_CASE("a saved VQ-VAE holds exactly the design's tensors (docs/design.md), in F32") {
    Generator gen(0);
    models::VQVAE m(gen);
    std::string path = test_dir("vqvae", "names", true) + "/model.safetensors";
    models::save_model_file(m, path, "vqvae", 0);
    // read the raw header, independently of the loader
    std::string bytes = io::read_file(path);
    uint64_t hl = 0;
    for (int i = 0; i < 8; ++i) hl |= uint64_t(uint8_t(bytes[i])) << (8 * i);
    auto header = nlohmann::json::parse(bytes.substr(8, hl));
    std::map<std::string, Shape> got;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        CHECK(it.value()["dtype"] == "F32");
        got[it.key()] = it.value()["shape"].get<Shape>();
    }
    CHECK(got == kReferenceVQVAE);
    CHECK(header["__metadata__"]["model"] == "vqvae");
}

TEST_CASE("nearest code by one GEMM equals a brute-force search") {
    Generator gen(1);
    models::VQVAEConfig c;
    c.num_codes = 16;
    c.code_dim = 3;
    models::VectorQuantizer q(c, gen);
    q.codebook.assign(rand_uniform({16, 3}, -1, 1, gen));
    Tensor z = rand_uniform({50, 3}, -1, 1, gen);
    std::vector<int64_t> got = q.nearest(z).to_ints();
    std::vector<double> zv = z.to_vector(), ev = q.codebook.value().to_vector();
    for (int64_t i = 0; i < 50; ++i) {
        int64_t best = 0;
        double best_d = INFINITY;
        for (int64_t k = 0; k < 16; ++k) {
            double d = 0;
            for (int j = 0; j < 3; ++j) d += (zv[i * 3 + j] - ev[k * 3 + j]) * (zv[i * 3 + j] - ev[k * 3 + j]);
            if (d < best_d) best_d = d, best = k;
        }
        CHECK(got[size_t(i)] == best);
    }
}

TEST_CASE("straight-through: the decoder sees z_q, the encoder gets the gradient") {
    Generator gen(2);
    models::VQVAEConfig c;
    c.num_codes = 8;
    c.code_dim = 4;
    models::VectorQuantizer q(c, gen);
    ag::Var z_e(rand_uniform({2, 4, 3, 3}, -1, 1, gen), true);
    models::Quantized out = q.quantize(z_e);
    CHECK_CLOSE(out.z_st.value(), q.lookup(out.codes), 1e-6, 1e-7);
    ag::sum(ag::mul(out.z_st, 3.0)).backward();
    CHECK(z_e.grad().to_vector() == std::vector<double>(72, 3.0));
    // commitment = beta * ||z_e - z_q||^2 / B
    double expect = 0.25 * sum(square(sub(z_e.value(), q.lookup(out.codes)))).item() / 2.0;
    CHECK(out.commitment.value().item() == doctest::Approx(expect).epsilon(1e-5));
}

TEST_CASE("the EMA update follows docs/design.md's formulas") {
    Generator gen(3);
    models::VQVAEConfig c;
    c.num_codes = 3;
    c.code_dim = 2;
    models::VectorQuantizer q(c, gen);
    Tensor m0 = q.ema_sum.clone();
    Tensor z = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
    Tensor codes = Tensor::from_vector(std::vector<int64_t>{0, 0, 2}, {3});
    q.ema_update(z, codes, gen);
    // n = [2, 0, 1]; N = 0.01 n; m = 0.99 m0 + 0.01 s with s0 = (4, 6), s2 = (5, 6)
    std::vector<double> N = q.ema_count.to_vector();
    CHECK(N[0] == doctest::Approx(0.02));
    CHECK(N[1] == 0.0);
    CHECK(N[2] == doctest::Approx(0.01));
    double total = 0.03, eps = 1e-5;
    double n0 = (0.02 + eps) / (total + 3 * eps) * total;
    double m00 = 0.99 * m0.at({0, 0}) + 0.01 * 4;
    CHECK(q.codebook.value().at({0, 0}) == doctest::Approx(m00 / n0).epsilon(1e-4));
    CHECK(q.ema_sum.at({2, 1}) == doctest::Approx(0.99 * m0.at({2, 1}) + 0.06).epsilon(1e-5));
}

TEST_CASE("a dead-code restart moves every dead code, in every column, and leaves the used codes alone") {
    // Two quantizers from one seed see the same three updates; only the first
    // restarts (every 3 steps). Codes 1 and 2 are used, codes 0, 3, 4 never.
    models::VQVAEConfig c;
    c.num_codes = 5;
    c.code_dim = 3;
    c.restart_every = 3;
    models::VQVAEConfig no_restart = c;
    no_restart.restart_every = 1000;
    Generator gen_a(4), gen_b(4);
    models::VectorQuantizer q(c, gen_a), twin(no_restart, gen_b);
    Tensor z = Tensor::from_vector(std::vector<float>{10, 20, 30, 40, 50, 60, 70, 80, 90}, {3, 3});
    Tensor codes = Tensor::from_vector(std::vector<int64_t>{1, 1, 2}, {3});
    for (int i = 0; i < 3; ++i) {
        q.ema_update(z, codes, gen_a);
        twin.ema_update(z, codes, gen_b);
    }
    const Tensor e = q.codebook.value();
    for (int64_t k : {0, 3, 4}) {
        CAPTURE(k);
        // the whole row is one encoder output of the batch, in e and in m, with N = 1
        int64_t matches = 0;
        for (int64_t r = 0; r < 3; ++r) matches += e.select(0, k).to_vector() == z.select(0, r).to_vector();
        CHECK(matches == 1);
        CHECK(q.ema_sum.select(0, k).to_vector() == e.select(0, k).to_vector());
        CHECK(q.ema_count.to_vector()[size_t(k)] == 1.0);
    }
    for (int64_t k : {1, 2}) {
        CAPTURE(k);
        CHECK(e.select(0, k).to_vector() == twin.codebook.value().select(0, k).to_vector());
        CHECK(q.ema_sum.select(0, k).to_vector() == twin.ema_sum.select(0, k).to_vector());
        CHECK(q.ema_count.to_vector()[size_t(k)] == twin.ema_count.to_vector()[size_t(k)]);
    }
    CHECK(q.ema_count.to_vector()[1] == doctest::Approx(0.01 * 2 * (1 + 0.99 + 0.99 * 0.99)));
    CHECK(q.codes_used_since_restart() == 0);  // counts restarted
}

TEST_CASE("a resumed run equals an uninterrupted one bit for bit") {
    models::TrainOptions o;
    o.batch = 16;
    o.steps = 6;
    o.eval_limit = 50;
    o.log_every = 2;
    o.seed = 5;
    o.out_dir = test_dir("vqvae", "straight", true);
    REQUIRE(models::train(o, false) == 0);
    models::TrainOptions first = o;
    first.steps = 3;
    first.out_dir = test_dir("vqvae", "resumed", true);
    REQUIRE(models::train(first, false) == 0);
    models::TrainOptions rest = models::load_config(first.out_dir + "/config.json");
    rest.steps = 6;
    REQUIRE(models::train(rest, true) == 0);
    auto a = nn::load_safetensors(o.out_dir + "/model.safetensors").tensors;
    auto b = nn::load_safetensors(first.out_dir + "/model.safetensors").tensors;
    REQUIRE(a.size() == b.size());
    for (auto& [name, t] : a) {
        CAPTURE(name);
        CHECK(t.to_vector() == b.at(name).to_vector());
    }
    auto sa = nn::load_safetensors(o.out_dir + "/train_state.safetensors").tensors;
    auto sb = nn::load_safetensors(first.out_dir + "/train_state.safetensors").tensors;
    CHECK(sa.at("quantizer.ema_sum").to_vector() == sb.at("quantizer.ema_sum").to_vector());
    CHECK(sa.at("adam.v.decoder.deconv2.weight").to_vector() == sb.at("adam.v.decoder.deconv2.weight").to_vector());
    for (const char* f : {"config.json", "metrics.jsonl", "recon.png"}) CHECK(fs::exists(first.out_dir + "/" + f));
}

TEST_CASE("micro-batches train: the batch in parts, one update per step") {
    // The byte-identity with 2 MPI ranks is the dist suite's; this runs the
    // micro-batch path everywhere, the sanitizer build included.
    const std::string dir = test_dir("vqvae", "micro", true);
    ProcessResult r = run_tool(tool("train"), {"--model", "vqvae", "--steps", "3", "--batch", "16", "--micro-batch", "8",
                                               "--eval-limit", "16", "--out", dir});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("1 rank(s) (single) x 2 micro-batch(es) of 8 images") != std::string::npos);
    CHECK(fs::exists(dir + "/model.safetensors"));
}

TEST_CASE("a last batch shorter than the parts is dropped, not a crash at the epoch's end") {
    // 257 images in batches of 8: the last holds 1 image, fewer than the 2
    // micro-batches, so each epoch has 32 steps and the 257th image waits
    // for the next epoch's shuffle.
    const std::string dir = test_dir("vqvae", "short", true);
    fs::create_directories(dir + "/data");
    for (auto [split, n] : {std::pair<std::string, int64_t>{"train", 257}, {"t10k", 16}}) {
        data::Dataset full = data::load_split(data::kDefaultDataDir, split);
        std::vector<uint8_t> px(full.pixels.begin(), full.pixels.begin() + n * 784);
        data::write_idx_images(dir + "/data/" + split + "-images-idx3-ubyte", px, n, 28, 28);
    }
    ProcessResult r = run_tool(tool("train"), {"--model", "vqvae", "--epochs", "1", "--batch", "8", "--micro-batch", "4",
                                               "--eval-limit", "16", "--data", dir + "/data", "--out", dir + "/run"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("32 steps of batch 8 (32 per epoch)") != std::string::npos);
    CHECK(nn::load_safetensors(dir + "/run/model.safetensors").metadata.at("step") == "32");
    // without parts, the short batch trains as it is
    ProcessResult whole = run_tool(tool("train"), {"--model", "vqvae", "--steps", "1", "--batch", "8", "--eval-limit", "16",
                                                   "--data", dir + "/data", "--out", dir + "/whole"});
    CHECK(whole.output.find("(33 per epoch)") != std::string::npos);
}

TEST_CASE("training reports bad inputs clearly") {
    models::TrainOptions o;
    o.steps = 1;
    o.out_dir = test_dir("vqvae", "bad", true);
    o.data_dir = "/nonexistent/data";
    CHECK(message_contains([&] { models::train(o, false); }, "/nonexistent/data: data directory not found"));
    o.data_dir = data::kDefaultDataDir;
    o.out_dir = "/proc/forbidden/out";
    CHECK(message_contains([&] { models::train(o, false); }, "/proc/forbidden/out"));
    o.out_dir = test_dir("vqvae", "bad2", true);
    o.batch = 0;
    CHECK(message_contains([&] { models::train(o, false); }, "--batch must be positive, got 0"));
    o.batch = 8;
    o.model = "gan";
    CHECK(message_contains([&] { models::train(o, false); }, "--model must be vqvae, vae, prior or pixelcnn, got 'gan'"));
    o.model = "vqvae";
    o.init = test_dir("vqvae", "bad3", true) + "/missing.safetensors";
    CHECK(message_contains([&] { models::train(o, false); }, "missing.safetensors: file not found"));
}
