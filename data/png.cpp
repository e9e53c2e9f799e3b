#include "data/png.hpp"

#include "io/files.hpp"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace vq::data {

namespace {

// Writes a grayscale PNG of `bit_depth` whose rows are packed bytes of
// `stride` each, atomically (io/files.hpp).
void write_gray_png(const std::string& path, int64_t width, int64_t height, int bit_depth,
                    const std::vector<uint8_t>& rows, size_t stride) {
    io::AtomicFile out(path);
    FILE* f = out.file();
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        throw std::runtime_error(path + ": libpng failed while writing");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bit_depth, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (int64_t y = 0; y < height; ++y) png_write_row(png, const_cast<uint8_t*>(&rows[size_t(y) * stride]));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    out.commit();
}

// The most pixels per side read_png_gray accepts. Its callers read 28x28
// images and masks (tests read back grids of a few hundred pixels); writing
// larger grids is fine, reading them is not needed. Without a bound a
// 69-byte file whose header claims 20000x20000 pixels cost 400 MB before its
// data was found missing.
constexpr uint32_t kMaxSide = 4096;
// Deflate's best case is a 258-byte match coded in 2 bits, so compressed
// data expands at most 1032:1: a file of F bytes cannot hold pixel data of
// more than 1032 * F bytes, whatever its header claims. The slack keeps tiny
// images clear of the bound.
constexpr uint64_t kDeflateMaxRatio = 1032;
constexpr uint64_t kSlackBytes = 1024;
// Text and color-profile chunks are inflated by libpng up to this size.
constexpr png_alloc_size_t kMaxChunkBytes = 1 << 20;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw std::runtime_error(path + ": " + what); }

uint32_t be32(const unsigned char* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string claimed(uint32_t w, uint32_t h) {
    return "the header claims " + std::to_string(w) + "x" + std::to_string(h) + " pixels";
}

void check_sides(const std::string& path, uint32_t w, uint32_t h) {
    if (w > kMaxSide || h > kMaxSide)
        fail(path, claimed(w, h) + ", more than this reader accepts (at most " + std::to_string(kMaxSide) + " per side)");
}

void check_file_can_hold(const std::string& path, uint32_t w, uint32_t h, int bits_per_pixel, uint64_t file_bytes) {
    const uint64_t need = (uint64_t(w) * h * uint64_t(bits_per_pixel) + 7) / 8;  // sides <= 4096: no overflow
    if (need > file_bytes * kDeflateMaxRatio + kSlackBytes)
        fail(path, claimed(w, h) + " of " + std::to_string(bits_per_pixel) + (bits_per_pixel == 1 ? " bit" : " bits") +
                       ", more than a " + std::to_string(file_bytes) + "-byte file can hold (deflate expands at most " +
                       std::to_string(kDeflateMaxRatio) + ":1)");
}

// libpng reports an error by calling this, which must not return: it keeps
// the text for the exception and longjmps to the setjmp in read_png_gray.
struct LibpngError {
    char text[200] = "";
};

void on_libpng_error(png_structp png, png_const_charp message) {
    auto* e = static_cast<LibpngError*>(png_get_error_ptr(png));
    std::snprintf(e->text, sizeof e->text, "%s", message);
    png_longjmp(png, 1);
}

// Warnings (an odd color profile, a bad ancillary chunk) do not change the
// gray pixels read here; libpng would print them to stderr.
void on_libpng_warning(png_structp, png_const_charp) {}

// Everything one read holds, released by the destructor on every way out.
struct PngReader {
    FILE* file = nullptr;
    png_structp png = nullptr;
    png_infop info = nullptr;
    LibpngError error;
    std::vector<uint8_t> pixels;
    std::vector<png_bytep> rows;
    ~PngReader() {
        if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
        if (file) std::fclose(file);
    }
};

}  // namespace

void write_png_grid(const std::string& path, const Tensor& images_in, int64_t columns, int64_t scale) {
    if (images_in.dim() != 4 || images_in.size(1) != 1)
        throw std::invalid_argument("write_png_grid: expected [N, 1, H, W] images, got " + images_in.shape_str());
    if (scale < 1 || scale > 64) throw std::invalid_argument("write_png_grid: scale must be in 1..64, got " + std::to_string(scale));
    Tensor images = images_in.to(Device::cpu()).to(DType::F32).contiguous();
    int64_t n = images.size(0), h = images.size(2), w = images.size(3), gap = 2;
    columns = std::max<int64_t>(1, std::min(columns, n));
    int64_t rows = (n + columns - 1) / columns;
    int64_t W = columns * (w + gap) + gap, H = rows * (h + gap) + gap;
    std::vector<uint8_t> canvas(size_t(W * H), 64);  // dark grey gaps
    const float* p = images.data<float>();
    for (int64_t k = 0; k < n; ++k) {
        int64_t r = k / columns, c = k % columns;
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                float v = std::min(1.0f, std::max(0.0f, p[(k * h + y) * w + x]));
                canvas[size_t((gap + r * (h + gap) + y) * W + gap + c * (w + gap) + x)] = uint8_t(v * 255.0f + 0.5f);
            }
    }
    if (scale > 1) {  // nearest neighbour: each pixel becomes a scale x scale block
        std::vector<uint8_t> big(size_t(W * scale * H * scale));
        for (int64_t y = 0; y < H * scale; ++y)
            for (int64_t x = 0; x < W * scale; ++x) big[size_t(y * W * scale + x)] = canvas[size_t((y / scale) * W + x / scale)];
        canvas.swap(big);
        W *= scale;
        H *= scale;
    }
    write_gray_png(path, W, H, 8, canvas, size_t(W));
}

void write_png_bits(const std::string& path, const Tensor& bits_in) {
    Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    if (bits.dim() == 4 && bits.size(0) == 1 && bits.size(1) == 1) bits = bits.reshape({bits.size(2), bits.size(3)});
    if (bits.dim() != 2) throw std::invalid_argument("write_png_bits: expected one image [H, W], got " + bits.shape_str());
    const int64_t h = bits.size(0), w = bits.size(1);
    const size_t stride = size_t((w + 7) / 8);
    std::vector<uint8_t> packed(stride * size_t(h), 0);
    const float* p = bits.data<float>();
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            if (p[y * w + x] >= 0.5f) packed[size_t(y) * stride + size_t(x / 8)] |= uint8_t(0x80 >> (x % 8));  // 1 = white
    write_gray_png(path, w, h, 1, packed, stride);
}

Tensor read_png_gray(const std::string& path) {
    // Held through a pointer that is set before setjmp and never changed
    // after it, so it is still valid when a libpng error longjmps back; its
    // destructor then frees everything on every way out.
    const uint64_t file_bytes = io::file_size(path);  // "file not found", "is a directory", ...
    auto r = std::make_unique<PngReader>();
    r->file = std::fopen(path.c_str(), "rb");
    if (!r->file) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");

    // The signature and the IHDR chunk that must follow it: the claimed size
    // is checked here, before libpng reads (and allocates for) anything, so
    // that the message can say what the header claimed.
    unsigned char head[24];
    const size_t got = std::fread(head, 1, sizeof head, r->file);
    if (got < 8 || png_sig_cmp(head, 0, 8)) fail(path, "not a PNG file");
    if (got == sizeof head && std::memcmp(head + 12, "IHDR", 4) == 0) check_sides(path, be32(head + 16), be32(head + 20));
    if (std::fseek(r->file, 8, SEEK_SET) != 0) fail(path, "cannot seek back to the PNG header");

    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->error, on_libpng_error, on_libpng_warning);
    if (!r->png) fail(path, "libpng could not start (out of memory)");
    r->info = png_create_info_struct(r->png);
    if (!r->info) fail(path, "libpng could not start (out of memory)");
    if (setjmp(png_jmpbuf(r->png))) fail(path, std::string("corrupt PNG (") + r->error.text + ")");
    // libpng's own bounds, behind the check above: image sides, ancillary
    // chunks (a zTXt or iCCP inflates under this cap) and their number.
    png_set_user_limits(r->png, kMaxSide, kMaxSide);
    png_set_chunk_malloc_max(r->png, kMaxChunkBytes);
    png_set_chunk_cache_max(r->png, 128);
    png_init_io(r->png, r->file);
    png_set_sig_bytes(r->png, 8);
    png_read_info(r->png, r->info);  // refuses sides over kMaxSide itself (user limits)
    const png_uint_32 w = png_get_image_width(r->png, r->info), h = png_get_image_height(r->png, r->info);
    check_file_can_hold(path, w, h, png_get_channels(r->png, r->info) * png_get_bit_depth(r->png, r->info), file_bytes);

    png_set_expand(r->png);  // 1/2/4-bit gray and palettes to 8-bit
    png_set_strip_16(r->png);
    png_set_strip_alpha(r->png);
    png_set_rgb_to_gray(r->png, 1, -1, -1);
    // Adam7 files store the image in 7 passes of sub-images; with this on,
    // png_read_image below reads all passes and puts each pixel in place.
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    const size_t row_bytes = png_get_rowbytes(r->png, r->info);
    if (row_bytes != size_t(w) || png_get_channels(r->png, r->info) != 1)
        fail(path, "libpng gave rows of " + std::to_string(row_bytes) + " bytes for a width of " + std::to_string(w) +
                       ", expected one 8-bit gray byte per pixel");
    r->pixels.resize(row_bytes * h);
    r->rows.resize(h);
    for (png_uint_32 y = 0; y < h; ++y) r->rows[y] = &r->pixels[size_t(y) * row_bytes];
    png_read_image(r->png, r->rows.data());

    Tensor out = Tensor::empty({1, 1, int64_t(h), int64_t(w)});
    float* p = out.data<float>();
    for (size_t i = 0; i < r->pixels.size(); ++i) p[i] = float(r->pixels[i]) / 255.0f;
    return out;
}

}  // namespace vq::data
