// The codebook size K as a real parameter: a VQ-VAE of any K trains, saves,
// loads and evaluates; its prior follows K and refuses another K; presets;
// and the rate-distortion sweep end to end on a tiny data set.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "codec/vqz.hpp"
#include "data/idx.hpp"
#include "models/checkpoint.hpp"
#include "models/evaluate.hpp"
#include "models/presets.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"
#include "tests/tool_runs.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_json(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    return json::parse(in);
}

}  // namespace

TEST_CASE("a VQ-VAE of K = 8, D = 16 trains, saves, loads and evaluates; its prior follows K") {
    const std::string dir = test_dir("codebook", "train", true);
    const std::string data = tiny_data(test_dir("codebook", "data"), 96, 40);
    run_ok("train", {"--model", "vqvae", "--codes", "8", "--code-dim", "16", "--beta", "0.5", "--steps", "3", "--batch",
                     "16", "--eval-limit", "40", "--data", data, "--out", dir + "/vqvae"});
    std::unique_ptr<models::VQVAE> vq = models::load_vqvae(dir + "/vqvae/model.safetensors", Device::cpu());
    CHECK(vq->config.num_codes == 8);
    CHECK(vq->config.code_dim == 16);
    auto file = nn::load_safetensors(dir + "/vqvae/model.safetensors");
    CHECK(file.tensors.at("quantizer.codebook").shape() == Shape{8, 16});
    CHECK(file.tensors.at("encoder.proj.weight").shape() == Shape{16, 128, 1, 1});
    CHECK(file.tensors.at("decoder.conv1.weight").shape() == Shape{128, 16, 3, 3});
    json cfg = read_json(dir + "/vqvae/config.json");
    CHECK(cfg["codes"] == 8);
    CHECK(cfg["code_dim"] == 16);
    CHECK(cfg["beta"] == 0.5);

    // the prior takes K from the VQ-VAE file, with no flag
    run_ok("train", {"--model", "prior", "--vqvae", dir + "/vqvae/model.safetensors", "--steps", "2", "--batch", "16",
                     "--prior-channels", "8", "--prior-layers", "2", "--eval-limit", "40", "--data", data, "--out",
                     dir + "/prior"});
    std::unique_ptr<models::GatedPixelCNN> prior = models::load_prior(dir + "/prior/model.safetensors", Device::cpu());
    CHECK(prior->config.num_codes == 8);
    CHECK(prior->config.channels == 8);
    CHECK(prior->config.layers == 2);
    auto pf = nn::load_safetensors(dir + "/prior/model.safetensors");
    CHECK(pf.tensors.at("embedding.weight").shape() == Shape{8, 8});
    CHECK(pf.tensors.at("output.weight").shape() == Shape{8, 8, 1, 1});
    CHECK(read_json(dir + "/prior/config.json")["codes"] == 8);

    // --codes belongs to the VQ-VAE: the prior refuses it
    ProcessResult bad = run_tool(tool("train"), {"--model", "prior", "--vqvae", dir + "/vqvae/model.safetensors",
                                                 "--codes", "16", "--data", data, "--out", dir + "/bad"});
    CHECK(bad.exit_code != 0);
    CHECK(bad.output.find("the prior takes K from --vqvae") != std::string::npos);

    models::EvalOptions o;
    o.vqvae = dir + "/vqvae/model.safetensors";
    o.prior = dir + "/prior/model.safetensors";
    o.data_dir = data;
    json r = models::evaluate_density(o);
    CHECK(r["images"] == 40);
    CHECK(r["codes"] == 8);
    CHECK(r["codes_used"].get<int64_t>() >= 1);
    CHECK(r["codes_used"].get<int64_t>() <= 8);
    CHECK(r["perplexity"].get<double>() >= 1.0);
    CHECK(r["perplexity"].get<double>() <= double(r["codes_used"].get<int64_t>()) + 1e-9);
    CHECK(r["vqvae_uniform_nats"].get<double>() == r["vqvae_recon_nats"].get<double>() + 49.0 * std::log(8.0));

    // sample and the codec load the same files
    run_ok("sample", {"--vqvae", o.vqvae, "--prior", o.prior, "-n", "4", "--out", dir + "/s.png"});
    CHECK(fs::file_size(dir + "/s.png") > 0);
    codec::Models m(o.vqvae, o.prior, Device::cpu());
    Generator bits_gen(3);
    Tensor bits = bernoulli(Tensor::full({3, 1, 28, 28}, 0.3), bits_gen);
    codec::Decoded back = codec::decompress(m, codec::compress(m, bits, true, codec::InputKind::IdxDirectory), "k8.vqz");
    CHECK(back.bits.to_vector() == bits.to_vector());
}

TEST_CASE("a prior for another K is refused by every loader, naming both K") {
    Generator gen(1);
    models::VQVAEConfig c;
    c.num_codes = 8;
    models::VQVAE vq(gen, c);
    models::GatedPixelCNN prior512(gen);  // the reference K = 512
    const std::string dir = test_dir("codebook", "mismatch", true);
    models::save_model_file(vq, dir + "/vqvae.safetensors", "vqvae", 0);
    models::save_model_file(prior512, dir + "/prior.safetensors", "prior", 0);
    const std::string needle = "this prior models K = 512 codes, but the VQ-VAE " + dir + "/vqvae.safetensors has K = 8";
    models::EvalOptions o;
    o.vqvae = dir + "/vqvae.safetensors";
    o.prior = dir + "/prior.safetensors";
    o.limit = 4;
    CHECK(message_contains([&] { models::evaluate_density(o); }, needle));
    CHECK(message_contains([&] { codec::Models m(o.vqvae, o.prior, Device::cpu()); }, needle));
    ProcessResult r = run_tool(tool("sample"), {"--vqvae", o.vqvae, "--prior", o.prior, "--out", dir + "/x.png"});
    CHECK(r.exit_code != 0);
    CHECK(r.output.find(needle) != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/x.png"));
    // K outside 2..4096 is refused with the range
    c.num_codes = 1;
    CHECK(message_contains([&] { models::VQVAE bad(gen, c); }, "must be in 2..4096, got 1"));
    ProcessResult flag = run_tool(tool("train"), {"--model", "vqvae", "--codes", "5000", "--out", dir + "/y"});
    CHECK(flag.exit_code != 0);
    CHECK(flag.output.find("--codes") != std::string::npos);
}

TEST_CASE("with a uniform prior of tiny K the VQ-VAE + prior bound is recon + 49 ln K exactly") {
    for (int64_t K : {2, 3, 5}) {
        CAPTURE(K);
        Generator gen{uint64_t(K)};
        models::VQVAEConfig c;
        c.num_codes = K;
        models::VQVAE vq(gen, c);
        models::GatedPixelCNN prior(gen, {K, 16, 2});
        // zero output layer: every position's logits are equal, p(code) = 1/K
        Tensor w = prior.output.weight.value(), b = prior.output.bias.value();
        fill_(w, 0.0);
        fill_(b, 0.0);
        const std::string dir = test_dir("codebook", "uniform" + std::to_string(K), true);
        models::save_model_file(vq, dir + "/vqvae.safetensors", "vqvae", 0);
        models::save_model_file(prior, dir + "/prior.safetensors", "prior", 0);
        models::EvalOptions o;
        o.vqvae = dir + "/vqvae.safetensors";
        o.prior = dir + "/prior.safetensors";
        o.limit = 10;
        json r = models::evaluate_density(o);
        const double recon = r["vqvae_recon_nats"].get<double>();
        CHECK(r["vqvae_uniform_nats"].get<double>() == recon + 49.0 * std::log(double(K)));
        // the prior's cross-entropy of uniform logits is ln K per latent (float32 arithmetic)
        CHECK(r["prior_nats"].get<double>() == doctest::Approx(49.0 * std::log(double(K))).epsilon(1e-6));
        CHECK(r["vqvae_prior_nats"].get<double>() == doctest::Approx(r["vqvae_uniform_nats"].get<double>()).epsilon(1e-6));
    }
}

TEST_CASE("presets set the architecture; explicit flags win; the prior follows its VQ-VAE's preset") {
    const models::Preset& density = models::find_preset("density");
    models::TrainOptions o;
    o.model = "vqvae";
    o.preset = "density";
    models::apply_preset(o, {});
    CHECK(o.codes == density.codes);
    CHECK(o.code_dim == density.code_dim);
    CHECK(o.beta == density.beta);
    CHECK(o.lr == density.vqvae_lr);

    models::TrainOptions explicit_k;
    explicit_k.model = "vqvae";
    explicit_k.preset = "density";
    explicit_k.codes = 64;
    models::apply_preset(explicit_k, {"--codes"});
    CHECK(explicit_k.codes == 64);
    CHECK(explicit_k.code_dim == density.code_dim);
    models::TrainOptions explicit_lr;
    explicit_lr.model = "vqvae";
    explicit_lr.preset = "density";
    explicit_lr.lr = 1e-3;
    models::apply_preset(explicit_lr, {"--lr"});
    CHECK(explicit_lr.lr == 1e-3);

    // a VQ-VAE file written by a density run carries its preset; the prior picks it up
    Generator gen(2);
    models::VQVAEConfig c;
    c.num_codes = density.codes;
    c.code_dim = density.code_dim;
    models::VQVAE vq(gen, c);
    const std::string dir = test_dir("codebook", "preset", true);
    models::save_model_file(vq, dir + "/vqvae.safetensors", "vqvae", 0, {{"preset", "density"}});
    models::TrainOptions p;
    p.model = "prior";
    p.vqvae = dir + "/vqvae.safetensors";
    p.prior_layers = 3;
    models::apply_preset(p, {"--prior-layers"});
    CHECK(p.preset == "density");
    CHECK(p.codes == density.codes);
    CHECK(p.prior_channels == density.prior_channels);
    CHECK(p.prior_layers == 3);
    CHECK(p.lr == 0);  // the VQ-VAE's learning rate is not the prior's

    models::TrainOptions bad;
    bad.preset = "fastest";
    CHECK(message_contains([&] { models::apply_preset(bad, {}); }, "unknown preset 'fastest' (known: reference, density)"));
}

TEST_CASE("the rate-distortion sweep writes rd.json and rd.png for two small K") {
    const std::string out = test_dir("codebook", "sweep", true);
    const std::string data = tiny_data(test_dir("codebook", "sweepdata"), 64, 24);
    const std::string tools_dir = fs::path(tool("train")).parent_path().string();
    std::string cmd = "BIN=" + quote(tools_dir) + " scripts/rd_sweep.sh --steps 2 --limit 24 --iw 2 --threads 1 --data " +
                      quote(data) + " --out " + quote(out) + " 2 3 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string log;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
    int status = pclose(p);
    INFO("sweep output: " << log);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    json rd = read_json(out + "/rd.json");
    REQUIRE(rd["rows"].size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        const json& row = rd["rows"][i];
        CHECK(row["codes"] == int64_t(2 + i));
        CHECK(row["epochs"] == 1);
        for (const char* k : {"recon_nats", "prior_nats", "bound_nats", "codes_used", "perplexity"}) CHECK(row.contains(k));
        CHECK(row["bound_nats"].get<double>() ==
              doctest::Approx(row["recon_nats"].get<double>() + row["prior_nats"].get<double>()));
        CHECK(row["codes_used"].get<int64_t>() <= row["codes"].get<int64_t>());
    }
    REQUIRE(rd["vae"].size() == 1);
    CHECK(rd["vae"][0]["iw_k"] == 2);
    std::ifstream png(out + "/rd.png", std::ios::binary);
    char sig[8] = {};
    png.read(sig, 8);
    CHECK(std::string(sig + 1, 3) == "PNG");
    CHECK(fs::file_size(out + "/rd.png") > 10000);  // a real plot, not an empty canvas
    // a second call skips what is done and still writes both files
    CHECK(system(cmd.c_str()) == 0);
    // a bad K is refused before any work
    CHECK(system(("scripts/rd_sweep.sh --out " + quote(out) + " 1 >/dev/null 2>&1").c_str()) != 0);
}
