// IDX and PNG reading (including hostile files), binarization test
// vectors, batches.
#include <png.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
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

std::string be32s(uint32_t v) {
    std::string s;
    for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xff));
    return s;
}

// How far the process's peak resident memory rose while `fn` ran, in MB,
// measured by resetting the kernel's high-water mark (VmHWM) first; -1 where
// /proc does not allow that. The exception `fn` throws is kept in `error`.
double peak_growth_mb(const std::function<void()>& fn, std::string& error) {
    auto status_kb = [](const char* field) {
        std::ifstream s("/proc/self/status");
        for (std::string line; std::getline(s, line);)
            if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
        return -1L;
    };
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // 5: reset the peak to the current resident size
    clear.close();
    const long before = status_kb("VmRSS:");
    if (clear.fail() || before < 0 || status_kb("VmHWM:") > before + 1024) return -1;
    error = error_of(fn);
    return double(status_kb("VmHWM:") - before) / 1024.0;
}

// A gray value of `bit_depth` bits for each pixel, irregular, so that a
// pixel read from the wrong place (or the wrong Adam7 pass) shows.
int pattern(int64_t x, int64_t y, int bit_depth) {
    uint32_t h = uint32_t(x) * 73856093u ^ uint32_t(y) * 19349663u;
    return int((h >> 7) % (1u << bit_depth));
}

// A gray PNG of the pattern, written with libpng directly (not the project's
// writer, which never interlaces).
void write_pattern_png(const std::string& path, int w, int h, int bit_depth, bool interlaced) {
    const size_t stride = size_t((w * bit_depth + 7) / 8);
    std::vector<uint8_t> packed(stride * size_t(h), 0);
    std::vector<png_bytep> rows(static_cast<size_t>(h));
    for (int y = 0; y < h; ++y) {
        rows[size_t(y)] = &packed[size_t(y) * stride];
        for (int x = 0; x < w; ++x) {
            int bit = x * bit_depth;  // most significant bits first
            packed[size_t(y) * stride + size_t(bit / 8)] |= uint8_t(pattern(x, y, bit_depth) << (8 - bit_depth - bit % 8));
        }
    }
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) FAIL("libpng failed writing " << path);
    png_init_io(png, f);
    png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), bit_depth, PNG_COLOR_TYPE_GRAY,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows.data());  // writes all 7 passes when interlaced
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
}

std::string png_chunk(const std::string& type, const std::string& data) {
    std::string typed = type + data;
    uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(typed.data()), uInt(typed.size())));
    return be32s(uint32_t(data.size())) + typed + be32s(crc);
}

// A well-formed, tiny PNG (1-bit gray) whose header claims w x h pixels but
// whose image data is 4 zero bytes: 69 bytes in all.
std::string png_claiming(uint32_t w, uint32_t h) {
    const Bytef zeros[4] = {};
    Bytef packed[64];
    uLongf n = sizeof packed;
    REQUIRE(compress2(packed, &n, zeros, sizeof zeros, 9) == Z_OK);
    return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", be32s(w) + be32s(h) + std::string("\x01\0\0\0\0", 5)) +
           png_chunk("IDAT", std::string(reinterpret_cast<char*>(packed), n)) + png_chunk("IEND", "");
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
    CHECK(fails("trailing", idx_bytes(0x801, {3}, 5), "dims [3] need 3 data bytes, file has more (trailing bytes)"));
    CHECK(fails("header", idx_bytes(0x803, {10}, 0), "truncated header"));
    CHECK(fails("zero-dim", idx_bytes(0x801, {0}, 0), "dim 0 is 0"));
    CHECK(fails("gz-truncated.gz", idx_bytes(0x803, {10, 28, 28}, 100), "(truncated)", true));
    // a gzip stream cut in the middle
    std::string whole = dir + "/whole.gz";
    write_gzip(whole, idx_bytes(0x803, {100, 28, 28}, 78400));
    std::ifstream in(whole, std::ios::binary);
    std::string packed((std::istreambuf_iterator<char>(in)), {});
    CHECK(fails("cut.gz", packed.substr(0, packed.size() / 2), "corrupt gzip data (unexpected end of file)", false));
    // a gzip file cannot hold what its header claims: refused before inflating
    write_gzip(dir + "/claims.gz", idx_bytes(0x803, {100000, 28, 28}, 10));
    const std::string claims = error_of([&] { data::read_idx(dir + "/claims.gz"); });
    CHECK(claims.rfind(dir + "/claims.gz: dims [100000, 28, 28] need 78400000 data bytes, a ", 0) == 0);
    CHECK(claims.find("-byte gzip file inflates to at most") != std::string::npos);
    CHECK(claims.find("(truncated)") != std::string::npos);
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
    CHECK(message_contains([&] { data::read_png_gray(path + ".missing"); }, path + ".missing: file not found"));
    // --scale: every pixel a 3x3 block
    data::write_png_grid(path, img, 2, 3);
    Tensor big = data::read_png_gray(path);
    REQUIRE(big.shape() == Shape{1, 1, 3 * 8, 3 * 16});
    for (int64_t y = 0; y < 24; ++y)
        for (int64_t x = 0; x < 48; ++x) REQUIRE(big.at({0, 0, y, x}) == back.at({0, 0, y / 3, x / 3}));
    CHECK(message_contains([&] { data::write_png_grid(path, img, 2, 0); }, "scale must be in 1..64"));
}

TEST_CASE("parse_idx and read_idx (plain and gzip) give the same result and the same message") {
    std::string dir = test_dir("data", "same");
    const std::vector<std::string> inputs = {
        "", "\x00\x00", idx_bytes(0x1234, {2}, 2), idx_bytes(0x805, {1}, 1), idx_bytes(0x803, {10}, 0),
        idx_bytes(0x801, {0}, 0), idx_bytes(0x803, {10, 28, 28}, 100), idx_bytes(0x801, {3}, 5),
        idx_bytes(0x803, {2, 3, 4}, 24), idx_bytes(0x802, {7, 9}, 63)};
    for (size_t i = 0; i < inputs.size(); ++i) {
        CAPTURE(i);
        const std::string plain = dir + "/plain" + std::to_string(i), packed = dir + "/packed" + std::to_string(i) + ".gz";
        write_bytes(plain, inputs[i]);
        write_gzip(packed, inputs[i]);
        const std::string in_memory = error_of([&] { data::parse_idx(inputs[i], "NAME"); });
        auto renamed = [&](const std::string& path) {
            std::string e = error_of([&] { data::read_idx(path); });
            return e.rfind(path, 0) == 0 ? "NAME" + e.substr(path.size()) : e;
        };
        CHECK(renamed(plain) == in_memory);
        CHECK(renamed(packed) == in_memory);
        if (in_memory.empty()) CHECK(data::read_idx(packed).bytes == data::parse_idx(inputs[i], "NAME").bytes);
    }
}

TEST_CASE("a gzip IDX bomb is refused without inflating it") {
    // A valid header for [10000, 28, 28] (7.8 MB of pixels) and then 300 MB
    // of zeros: about 300 KB compressed. The old reader inflated all of it
    // (531 MB peak) before checking the header; the stream reader reads the
    // 7.8 MB the header asks for, then one byte more, and stops.
    const std::string path = test_dir("data") + "/bomb-idx.gz";
    {
        gzFile f = gzopen(path.c_str(), "wb9");
        REQUIRE(f);
        const std::string header = idx_bytes(0x803, {10000, 28, 28}, 0);
        gzwrite(f, header.data(), unsigned(header.size()));
        const std::vector<char> zeros(1 << 20, 0);
        for (int mb = 0; mb < 300; ++mb) gzwrite(f, zeros.data(), unsigned(zeros.size()));
        REQUIRE(gzclose(f) == Z_OK);
    }
    CHECK(fs::file_size(path) < 400 * 1024);
    std::string error;
    const double grew = peak_growth_mb([&] { data::read_idx(path); }, error);
    if (grew < 0) {
        MESSAGE("/proc/self/clear_refs is not available: peak memory not checked");
        error = error_of([&] { data::read_idx(path); });
    }
    CHECK(error == path + ": dims [10000, 28, 28] need 7840000 data bytes, file has more (trailing bytes)");
    CAPTURE(grew);
    CHECK(grew < 50);
    fs::remove(path);
}

TEST_CASE("Adam7-interlaced and plain gray PNGs read pixel-exactly, at every bit depth") {
    const std::string dir = test_dir("data", "png");
    struct Size {
        int w, h;
    };
    // 1x1 and 3x2 leave most Adam7 passes empty; 10x10 and 28x28 fill them unevenly.
    for (Size size : {Size{28, 28}, Size{10, 10}, Size{1, 1}, Size{3, 2}, Size{13, 9}})
        for (int bit_depth : {1, 2, 4, 8})
            for (bool interlaced : {true, false}) {
                CAPTURE(size.w);
                CAPTURE(size.h);
                CAPTURE(bit_depth);
                CAPTURE(interlaced);
                const std::string path = dir + "/p.png";
                write_pattern_png(path, size.w, size.h, bit_depth, interlaced);
                Tensor back = data::read_png_gray(path);
                REQUIRE(back.shape() == Shape{1, 1, size.h, size.w});
                const int top = (1 << bit_depth) - 1;  // libpng scales gray v to v * 255 / top
                int wrong = 0;
                for (int y = 0; y < size.h; ++y)
                    for (int x = 0; x < size.w; ++x)
                        wrong += std::lround(back.at({0, 0, y, x}) * 255.0) != pattern(x, y, bit_depth) * 255 / top;
                CHECK(wrong == 0);
            }
}

TEST_CASE("a PNG header's claimed size is refused before anything is allocated") {
    const std::string dir = test_dir("data", "png-claims");
    auto refused = [&](const std::string& name, uint32_t w, uint32_t h, const std::string& expected) {
        const std::string path = dir + "/" + name;
        write_bytes(path, png_claiming(w, h));
        CHECK(fs::file_size(path) == 69);
        std::string error;
        const double grew = peak_growth_mb([&] { data::read_png_gray(path); }, error);
        if (grew < 0) error = error_of([&] { data::read_png_gray(path); });
        CAPTURE(grew);
        CHECK(grew < 50);
        CHECK(error == path + ": " + expected);
    };
    refused("20000.png", 20000, 20000,
            "the header claims 20000x20000 pixels, more than this reader accepts (at most 4096 per side)");
    refused("million.png", 1000000, 1000000,
            "the header claims 1000000x1000000 pixels, more than this reader accepts (at most 4096 per side)");
    refused("wide.png", 5000, 1, "the header claims 5000x1 pixels, more than this reader accepts (at most 4096 per side)");
    refused("4000.png", 4000, 4000,
            "the header claims 4000x4000 pixels of 1 bit, more than a 69-byte file can hold (deflate expands at most 1032:1)");
    // within every bound, the data is simply too short, and libpng says so
    write_bytes(dir + "/short.png", png_claiming(200, 200));
    CHECK(message_contains([&] { data::read_png_gray(dir + "/short.png"); }, dir + "/short.png: corrupt PNG ("));
    write_bytes(dir + "/zero.png", png_claiming(0, 28));
    CHECK(message_contains([&] { data::read_png_gray(dir + "/zero.png"); }, dir + "/zero.png: corrupt PNG ("));
    write_bytes(dir + "/cut.png", png_claiming(28, 28).substr(0, 30));
    CHECK(message_contains([&] { data::read_png_gray(dir + "/cut.png"); }, dir + "/cut.png: corrupt PNG ("));
    CHECK(message_contains([&] { data::read_png_gray(dir); }, dir + ": is a directory"));
}
