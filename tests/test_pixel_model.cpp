// The Gated PixelCNN over the 28x28 binary pixels (train --model pixelcnn):
// causality at pixel level, the incremental computation against the full
// forward, the exact NLL against a sum done by hand, the pixel codec, and
// sampling from known logits. Small random models, so each case takes
// about a second.
#include <cmath>
#include <filesystem>

#include "codec/bytes.hpp"
#include "codec/io.hpp"
#include "codec/pixel_codec.hpp"
#include "data/idx.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/tasks.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 28, kPixels = kSide * kSide;

models::GatedPixelCNN pixel_model(uint64_t seed, int64_t channels = 8, int64_t layers = 3) {
    Generator gen(seed);
    return models::GatedPixelCNN(gen, {2, channels, layers});
}

Tensor random_pixels(int64_t n, Generator& gen) { return randint({n, kSide, kSide}, 2, gen); }

// The model file of a random pixel model (the codec hashes files)
std::string saved_pixel_model(const std::string& dir, uint64_t seed) {
    models::GatedPixelCNN m = pixel_model(seed);
    const std::string path = dir + "/pixel" + std::to_string(seed) + ".safetensors";
    models::save_model_file(m, path, "pixelcnn", 0);
    return path;
}

}  // namespace

TEST_CASE("the pixel model is causal: changing pixel i changes no logit at positions j <= i") {
    models::GatedPixelCNN model = pixel_model(1);
    Generator gen(2);
    Tensor base = random_pixels(1, gen);
    const std::vector<int64_t> changed = {0, 1, 27, 28, 29, 55, 300, 417, 782, 783};
    const int64_t B = int64_t(changed.size());
    // map b differs from base only at pixel changed[b]
    Tensor batch = base.expand({B, kSide, kSide}).contiguous();
    int64_t* p = batch.data<int64_t>();
    for (int64_t b = 0; b < B; ++b) p[b * kPixels + changed[size_t(b)]] ^= 1;
    ag::NoGradGuard no_grad;
    // the reference runs the same batch size, so both passes use the same GEMM shapes (see the prior's test)
    Tensor ref = model.forward(base.expand({B, kSide, kSide}).contiguous()).value();  // [B, 2, 28, 28]
    Tensor out = model.forward(batch).value();                                        // [B, 2, 28, 28]
    check_causal(max(abs(sub(out, ref)), {1}).to_vector(), changed, kPixels);  // [B, 28, 28]
}

TEST_CASE("the incremental computation gives the full forward's logits at every pixel (28x28, 2 symbols)") {
    for (auto [C, L] : {std::pair<int64_t, int64_t>{8, 3}, {16, 2}, {4, 1}}) {
        CAPTURE(C);
        CAPTURE(L);
        models::GatedPixelCNN model = pixel_model(uint64_t(10 + C + L), C, L);
        Generator gen(3);
        const int64_t n = 3;
        Tensor pixels = random_pixels(n, gen);
        Tensor full = model.forward(pixels).value();  // [n, 2, 28, 28]
        models::IncrementalPixelCNN inc(model, n, kSide);
        CHECK(inc.side() == kSide);
        double worst = 0;
        for (int64_t r = 0; r < kSide; ++r)
            for (int64_t c = 0; c < kSide; ++c) {
                worst = std::max(worst, close_ratio(inc.logits(r, c), full.select(3, c).select(2, r), 1e-4, 1e-5));
                inc.set(r, c, pixels.select(2, c).select(1, r).contiguous());
            }
        CHECK(worst <= 1.0);
        // rows given whole (set without their logits, as in conditioning) leave the later rows exact
        models::IncrementalPixelCNN given(model, n, kSide);
        const int64_t keep = 11;
        worst = 0;
        for (int64_t r = 0; r < kSide; ++r)
            for (int64_t c = 0; c < kSide; ++c) {
                if (r >= keep) worst = std::max(worst, close_ratio(given.logits(r, c), full.select(3, c).select(2, r), 1e-4, 1e-5));
                given.set(r, c, pixels.select(2, c).select(1, r).contiguous());
            }
        CHECK(worst <= 1.0);
    }
    // a row's logits need every earlier position of the row computed
    models::GatedPixelCNN model = pixel_model(4);
    models::IncrementalPixelCNN inc(model, 1, kSide);
    inc.logits(0, 0);
    inc.set(0, 0, Tensor::zeros({1}, DType::I64));
    inc.set(0, 1, Tensor::zeros({1}, DType::I64));
    CHECK(message_contains([&] { inc.logits(0, 2); }, "set without its logits"));
    CHECK(message_contains([&] { inc.set(0, 3, Tensor::zeros({1}, DType::I64)); }, "raster order"));
    models::IncrementalPixelCNN bad(model, 1, kSide);
    CHECK(message_contains([&] { bad.set(0, 0, Tensor::full({1}, 2.0, DType::I64)); }, "outside 0..1"));
}

TEST_CASE("the exact NLL is the sum of the conditionals' -log p, done by hand in double") {
    models::GatedPixelCNN model = pixel_model(5);
    Generator gen(6);
    const int64_t n = 4;
    Tensor pixels = random_pixels(n, gen);
    ag::NoGradGuard no_grad;
    std::vector<double> logits = model.forward(pixels).value().to_vector();  // [n, 2, 28, 28]
    std::vector<int64_t> x = pixels.to_ints();
    std::vector<double> nll = model.nll_per_image(pixels).to_vector();
    for (int64_t i = 0; i < n; ++i) {
        double by_hand = 0;
        for (int64_t j = 0; j < kPixels; ++j) {
            const double l0 = logits[size_t((i * 2 + 0) * kPixels + j)], l1 = logits[size_t((i * 2 + 1) * kPixels + j)];
            const double mx = std::max(l0, l1), lse = mx + std::log(std::exp(l0 - mx) + std::exp(l1 - mx));
            by_hand += lse - (x[size_t(i * kPixels + j)] ? l1 : l0);
        }
        CAPTURE(i);
        CHECK(nll[size_t(i)] == doctest::Approx(by_hand).epsilon(1e-5));
    }
}

TEST_CASE("the pixel codec round-trips exactly, at the model's NLL plus the header") {
    const std::string dir = test_dir("pixel", "codec", true);
    const std::string path = saved_pixel_model(dir, 7);
    codec::PixelModel m(path, Device::cpu());
    codec::BinaryImages in = codec::read_binary_images(data::kDefaultDataDir, 20);
    codec::Stats st;
    const std::string file = codec::compress_pixels(m, in.bits, in.kind, &st);
    CHECK(st.bytes == file.size());
    CHECK(st.images == 20);
    // the bound: the coded pixels' -log2 p, which is the model's exact NLL (full forward) in bits
    const double nll_bits = sum(m.model->nll_per_image(models::pixels_as_symbols(in.bits))).item() / std::log(2.0);
    CHECK(st.ideal_bits == doctest::Approx(nll_bits).epsilon(1e-4));
    MESSAGE(file.size() << " bytes for 20 images; bound " << st.ideal_bits / 8 << " + " << codec::kPixelHeaderBytes);
    CHECK(double(file.size()) <= st.ideal_bits / 8.0 * 1.01 + double(codec::kPixelHeaderBytes));
    codec::Decoded d = codec::decompress_pixels(m, file, "t.vqp");
    CHECK(d.lossless);
    CHECK(d.kind == codec::InputKind::IdxDirectory);
    CHECK(d.bits.to_vector() == in.bits.to_vector());
    // more than one chunk, and a last chunk of another width
    codec::BinaryImages many = codec::read_binary_images(data::kDefaultDataDir, codec::kPixelChunk + 3);
    const std::string big = codec::compress_pixels(m, many.bits, codec::InputKind::IdxFile);
    codec::Decoded db = codec::decompress_pixels(m, big, "big.vqp");
    CHECK(db.kind == codec::InputKind::IdxFile);
    CHECK(db.bits.to_vector() == many.bits.to_vector());
    // one PNG image
    Tensor one = in.bits.narrow(0, 3, 1).contiguous();
    codec::Decoded dp = codec::decompress_pixels(m, codec::compress_pixels(m, one, codec::InputKind::Png), "one.vqp");
    CHECK(dp.kind == codec::InputKind::Png);
    CHECK(dp.bits.to_vector() == one.to_vector());
}

TEST_CASE("the pixel codec refuses damaged files, other models and other formats, naming the file") {
    const std::string dir = test_dir("pixel", "refuse", true);
    codec::PixelModel m(saved_pixel_model(dir, 8), Device::cpu()), other(saved_pixel_model(dir, 9), Device::cpu());
    Tensor bits = codec::read_binary_images(data::kDefaultDataDir, 3).bits;
    const std::string file = codec::compress_pixels(m, bits, codec::InputKind::IdxDirectory);
    for (size_t at : {size_t(4), size_t(6), size_t(12), codec::kPixelHeaderBytes + 2, file.size() - 1}) {
        CAPTURE(at);
        std::string bad = file;
        bad[at] = char(bad[at] ^ 0x10);
        CHECK(message_contains([&] { codec::decompress_pixels(m, bad, "bad.vqp"); }, "bad.vqp: damaged"));
    }
    CHECK(message_contains([&] { codec::decompress_pixels(m, file.substr(0, file.size() - 5), "cut.vqp"); }, "cut.vqp: truncated"));
    CHECK(message_contains([&] { codec::decompress_pixels(other, file, "x.vqp"); }, "x.vqp: compressed with another model"));
    CHECK(message_contains([&] { codec::decompress_pixels(m, "VQZ" + file.substr(3), "z.vqz"); }, "z.vqz: not a pixel codec file"));
    std::string future = file;
    future[3] = char(9);
    CHECK(message_contains([&] { codec::decompress_pixels(m, future, "f.vqp"); }, "format version 9"));
    // a forged header (resealed, so the checksum holds) is still refused
    std::string forged = file;
    forged[4] = char(1 << 1);  // kind PNG, but 3 images
    codec::seal_file(forged, codec::kPixelHeaderBytes);
    CHECK(message_contains([&] { codec::decompress_pixels(m, forged, "k.vqp"); }, "k.vqp: corrupt header"));
    CHECK(message_contains([&] { codec::compress_pixels(m, Tensor::zeros({1, 1, 8, 8}), codec::InputKind::Png); }, "[1, 1, 8, 8]"));
    // a prior file is not a pixel model
    Generator gen(1);
    models::GatedPixelCNN prior(gen, {2, 4, 1});
    models::save_model_file(prior, dir + "/prior.safetensors", "prior", 0);
    CHECK(message_contains([&] { codec::PixelModel p(dir + "/prior.safetensors", Device::cpu()); }, "prior.safetensors"));
}

TEST_CASE("compress and decompress --pixelcnn round-trip a PNG through the tools") {
    const std::string dir = test_dir("pixel", "tools", true);
    const std::string model = saved_pixel_model(dir, 11);
    Tensor bits = codec::read_binary_images(data::kDefaultDataDir, 1).bits;
    codec::write_binary_images(dir + "/in.png", bits, codec::InputKind::Png);
    ProcessResult c = run_tool(tool("compress"), {"--pixelcnn", model, "--in", dir + "/in.png", "--out", dir + "/x.vqp", "--json"});
    CHECK(c.exit_code == 0);
    CHECK(c.output.find("\"codec\":\"pixel\"") != std::string::npos);
    ProcessResult d = run_tool(tool("decompress"), {"--pixelcnn", model, "--in", dir + "/x.vqp", "--out", dir + "/out.png"});
    CHECK(d.exit_code == 0);
    CHECK(codec::read_binary_images(dir + "/out.png", 0).bits.to_vector() == bits.to_vector());
    ProcessResult both = run_tool(tool("compress"), {"--pixelcnn", model, "--vae", model, "--in", dir + "/in.png", "--out", dir + "/y"});
    CHECK(both.exit_code != 0);
    CHECK(both.output.find("give either") != std::string::npos);
    ProcessResult s = run_tool(tool("sample"), {"--pixelcnn", model, "-n", "3", "--out", dir + "/s.png"});
    CHECK(s.exit_code == 0);
    CHECK(s.output.find("images/s") != std::string::npos);
    CHECK(fs::exists(dir + "/s.png"));
}

TEST_CASE("pixel samples follow sigmoid((b1 - b0) / T): a chi-square test on a model with known logits") {
    // All weights zero: every gate gives tanh(0) sigmoid(0) = 0, so the logits
    // at every pixel are the output bias b, whatever came before.
    models::GatedPixelCNN model = pixel_model(12, 4, 2);
    const double b0 = 0.3, b1 = -0.5;
    for (auto& [name, p] : model.named_parameters())
        p.assign(name == "output.bias" ? Tensor::from_vector(std::vector<float>{float(b0), float(b1)}, {2})
                                       : Tensor::zeros(p.shape()));
    for (double T : {1.0, 2.0}) {
        CAPTURE(T);
        Generator draw(13);
        const int64_t n = 6;
        std::vector<int64_t> s = models::sample_raster(model, n, kSide, T, draw).to_ints();
        double ones = 0;
        for (int64_t v : s) ones += double(v);
        const double total = double(s.size()), p1 = 1.0 / (1.0 + std::exp((b0 - b1) / T));
        const double e1 = total * p1, e0 = total - e1;
        const double chi2 = (ones - e1) * (ones - e1) / e1 + ((total - ones) - e0) * ((total - ones) - e0) / e0;
        CAPTURE(ones);
        CAPTURE(e1);
        // 1 degree of freedom: P(chi2 > 10.83) = 0.001 under the right distribution;
        // with the temperature ignored at T = 2 (p1 0.31 instead of 0.40) it is about 200
        CHECK(chi2 < 10.83);
    }
}
