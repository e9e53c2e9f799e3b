#include "codec/pixel_codec.hpp"

#include <chrono>
#include <cmath>
#include <fmt/format.h>

#include "codec/bytes.hpp"
#include "codec/rans.hpp"
#include "io/files.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/progress.hpp"

namespace vq::codec {

namespace {

constexpr int64_t kSide = 28, kPixels = kSide * kSide;

// log(1 + e^z) without overflow: -ln p(pixel) for the logit difference on the other side
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }

// Walks one chunk of n images through the model in the file's order: pixel
// positions in raster order, the n images at each. At every (image i,
// position pos) `code(i, pos, freq_one, d)` gets the rANS frequency of a 1
// and the logit difference d = l1 - l0, and returns the pixel: the image's
// (encoder) or the stream's (decoder). This one function turns logits into
// frequencies for both sides, so they cannot drift apart.
template <typename Code>
void walk_chunk(const models::GatedPixelCNN& model, int64_t n, Code&& code) {
    models::IncrementalPixelCNN inc(model, n, kSide);
    Tensor column = Tensor::empty({n}, DType::I64);
    int64_t* col = column.data<int64_t>();
    for (int64_t pos = 0; pos < kPixels; ++pos) {
        const int64_t r = pos / kSide, c = pos % kSide;
        const Tensor logits = inc.logits(r, c).to(Device::cpu()).contiguous();  // [n, 2]
        const float* lp = logits.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            const double d = double(lp[2 * i + 1]) - double(lp[2 * i]);
            const uint32_t freq_one = binary_frequency(float(1.0 / (1.0 + std::exp(-d))));
            col[i] = code(i, pos, freq_one, d) ? 1 : 0;
        }
        inc.set(r, c, column);
    }
}

}  // namespace

PixelModel::PixelModel(const std::string& path, Device dev)
    : model(models::load_pixelcnn(path, dev)), hash(fnv1a64(io::read_file(path))), device(dev) {}

std::string compress_pixels(PixelModel& m, const Tensor& bits_in, InputKind kind, Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    if (bits_in.dim() != 4 || bits_in.size(1) != 1 || bits_in.size(2) != kSide || bits_in.size(3) != kSide)
        throw std::invalid_argument("compress: expected binary images [N, 1, 28, 28], got " + bits_in.shape_str());
    if (std::string e = kind_count_error(kind, bits_in.size(0)); !e.empty())
        throw std::invalid_argument("compress: " + e + " (the kind is written back on decompress)");
    const Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    const int64_t N = bits.size(0);
    RansEncoder enc;
    Stats st;
    st.images = N;
    models::ProgressBar bar("compress", N);
    for (int64_t first = 0; first < N; first += kPixelChunk) {
        const int64_t n = std::min(kPixelChunk, N - first);
        const float* x = bits.data<float>() + first * kPixels;
        walk_chunk(*m.model, n, [&](int64_t i, int64_t pos, uint32_t freq_one, double d) {
            const bool one = x[i * kPixels + pos] >= 0.5f;
            if (one) enc.put(0, freq_one);
            else enc.put(freq_one, kScale - freq_one);
            st.ideal_bits += softplus(one ? -d : d) / std::log(2.0);
            return one;
        });
        bar.update(first + n, n);
    }
    bar.finish();
    std::string out = "VQP";
    out.push_back(char(kPixelVersion));
    out.push_back(char(kind_flags(kind)));
    put_le(out, uint64_t(N), 4);
    out.push_back(char(kSide));
    out.push_back(char(kSide));
    put_le(out, m.hash, 8);
    out.append(kSealBytes, '\0');
    out += enc.finish();
    seal_file(out, kPixelHeaderBytes);
    st.bytes = out.size();
    st.seconds = seconds_since(t0);
    if (stats) *stats = st;
    return out;
}

Decoded decompress_pixels(PixelModel& m, const std::string& file, const std::string& name, Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    check_sealed_file(file, name, {"VQP", "pixel codec", kPixelVersion, kPixelHeaderBytes});
    // every byte below is as written (the checksum held); these checks catch a writer's bugs and forged files
    const uint8_t flags = uint8_t(file[4]);
    const int64_t N = int64_t(get_le(file, 5, 4)), H = uint8_t(file[9]), W = uint8_t(file[10]);
    const uint64_t hash = get_le(file, 11, 8);
    if (hash != m.hash)
        throw std::runtime_error(fmt::format("{}: compressed with another model (model hash {:016x}, this model gives "
                                             "{:016x}); decompress with the same --pixelcnn file", name, hash, m.hash));
    if (H != kSide || W != kSide || N <= 0)
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images of {}x{})", name, N, H, W));
    if (flags & ~uint8_t(6)) throw std::runtime_error(fmt::format("{}: corrupt header (unknown flags {:#04x})", name, flags));
    const InputKind kind = kind_of_flags(flags, name);
    if (std::string e = kind_count_error(kind, N); !e.empty())
        throw std::runtime_error(fmt::format("{}: corrupt header: its kind and count disagree ({})", name, e));
    // A pixel costs at least -log2(65535/65536) bits (frequencies are clamped
    // to [1, 65535]), so a payload of P bytes and the 4-byte initial state
    // hold at most (8 P + 32) / 2.2e-5 pixels: under 464 P + 2000 images.
    const uint64_t payload = file.size() - kPixelHeaderBytes;
    if (uint64_t(N) > 464 * payload + 2000)
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images claimed in {} bytes)", name, N, file.size()));
    // grows as chunks decode, so a forged count costs memory only as far as the data goes
    std::vector<float> pixels;
    try {
        RansDecoder dec(reinterpret_cast<const uint8_t*>(file.data()) + kPixelHeaderBytes, payload);
        models::ProgressBar bar("decompress", N);
        for (int64_t first = 0; first < N; first += kPixelChunk) {
            const int64_t n = std::min(kPixelChunk, N - first);
            pixels.resize(size_t((first + n) * kPixels));
            float* o = pixels.data() + first * kPixels;
            walk_chunk(*m.model, n, [&](int64_t i, int64_t pos, uint32_t freq_one, double) {
                const bool one = dec.binary(freq_one);
                o[i * kPixels + pos] = one ? 1.0f : 0.0f;
                return one;
            });
            bar.update(first + n, n);
        }
        bar.finish();
        if (!dec.at_end()) throw std::runtime_error("the coded stream does not end where it should (corrupt data)");
    } catch (const std::runtime_error& e) {  // the coder's errors, with the file's name
        throw std::runtime_error(name + ": " + e.what());
    }
    Decoded d;
    d.bits = Tensor::from_vector(pixels, {N, 1, kSide, kSide});
    d.lossless = true;
    d.kind = kind;
    if (stats) {
        stats->images = N;
        stats->bytes = file.size();
        stats->seconds = seconds_since(t0);
    }
    return d;
}

}  // namespace vq::codec
