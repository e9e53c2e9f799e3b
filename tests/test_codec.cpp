// The entropy coder on its own, then the .vqz codec end to end.
#include <cmath>
#include <filesystem>

#include "codec/bytes.hpp"
#include "codec/io.hpp"
#include "codec/rans.hpp"
#include "codec/vqz.hpp"
#include "data/binarize.hpp"
#include "data/idx.hpp"
#include "models/checkpoint.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

// Encodes symbols drawn from `probs` and decodes them back; returns the
// coded size in bits and checks the round trip.
double round_trip(const std::vector<std::vector<float>>& tables, const std::vector<uint32_t>& symbols) {
    codec::RansEncoder enc;
    std::vector<std::vector<uint32_t>> freqs;
    for (const auto& t : tables) freqs.push_back(codec::quantize_frequencies(t.data(), t.size()));
    for (size_t i = 0; i < symbols.size(); ++i) {
        const auto& f = freqs[i % freqs.size()];
        uint32_t start = 0;
        for (uint32_t s = 0; s < symbols[i]; ++s) start += f[s];
        enc.put(start, f[symbols[i]]);
    }
    std::string bytes = enc.finish();
    codec::RansDecoder dec(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
        uint32_t got = dec.decode(freqs[i % freqs.size()]);
        if (got != symbols[i]) {
            FAIL("symbol " << i << " decoded as " << got << ", expected " << symbols[i]);
            return 0;
        }
    }
    CHECK(dec.at_end());
    return 8.0 * double(bytes.size());
}

uint32_t draw(const std::vector<float>& p, Generator& gen) {
    double u = gen.uniform(), acc = 0;
    for (uint32_t s = 0; s + 1 < p.size(); ++s)
        if (u < (acc += p[s])) return s;
    return uint32_t(p.size() - 1);
}

double entropy_bits(const std::vector<std::vector<float>>& tables, const std::vector<uint32_t>& symbols) {
    double h = 0;
    for (size_t i = 0; i < symbols.size(); ++i) h -= std::log2(tables[i % tables.size()][symbols[i]]);
    return h;
}


// Saves both models as DIR/vqvae.safetensors and DIR/prior.safetensors and opens them as the codec does.
codec::Models saved_models(const std::string& dir, const models::VQVAE& vqvae, const models::GatedPixelCNN& prior) {
    models::save_model_file(vqvae, dir + "/vqvae.safetensors", "vqvae", 0);
    models::save_model_file(prior, dir + "/prior.safetensors", "prior", 0);
    return codec::Models(dir + "/vqvae.safetensors", dir + "/prior.safetensors", Device::cpu());
}

}  // namespace

TEST_CASE("frequencies sum to the scale and keep every symbol codable") {
    std::vector<float> p = {0.0f, 1e-9f, 0.5f, 0.49999f, 0.0f};
    auto f = codec::quantize_frequencies(p.data(), p.size());
    uint32_t total = 0;
    for (uint32_t v : f) {
        CHECK(v >= 1);
        total += v;
    }
    CHECK(total == codec::kScale);
    CHECK(codec::binary_frequency(0.0f) == 1);
    CHECK(codec::binary_frequency(1.0f) == codec::kScale - 1);
}

TEST_CASE("rANS round-trips random distributions at close to their entropy") {
    Generator gen(1);
    std::vector<std::vector<float>> tables;
    for (int t = 0; t < 5; ++t) {
        std::vector<float> p(size_t(3 + gen.randint(300)));
        double s = 0;
        for (float& v : p) s += (v = float(gen.uniform()));
        for (float& v : p) v = float(v / s);
        tables.push_back(p);
    }
    std::vector<uint32_t> symbols;
    for (int i = 0; i < 20000; ++i) symbols.push_back(draw(tables[size_t(i) % 5], gen));
    double bits = round_trip(tables, symbols), ideal = entropy_bits(tables, symbols);
    CHECK(bits < ideal * 1.01 + 64);
}

TEST_CASE("rANS handles skewed distributions (one symbol near probability 1)") {
    Generator gen(2);
    std::vector<float> p(512, 1e-7f);
    p[17] = 1.0f - 511e-7f;
    std::vector<uint32_t> symbols;
    for (int i = 0; i < 5000; ++i) symbols.push_back(i % 1000 == 999 ? 3 : 17);  // rare surprises too
    double bits = round_trip({p}, symbols);
    CHECK(bits < 5000 * 0.01 + 5 * 16 + 64);
    std::vector<float> coin = {1e-6f, 1.0f - 1e-6f};
    std::vector<uint32_t> ones(100000, 1);
    CHECK(round_trip({coin}, ones) < 100000 * 0.001 + 64);
}

TEST_CASE("rANS round-trips a long binary stream under changing probabilities") {
    Generator gen(3);
    codec::RansEncoder enc;
    std::vector<uint32_t> f1s;
    std::vector<bool> bits;
    for (int i = 0; i < 1000000; ++i) {
        float p = float(gen.uniform());
        uint32_t f1 = codec::binary_frequency(p);
        bool b = gen.uniform() < p;
        f1s.push_back(f1);
        bits.push_back(b);
        if (b) enc.put(0, f1);
        else enc.put(f1, codec::kScale - f1);
    }
    std::string bytes = enc.finish();
    codec::RansDecoder dec(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    bool ok = true;
    for (size_t i = 0; i < bits.size() && ok; ++i) ok = dec.binary(f1s[i]) == bits[i];
    CHECK(ok);
    CHECK(dec.at_end());
}

TEST_CASE("damaged rANS streams are detected") {
    std::vector<float> p = {0.25f, 0.25f, 0.5f};
    auto f = codec::quantize_frequencies(p.data(), p.size());
    codec::RansEncoder enc;
    for (int i = 0; i < 1000; ++i) enc.put(f[0] + f[1], f[2]);
    std::string bytes = enc.finish();
    CHECK_THROWS(codec::RansDecoder(reinterpret_cast<const uint8_t*>(bytes.data()), 3));
    std::string zero(8, '\0');
    CHECK(message_contains([&] { codec::RansDecoder(reinterpret_cast<const uint8_t*>(zero.data()), zero.size()); }, "invalid initial state"));
    codec::RansDecoder short_dec(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size() / 2);
    CHECK(message_contains([&] { for (int i = 0; i < 1000; ++i) short_dec.decode(f); }, "ended early"));
}

TEST_CASE("the .vqz codec is exact in lossless mode and reports its ideal size") {
    Generator gen(4);
    models::VQVAE vqvae(gen);
    models::GatedPixelCNN prior(gen);
    std::string dir = test_dir("codec", "models");
    codec::Models m = saved_models(dir, vqvae, prior);
    codec::BinaryImages in = codec::read_binary_images(data::kDefaultDataDir, 7);
    codec::Stats st;
    std::string file = codec::compress(m, in.bits, true, codec::InputKind::IdxDirectory, &st);
    CHECK(st.bytes == file.size());
    CHECK(8.0 * double(file.size()) <= st.ideal_bits * 1.01 + 8.0 * (codec::kHeaderBytes + 4));
    codec::Decoded d = codec::decompress(m, file, "t.vqz");
    CHECK(d.lossless);
    CHECK(d.bits.to_vector() == in.bits.to_vector());
    // the same codes but no pixels: smaller, and the pixels are the decoder's guess
    std::string lossy = codec::compress(m, in.bits, false, codec::InputKind::IdxDirectory, &st);
    CHECK(lossy.size() < file.size());
    codec::Decoded dl = codec::decompress(m, lossy, "l.vqz");
    Tensor guess = ge(sigmoid(vqvae.decode_logits(vqvae.encode(in.bits))), Tensor::scalar(0.5));
    CHECK(dl.bits.to_vector() == guess.to_vector());
    CHECK(st.pixel_errors == int64_t(sum(abs(sub(guess, in.bits))).item()));
    // round trip through the IDX writer: the written pixels binarize back to the same bits
    std::string out = test_dir("codec", "idx_out");
    codec::write_binary_images(out, d.bits, codec::InputKind::IdxDirectory);
    data::IdxArray back = data::read_idx(out + "/t10k-images-idx3-ubyte");
    Tensor rebits = data::binarize_deterministic(back.bytes.data(), 0, 7, 28, 28, 0);
    CHECK(rebits.to_vector() == in.bits.to_vector());
}

TEST_CASE("the .vqz codec under the autoregressive decoder: lossless is exact within 1% of its bound, lossy is the greedy decode") {
    Generator gen(14);
    models::VQVAEConfig config;
    config.num_codes = 8;
    config.decoder = {.autoregressive = true, .layers = 2, .channels = 8};
    models::VQVAE vqvae(gen, config);
    models::GatedPixelCNN prior(gen, {.num_codes = 8, .channels = 8, .layers = 2});
    std::string dir = test_dir("codec", "ar_models", true);
    codec::Models m = saved_models(dir, vqvae, prior);
    REQUIRE(m.vqvae->decoder.autoregressive());
    codec::BinaryImages in = codec::read_binary_images(data::kDefaultDataDir, 5);
    codec::Stats st;
    std::string file = codec::compress(m, in.bits, true, codec::InputKind::IdxDirectory, &st);
    CHECK(8.0 * double(file.size()) <= st.ideal_bits * 1.01 + 8.0 * (codec::kHeaderBytes + 4));
    CHECK(8.0 * double(file.size()) >= st.ideal_bits);
    codec::Decoded d = codec::decompress(m, file, "ar.vqz");
    CHECK(d.lossless);
    CHECK(d.bits.to_vector() == in.bits.to_vector());
    // lossy: each pixel is the likelier value given the ones before it
    std::string lossy = codec::compress(m, in.bits, false, codec::InputKind::IdxDirectory, &st);
    CHECK(lossy.size() < file.size());
    codec::Decoded dl = codec::decompress(m, lossy, "l.vqz");
    CHECK_FALSE(dl.lossless);
    ag::NoGradGuard no_grad;
    Tensor codes = vqvae.encode(in.bits);
    // teacher-forced on the decode, each pixel is 1 exactly where its logit is >= 0 (up to the
    // float difference between the full and the incremental forward, so logits near 0 are skipped)
    const std::vector<double> logits =
        vqvae.decoder.forward(ag::Var(vqvae.quantizer.lookup(codes)), dl.bits).value().to_vector();
    const std::vector<double> decoded = dl.bits.to_vector();
    int64_t checked = 0, wrong = 0;
    for (size_t j = 0; j < logits.size(); ++j) {
        if (std::abs(logits[j]) < 1e-4) continue;
        ++checked;
        if ((logits[j] >= 0) != (decoded[j] > 0.5)) ++wrong;
    }
    CHECK(checked > int64_t(logits.size()) * 9 / 10);
    CHECK(wrong == 0);
    CHECK(st.pixel_errors == int64_t(sum(abs(sub(dl.bits, in.bits))).item()));
}

TEST_CASE("the codec refuses other models, damaged files and wrong inputs") {
    Generator gen(5);
    models::VQVAE vqvae(gen);
    models::GatedPixelCNN prior(gen), other(gen);
    std::string dir = test_dir("codec", "refuse");
    codec::Models m = saved_models(dir, vqvae, prior);
    models::save_model_file(other, dir + "/other.safetensors", "prior", 0);
    codec::Models wrong(dir + "/vqvae.safetensors", dir + "/other.safetensors", Device::cpu());
    Tensor bits = codec::read_binary_images(data::kDefaultDataDir, 2).bits;
    std::string file = codec::compress(m, bits, true, codec::InputKind::IdxDirectory);
    CHECK(message_contains([&] { codec::decompress(wrong, file, "x.vqz"); }, "x.vqz: compressed with other models"));
    CHECK(message_contains([&] { codec::decompress(m, file.substr(0, file.size() - 9), "x.vqz"); }, "x.vqz"));
    CHECK(message_contains([&] { codec::decompress(m, "GIF89a" + file, "x.vqz"); }, "not a .vqz file"));
    std::string future = file;
    future[3] = char(9);
    CHECK(message_contains([&] { codec::decompress(m, future, "x.vqz"); }, "format version 9"));
    CHECK(message_contains([&] { codec::compress(m, Tensor::zeros({1, 1, 8, 8}), true, codec::InputKind::IdxDirectory); }, "[1, 1, 8, 8]"));
    CHECK(message_contains([&] { codec::read_binary_images(dir + "/missing.png", 0); }, "missing.png: not found"));
}

TEST_CASE("a damaged .vqz header byte, a forged kind or an old version each fail naming the file") {
    Generator gen(6);
    models::VQVAE vqvae(gen);
    models::GatedPixelCNN prior(gen);
    std::string dir = test_dir("codec", "header");
    codec::Models m = saved_models(dir, vqvae, prior);
    Tensor bits = codec::read_binary_images(data::kDefaultDataDir, 2).bits;
    const std::string file = codec::compress(m, bits, true, codec::InputKind::IdxDirectory);
    REQUIRE(codec::decompress(m, file, "ok.vqz").bits.to_vector() == bits.to_vector());
    // every header byte, every bit of it: the seal covers them all (the flags' kind bits included)
    for (size_t at = 0; at < codec::kHeaderBytes; ++at)
        for (int bit = 0; bit < 8; ++bit) {
            CAPTURE(at);
            CAPTURE(bit);
            std::string bad = file;
            bad[at] = char(bad[at] ^ (1 << bit));
            CHECK(message_contains([&] { codec::decompress(m, bad, "flip.vqz"); }, "flip.vqz: "));
        }
    std::string kind = file;
    kind[4] = char(uint8_t(kind[4]) ^ 2);  // IDX directory -> PNG
    CHECK(message_contains([&] { codec::decompress(m, kind, "k.vqz"); }, "k.vqz: damaged: its bytes do not match the file's checksum"));
    // ... and resealed, as a forger (or a writer's bug) would: the count still contradicts the kind
    codec::seal_file(kind, codec::kHeaderBytes);
    CHECK(message_contains([&] { codec::decompress(m, kind, "k.vqz"); },
                           "k.vqz: corrupt header: its kind and count disagree (a PNG holds exactly 1 image, not 2)"));
    // a damaged payload byte and every truncation
    std::string body = file;
    body[file.size() / 2] ^= 0x10;
    CHECK(message_contains([&] { codec::decompress(m, body, "b.vqz"); }, "b.vqz: damaged"));
    for (size_t len : {size_t(0), size_t(3), size_t(4), size_t(20), codec::kHeaderBytes, file.size() - 1})
        CHECK(message_contains([&] { codec::decompress(m, file.substr(0, len), "t.vqz"); }, "t.vqz: "));
    CHECK(message_contains([&] { codec::decompress(m, file.substr(0, file.size() - 1), "t.vqz"); },
                           fmt::format("t.vqz: truncated or damaged: the header promises {} bytes of data after it, the file holds {}",
                                       file.size() - codec::kHeaderBytes, file.size() - codec::kHeaderBytes - 1)));
    std::string old = file;
    old[3] = char(2);
    CHECK(message_contains([&] { codec::decompress(m, old, "o.vqz"); },
                           "o.vqz: written by .vqz format version 2; this build reads version 3 (compress the images again with this build)"));
    // the kind is checked on the way in too, and on the way out
    CHECK(message_contains([&] { codec::compress(m, bits, true, codec::InputKind::Png); }, "a PNG holds exactly 1 image, not 2"));
    CHECK(message_contains([&] { codec::write_binary_images(dir + "/two.png", bits, codec::InputKind::Png); },
                           "two.png: a PNG holds exactly 1 image, not 2"));
    std::string one = codec::compress(m, bits.narrow(0, 0, 1).contiguous(), false, codec::InputKind::Png);
    CHECK(codec::decompress(m, one, "one.vqz").kind == codec::InputKind::Png);
}
