// IDX reading, binarization test vectors, batches.
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "data/binarize.hpp"
#include "data/loader.hpp"
#include "data/png.hpp"
#include "tests/helpers.hpp"

using namespace vq;
using namespace vq::testing;
namespace fs = std::filesystem;

namespace {

const std::string kFashion = data::kDefaultDataDir;


std::string idx_bytes(uint32_t magic, std::vector<uint32_t> dims, size_t data_bytes) {
    std::string s;
    auto be = [&](uint32_t v) {
        for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xff));
    };
    be(magic);
    for (uint32_t d : dims) be(d);
    for (size_t i = 0; i < data_bytes; ++i) s.push_back(char(i * 7));
    return s;
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void write_gzip(const std::string& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

}  // namespace

TEST_CASE("the deterministic test binarization matches docs/design.md's vectors") {
    data::Dataset test = data::load_split(kFashion, "t10k");
    REQUIRE(test.count == 10000);
    Tensor bits = data::binarize_deterministic(test.pixels.data(), 0, test.count, 28, 28, 0);
    CHECK(sum(bits.select(0, 0)).item() == 144);
    CHECK(sum(bits.select(0, 1)).item() == 403);
    CHECK(sum(bits).item() == 2250077);
    // a window binarized on its own gives the same bits
    Tensor part = data::binarize_deterministic(test.pixels.data() + 5 * 784, 5, 3, 28, 28, 0);
    CHECK(part.to_vector() == bits.narrow(0, 5, 3).contiguous().to_vector());
}

TEST_CASE("Fashion-MNIST loads with labels; plain and gzip IDX read alike") {
    data::Dataset train = data::load_split(kFashion, "train");
    CHECK(train.count == 60000);
    CHECK(train.height == 28);
    CHECK(train.labels.size() == 60000);
    CHECK(train.pixels.size() == size_t(60000 * 28 * 28));
    std::string dir = test_dir("data");
    std::string raw = idx_bytes(0x803, {2, 3, 4}, 24);
    write_bytes(dir + "/plain-idx", raw);
    write_gzip(dir + "/packed-idx.gz", raw);
    data::IdxArray a = data::read_idx(dir + "/plain-idx"), b = data::read_idx(dir + "/packed-idx.gz");
    CHECK(a.dims == std::vector<int64_t>{2, 3, 4});
    CHECK(a.bytes == b.bytes);
}

TEST_CASE("bad IDX files give errors that name the file and the problem") {
    std::string dir = test_dir("data");
    auto fails = [&](const std::string& name, const std::string& bytes, const std::string& needle, bool gzip = false) {
        std::string path = dir + "/" + name;
        gzip ? write_gzip(path, bytes) : write_bytes(path, bytes);
        return message_contains([&] { data::read_idx(path); }, path + ": ") &&
               message_contains([&] { data::read_idx(path); }, needle);
    };
    CHECK(fails("empty", "", "file is empty"));
    CHECK(fails("magic", idx_bytes(0x1234, {2}, 2), "bad magic number 0x00001234"));
    CHECK(fails("truncated", idx_bytes(0x803, {10, 28, 28}, 100), "(truncated)"));
    CHECK(fails("trailing", idx_bytes(0x801, {3}, 5), "(trailing bytes)"));
    CHECK(fails("header", idx_bytes(0x803, {10}, 0), "truncated header"));
    CHECK(fails("zero-dim", idx_bytes(0x801, {0}, 0), "dim 0 is 0"));
    CHECK(fails("gz-truncated.gz", idx_bytes(0x803, {10, 28, 28}, 100), "(truncated)", true));
    // a gzip stream cut in the middle
    std::string whole = dir + "/whole.gz";
    write_gzip(whole, idx_bytes(0x803, {100, 28, 28}, 78400));
    std::ifstream in(whole, std::ios::binary);
    std::string packed((std::istreambuf_iterator<char>(in)), {});
    CHECK(fails("cut.gz", packed.substr(0, packed.size() / 2), "", false));
    CHECK(message_contains([&] { data::read_idx(dir + "/missing"); }, dir + "/missing: file not found"));
    CHECK(message_contains([&] { data::load_split(dir + "/nowhere", "train"); }, "data directory not found"));
    CHECK(message_contains([&] { data::load_split(dir, "train"); }, "no train-images-idx3-ubyte"));
    write_bytes(dir + "/train-images-idx3-ubyte", idx_bytes(0x801, {4}, 4));
    CHECK(message_contains([&] { data::load_split(dir, "train"); }, "expected 3 dims"));
}

TEST_CASE("batches are a pure function of seed, epoch and index") {
    data::Dataset test = data::load_split(kFashion, "t10k");
    data::BatchSource src = data::image_batches(test, 64, 7);
    CHECK(src.batches_per_epoch == 157);  // 10000 / 64, last one partial
    Tensor a = src.make(2, 5), b = src.make(2, 5), c = src.make(3, 5);
    CHECK(a.shape() == Shape{64, 1, 28, 28});
    CHECK(a.to_vector() == b.to_vector());
    CHECK(a.to_vector() != c.to_vector());
    CHECK(src.make(0, 156).size(0) == 10000 - 156 * 64);
    // values are bits, and their mean tracks the pixel intensities
    double m = mean(a).item();
    CHECK(m > 0.2);
    CHECK(m < 0.6);
    data::Prefetcher pf(src);
    pf.seek(2, 5);
    CHECK(pf.next().to_vector() == a.to_vector());
    CHECK(pf.next().to_vector() == src.make(2, 6).to_vector());
    pf.seek(0, 156);
    pf.next();
    CHECK(pf.next().to_vector() == src.make(1, 0).to_vector());  // wraps into the next epoch
}

TEST_CASE("PNG grids round-trip through libpng") {
    std::string path = test_dir("data") + "/grid.png";
    Tensor img = Tensor::zeros({2, 1, 4, 5});
    Tensor first = img.select(0, 0);
    fill_(first, 1.0);
    data::write_png_grid(path, img, 2);
    Tensor back = data::read_png_gray(path);
    CHECK(back.shape() == Shape{1, 1, 4 + 4, 2 * 7 + 2});
    CHECK(back.at({0, 0, 2, 2}) == 1.0);   // inside the first image
    CHECK(back.at({0, 0, 2, 9}) == 0.0);   // inside the second
    CHECK(message_contains([&] { data::read_png_gray(path + ".missing"); }, "cannot open"));
    // --scale: every pixel a 3x3 block
    data::write_png_grid(path, img, 2, 3);
    Tensor big = data::read_png_gray(path);
    REQUIRE(big.shape() == Shape{1, 1, 3 * 8, 3 * 16});
    for (int64_t y = 0; y < 24; ++y)
        for (int64_t x = 0; x < 48; ++x) REQUIRE(big.at({0, 0, y, x}) == back.at({0, 0, y / 3, x / 3}));
    CHECK(message_contains([&] { data::write_png_grid(path, img, 2, 0); }, "scale must be in 1..64"));
}
