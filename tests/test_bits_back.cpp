// Bits-back coding: the ANS stack, the latent discretization, and BB-ANS
// round trips under a small VAE with their cost and their error messages.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "codec/ans_stack.hpp"
#include "codec/bits_back.hpp"
#include "codec/bytes.hpp"
#include "codec/io.hpp"
#include "codec/rans.hpp"
#include "data/idx.hpp"
#include "models/checkpoint.hpp"
#include "optim/optimizer.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

TEST_CASE("the ANS stack pops exactly what was pushed, in reverse, at mixed precisions") {
    Generator gen(1);
    struct Sym {
        uint32_t start, freq, prec;
    };
    std::vector<Sym> pushed;
    codec::AnsStack s;
    const std::vector<uint32_t> empty = s.words();
    for (int i = 0; i < 5000; ++i) {
        uint32_t prec = 1 + uint32_t(gen.randint(24));
        uint32_t total = 1u << prec;
        uint32_t freq = 1 + uint32_t(gen.randint(total));
        uint32_t start = uint32_t(gen.randint(total - freq + 1));
        s.push(start, freq, prec);
        pushed.push_back({start, freq, prec});
    }
    // an information-theoretic check: the stack holds about sum -log2(freq / 2^prec) bits
    double ideal = 0;
    for (const Sym& y : pushed) ideal += double(y.prec) - std::log2(double(y.freq));
    CHECK(double(s.bits()) >= ideal);
    CHECK(double(s.bits()) <= ideal + 64 + 32);
    codec::AnsStack copy(s.words());  // serialisation round trip
    for (size_t i = pushed.size(); i-- > 0;) {
        const Sym& y = pushed[i];
        uint32_t slot = copy.peek(y.prec);
        REQUIRE(slot >= y.start);
        REQUIRE(slot < y.start + y.freq);
        copy.pop(y.start, y.freq, y.prec);
    }
    CHECK(copy.words() == empty);
    // with nothing below the head, popping information fails clearly
    codec::AnsStack bare;
    CHECK(message_contains([&] { for (int i = 0; i < 40; ++i) bare.pop(bare.peek(4), 1, 4); }, "ran out of words"));
    CHECK(message_contains([&] { bare.push(3, 0, 8); }, "bad symbol interval"));
    CHECK(message_contains([&] { codec::AnsStack({0u, 0u}); }, "high word is zero"));
}

TEST_CASE("the normal quantile inverts the CDF, and the buckets have equal prior mass") {
    for (double u : {1e-12, 1e-6, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.77, 0.975, 0.999999, 1 - 1e-12}) {
        CAPTURE(u);
        CHECK(codec::normal_cdf(codec::normal_quantile(u)) == doctest::Approx(u).epsilon(1e-12));
    }
    CHECK(codec::normal_quantile(0.5) == doctest::Approx(0.0).epsilon(1e-15));
    CHECK(codec::normal_quantile(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-13));
    codec::LatentBuckets b(6);
    REQUIRE(b.edges.size() == 65);
    for (uint32_t i = 1; i < 64; ++i) CHECK(codec::normal_cdf(b.edges[i]) == doctest::Approx(i / 64.0).epsilon(1e-12));
    for (uint32_t i = 0; i < 64; ++i) {
        CHECK(b.centres[i] > b.edges[i]);
        CHECK(b.centres[i] < b.edges[i + 1]);
    }
}

TEST_CASE("a stack over an endless bottom never runs out, and a reader holding only its words ends at the start") {
    Generator gen(2);
    codec::AnsStack s = codec::AnsStack::over_bottom(7);
    // pops first, as bits-back's first latents do: they take words from the bottom
    std::vector<std::pair<uint32_t, uint32_t>> popped;  // (slot, precision)
    for (int i = 0; i < 40; ++i) {
        const uint32_t prec = 12, slot = s.peek(prec);
        s.pop(slot, 1, prec);
        popped.push_back({slot, prec});
    }
    CHECK(s.depth() >= 40 * 12 / 32 - 2);
    for (int i = 0; i < 100; ++i) s.push(uint32_t(gen.randint(256)), 1, 8);
    // the reader gets words() and depth(), and undoes everything
    codec::AnsStack r(s.words());
    std::vector<uint32_t> pushed;
    Generator gen2(2);  // the pushes again, from the same seed
    for (int i = 0; i < 100; ++i) pushed.push_back(uint32_t(gen2.randint(256)));
    for (size_t i = pushed.size(); i-- > 0;) {
        REQUIRE(r.peek(8) == pushed[i]);
        r.pop(pushed[i], 1, 8);
    }
    for (size_t i = popped.size(); i-- > 0;) r.push(popped[i].first, 1, popped[i].second);
    CHECK(r.is_start_over(7, s.depth()));
    CHECK_FALSE(r.is_start_over(8, s.depth()));
    CHECK_FALSE(r.is_start_over(7, s.depth() + 1));
}

namespace {

// A VAE file with untrained weights (the codec does not care how good it is).
std::string vae_file(const std::string& dir, uint64_t seed, const models::DecoderConfig& decoder = {}) {
    Generator gen(seed);
    models::VAE vae(gen, decoder);
    std::string path = dir + "/vae" + std::to_string(seed) + (decoder.autoregressive ? "_ar" : "") + ".safetensors";
    models::save_model_file(vae, path, "vae", 0);
    return path;
}

}  // namespace

TEST_CASE("BB-ANS round-trips images exactly, at a cost within 1% of the coded -ELBO") {
    const std::string dir = test_dir("bits_back", "roundtrip", true);
    codec::VaeModel m(vae_file(dir, 3), Device::cpu());
    Generator gen(4);
    Tensor bits = bernoulli(rand_uniform({11, 1, 28, 28}, 0.0, 0.6, gen), gen);  // 11 images, 3 lanes: a short last step
    for (uint32_t p : {6u, 10u}) {
        CAPTURE(p);
        // 3 lanes for 11 images, and coded even where the untrained model loses to the raw bits
        codec::BitsBackConfig cfg{p, p + 8, 3, 1, false};
        codec::Stats st;
        std::string file = codec::compress_bits_back(m, bits, codec::InputKind::IdxDirectory, cfg, &st);
        CHECK_FALSE(st.stored);
        codec::Decoded back = codec::decompress_bits_back(m, file, "x.bba");
        CHECK(back.bits.to_vector() == bits.to_vector());
        CHECK(back.lossless);
        CHECK(back.kind == codec::InputKind::IdxDirectory);
        // file = header + per lane (two one-byte varints + words); the words are the lanes' starts plus the net cost
        const double framing = 8.0 * (codec::kBitsBackHeaderBytes + 3 * 2);
        const double net = 8.0 * double(st.bytes) - st.lane_start_bits - framing;
        MESSAGE("p " << p << ": net " << net / 11 << " bits/image, -ELBO " << st.ideal_bits / 11 << ", lane starts "
                     << st.lane_start_bits / 3 << " bits/lane");
        CHECK(std::abs(net - st.ideal_bits) < 0.01 * st.ideal_bits + 3 * 64);
        // a start costs its 64-bit head and what the first latent took: at most p bits a dimension, give or take
        CHECK(st.lane_start_bits <= 3 * (64 + 32.0 * (p + 2)));
    }
}

TEST_CASE("BB-ANS under the autoregressive decoder round-trips exactly, at a cost within 1% of the coded -ELBO") {
    const std::string dir = test_dir("bits_back", "autoregressive", true);
    codec::VaeModel m(vae_file(dir, 13, {.autoregressive = true, .layers = 2, .channels = 8}), Device::cpu());
    REQUIRE(m.vae->decoder.autoregressive());
    Generator gen(14);
    Tensor bits = bernoulli(rand_uniform({7, 1, 28, 28}, 0.0, 0.6, gen), gen);  // 2 lanes: 4 + 3 images
    codec::BitsBackConfig cfg{8, 16, 2, 1, false};
    codec::Stats st;
    std::string file = codec::compress_bits_back(m, bits, codec::InputKind::IdxDirectory, cfg, &st);
    codec::Decoded back = codec::decompress_bits_back(m, file, "ar.bba");
    CHECK(back.bits.to_vector() == bits.to_vector());
    const double framing = 8.0 * (codec::kBitsBackHeaderBytes + 2 * 2);
    const double net = 8.0 * double(st.bytes) - st.lane_start_bits - framing;
    CHECK(std::abs(net - st.ideal_bits) < 0.01 * st.ideal_bits + 2 * 64);
}

TEST_CASE("a bits-back file refuses another model, damage, truncation and a wrong checksum, each in its own words") {
    const std::string dir = test_dir("bits_back", "errors", true);
    codec::VaeModel m(vae_file(dir, 5), Device::cpu()), other(vae_file(dir, 6), Device::cpu());
    Generator gen(7);
    Tensor bits = bernoulli(Tensor::full({5, 1, 28, 28}, 0.3), gen);
    // 5 images were a PNG here before a PNG had to hold exactly one; two coded lanes
    std::string file = codec::compress_bits_back(m, bits, codec::InputKind::IdxFile, {8, 16, 2, 1, false});
    CHECK(codec::decompress_bits_back(m, file, "ok.bba").kind == codec::InputKind::IdxFile);
    CHECK(message_contains([&] { codec::decompress_bits_back(other, file, "a.bba"); }, "a.bba: compressed with another model"));
    CHECK(message_contains([&] { codec::decompress_bits_back(m, file.substr(0, file.size() - 9), "t.bba"); }, "t.bba: truncated"));
    CHECK(message_contains([&] { codec::decompress_bits_back(m, file.substr(0, 20), "h.bba"); },
                           "shorter than its " + std::to_string(codec::kBitsBackHeaderBytes) + "-byte header"));
    std::string wrong_sum = file;
    wrong_sum[19] ^= 0x01;  // the images' checksum field
    CHECK(message_contains([&] { codec::decompress_bits_back(m, wrong_sum, "c.bba"); }, "do not match the file's checksum"));
    // resealed, the damaged field gets through to the decode, whose images then disagree with it
    codec::seal_file(wrong_sum, codec::kBitsBackHeaderBytes);
    CHECK(message_contains([&] { codec::decompress_bits_back(m, wrong_sum, "c.bba"); },
                           "c.bba: the decoded images do not match the images' checksum in the header"));
    std::string damaged = file;
    damaged[codec::kBitsBackHeaderBytes + 2 + 5] ^= 0x40;  // a word inside the first lane
    CHECK(message_contains([&] { codec::decompress_bits_back(m, damaged, "d.bba"); }, "d.bba: "));
    codec::seal_file(damaged, codec::kBitsBackHeaderBytes);  // past the checksum, the decode itself notices
    CHECK(message_contains([&] { codec::decompress_bits_back(m, damaged, "d.bba"); }, "d.bba: "));
    CHECK(message_contains([&] { codec::decompress_bits_back(m, "VQZ\2" + file.substr(4), "v.bba"); }, "not a bits-back file"));
    CHECK(message_contains([&] { codec::compress_bits_back(m, bits, codec::InputKind::IdxDirectory, {10, 10, 2}); }, "posterior precision must be in 11..24"));
    CHECK(message_contains([&] { codec::compress_bits_back(m, bits, codec::InputKind::Png, {}); }, "a PNG holds exactly 1 image, not 5"));
}

TEST_CASE("every damaged header byte of a bits-back file, coded or stored, fails naming the file; so do a forged kind and an old version") {
    const std::string dir = test_dir("bits_back", "header", true);
    codec::VaeModel m(vae_file(dir, 11), Device::cpu());
    Generator gen(12);
    Tensor bits = bernoulli(Tensor::full({3, 1, 28, 28}, 0.3), gen);
    for (bool store : {false, true}) {
        CAPTURE(store);
        codec::Stats st;
        const std::string file =
            codec::compress_bits_back(m, bits, codec::InputKind::IdxDirectory, {8, 16, 2, 1, store}, &st);
        REQUIRE(st.stored == store);  // the untrained model loses to the raw bits, so storing is what it picks
        REQUIRE(codec::decompress_bits_back(m, file, "ok.bba").bits.to_vector() == bits.to_vector());
        for (size_t at = 0; at < codec::kBitsBackHeaderBytes; ++at)
            for (int bit = 0; bit < 8; ++bit) {
                CAPTURE(at);
                CAPTURE(bit);
                std::string bad = file;
                bad[at] = char(bad[at] ^ (1 << bit));
                CHECK(message_contains([&] { codec::decompress_bits_back(m, bad, "flip.bba"); }, "flip.bba: "));
            }
        std::string kind = file;
        kind[4] = char(uint8_t(kind[4]) ^ 2);  // IDX directory -> PNG, the reported bug: one PNG written for 3 images
        CHECK(message_contains([&] { codec::decompress_bits_back(m, kind, "k.bba"); }, "k.bba: damaged: its bytes do not match"));
        codec::seal_file(kind, codec::kBitsBackHeaderBytes);
        CHECK(message_contains([&] { codec::decompress_bits_back(m, kind, "k.bba"); },
                               "k.bba: corrupt header: its kind and count disagree (a PNG holds exactly 1 image, not 3)"));
        std::string old = file;
        old[3] = char(1);
        CHECK(message_contains([&] { codec::decompress_bits_back(m, old, "o.bba"); },
                               "o.bba: written by bits-back format version 1; this build reads version 2 (compress the images "
                               "again with this build)"));
        for (size_t len : {size_t(2), size_t(30), codec::kBitsBackHeaderBytes, file.size() - 1})
            CHECK(message_contains([&] { codec::decompress_bits_back(m, file.substr(0, len), "t.bba"); }, "t.bba: "));
    }
}

namespace {

// A VAE trained for a few seconds on test images 100..999: poor, but it
// beats the raw bits, so small sets exercise the coder and not only the
// stored fallback.
std::string quick_vae_file(const std::string& dir) {
    Generator gen(13);
    models::VAE vae(gen);
    optim::Adam opt(vae.named_parameters(), optim::AdamConfig{2e-3});
    Tensor all = codec::read_binary_images(data::kDefaultDataDir, 1000).bits;
    for (int step = 0; step < 30; ++step) {
        Tensor x = all.narrow(0, 100 + (step * 64) % 836, 64).contiguous();
        models::VAE::Output out = vae.forward(x, gen);
        opt.zero_grad();
        out.loss.backward();
        opt.step();
    }
    const std::string path = dir + "/quick_vae.safetensors";
    models::save_model_file(vae, path, "vae", 0);
    return path;
}

}  // namespace

TEST_CASE("bits-back never writes more than the raw bits plus the header, and small sets round-trip") {
    const std::string dir = test_dir("bits_back", "small", true);
    codec::VaeModel untrained(vae_file(dir, 14), Device::cpu()), quick(quick_vae_file(dir), Device::cpu());
    Tensor all = codec::read_binary_images(data::kDefaultDataDir, 10).bits;
    for (int64_t n : {1, 3, 10}) {
        Tensor bits = all.narrow(0, 0, n).contiguous();
        const codec::InputKind kind = n == 1 ? codec::InputKind::Png : codec::InputKind::IdxDirectory;
        for (codec::VaeModel* m : {&untrained, &quick}) {
            CAPTURE(n);
            CAPTURE(m == &quick);
            codec::Stats st;
            const std::string file = codec::compress_bits_back(*m, bits, kind, {}, &st);
            MESSAGE("n " << n << std::string(m == &quick ? " quick" : " untrained") << ": " << file.size() << " bytes"
                         << std::string(st.stored ? " (stored)" : "") << ", raw bits + header "
                         << n * 98 + int64_t(codec::kBitsBackHeaderBytes));
            CHECK(file.size() <= size_t(n) * codec::kRawBytesPerImage + codec::kBitsBackHeaderBytes);
            codec::Stats back_st;
            codec::Decoded back = codec::decompress_bits_back(*m, file, "s.bba", &back_st);
            CHECK(back.bits.to_vector() == bits.to_vector());
            CHECK(back.kind == kind);
            CHECK(back_st.stored == st.stored);
            if (m == &untrained) CHECK(st.stored);  // 784 bits of noise an image, plus the KL: worse than raw
        }
    }
    // the quick model codes 10 images below the raw bits: the coder, not the fallback, made that file
    codec::Stats st;
    const std::string file = codec::compress_bits_back(quick, all, codec::InputKind::IdxDirectory, {}, &st);
    CHECK_FALSE(st.stored);
    CHECK(st.bytes < 10 * codec::kRawBytesPerImage + codec::kBitsBackHeaderBytes);
    // a small set gets one lane, whatever the config's 32 allow, since each lane pays its start
    CHECK(codec::get_le(file, 27, 2) == 1);
}

TEST_CASE("compress --vae and decompress --vae round-trip an IDX set with other thread counts on each side") {
    const std::string dir = test_dir("bits_back", "tools", true);
    const std::string vae = vae_file(dir, 8);
    // 40 test images as their own IDX set
    data::Dataset test = data::load_split(data::kDefaultDataDir, "t10k");
    std::vector<uint8_t> px(test.pixels.begin(), test.pixels.begin() + 40 * 784);
    fs::create_directories(dir + "/in");
    data::write_idx_images(dir + "/in/t10k-images-idx3-ubyte", px, 40, 28, 28);
    ProcessResult c = run_tool("/usr/bin/env", {"VQ_NUM_THREADS=2", tool("compress"), "--vae", vae, "--in", dir + "/in",
                                                "--lanes", "6", "--out", dir + "/x.bba", "--json"});
    INFO(c.output);
    REQUIRE(c.exit_code == 0);
    for (const char* key : {"\"codec\":\"bits-back\"", "\"images\":40", "bytes_per_image", "ideal_bits_per_image",
                            "overhead_percent", "images_per_s"})
        CHECK(c.output.find(key) != std::string::npos);
    for (const char* threads : {"VQ_NUM_THREADS=1", "VQ_NUM_THREADS=2"}) {
        CAPTURE(threads);
        fs::remove_all(dir + "/out");
        ProcessResult d = run_tool("/usr/bin/env", {threads, tool("decompress"), "--vae", vae, "--in", dir + "/x.bba", "--out",
                                                    dir + "/out"});
        INFO(d.output);
        REQUIRE(d.exit_code == 0);
        codec::BinaryImages back = codec::read_binary_images(dir + "/out", 0), orig = codec::read_binary_images(dir + "/in", 0);
        CHECK(back.bits.to_vector() == orig.bits.to_vector());
    }
    // another VAE: a clear error, and nothing written
    ProcessResult wrong = run_tool(tool("decompress"), {"--vae", vae_file(dir, 9), "--in", dir + "/x.bba", "--out", dir + "/w"});
    CHECK(wrong.exit_code != 0);
    CHECK(wrong.output.find("compressed with another model") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/w"));
    // neither codec named
    ProcessResult none = run_tool(tool("compress"), {"--in", dir + "/in", "--out", dir + "/y"});
    CHECK(none.exit_code != 0);
    CHECK(none.output.find("give either --vqvae and --prior") != std::string::npos);
}

TEST_CASE("--in is recognised by content: IDX directory, IDX file (plain or gzip), PNG; the output keeps the kind") {
    const std::string dir = test_dir("bits_back", "kinds", true);
    const std::string gz = std::string(data::kDefaultDataDir) + "/t10k-images-idx3-ubyte.gz";
    codec::BinaryImages from_dir = codec::read_binary_images(data::kDefaultDataDir, 5);
    codec::BinaryImages from_gz = codec::read_binary_images(gz, 5);
    CHECK(from_dir.kind == codec::InputKind::IdxDirectory);
    CHECK(from_gz.kind == codec::InputKind::IdxFile);
    CHECK(from_gz.bits.to_vector() == from_dir.bits.to_vector());
    // a plain IDX file under a name that says nothing
    codec::write_binary_images(dir + "/plain.bin", from_gz.bits, codec::InputKind::IdxFile);
    codec::BinaryImages plain = codec::read_binary_images(dir + "/plain.bin", 0);
    CHECK(plain.kind == codec::InputKind::IdxFile);
    CHECK(plain.bits.to_vector() == from_dir.bits.to_vector());
    codec::write_binary_images(dir + "/one.img", from_gz.bits.narrow(0, 0, 1).contiguous(), codec::InputKind::Png);
    CHECK(codec::read_binary_images(dir + "/one.img", 0).kind == codec::InputKind::Png);
    {
        std::ofstream(dir + "/notes.txt") << "not an image";
    }
    CHECK(message_contains([&] { codec::read_binary_images(dir + "/notes.txt", 0); },
                           "notes.txt: not a recognised input (expected an IDX directory holding t10k-images-idx3-ubyte[.gz], "
                           "an IDX images file (plain or gzip) or a 1-bit PNG)"));
    // through the tools: a gzip IDX file in, an IDX file out
    const std::string vae = vae_file(dir, 10);
    ProcessResult c = run_tool(tool("compress"), {"--vae", vae, "--in", gz, "--limit", "6", "--out", dir + "/g.bba"});
    INFO(c.output);
    REQUIRE(c.exit_code == 0);
    ProcessResult d = run_tool(tool("decompress"), {"--vae", vae, "--in", dir + "/g.bba", "--out", dir + "/g.idx"});
    INFO(d.output);
    REQUIRE(d.exit_code == 0);
    REQUIRE(fs::is_regular_file(dir + "/g.idx"));
    codec::BinaryImages back = codec::read_binary_images(dir + "/g.idx", 0);
    CHECK(back.kind == codec::InputKind::IdxFile);
    CHECK(back.bits.to_vector() == codec::read_binary_images(gz, 6).bits.to_vector());
}
