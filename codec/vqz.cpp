#include "codec/vqz.hpp"
#include "io/files.hpp"

#include <chrono>
#include <cmath>
#include <functional>
#include <fmt/format.h>

#include "codec/bytes.hpp"
#include "codec/rans.hpp"
#include "models/checkpoint.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/progress.hpp"
#include "nn/safetensors.hpp"

namespace vq::codec {

namespace {

constexpr int64_t kSide = models::GatedPixelCNN::kSide;

// Softmax of one position's logits on the host, in one fixed order, so the
// encoder and the decoder compute bit-identical probabilities.
std::vector<float> softmax_row(const float* logits, int64_t K, int64_t stride) {
    std::vector<float> p(static_cast<size_t>(K));
    float mx = logits[0];
    for (int64_t k = 1; k < K; ++k) mx = std::max(mx, logits[k * stride]);
    double total = 0;
    for (int64_t k = 0; k < K; ++k) total += (p[size_t(k)] = std::exp(logits[k * stride] - mx));
    for (float& v : p) v = float(v / total);
    return p;
}

// Decoder pixel probabilities of a chunk on the host: [n, 1, H, W]
Tensor pixel_probs(Models& m, const Tensor& codes) {
    return sigmoid(m.vqvae->decode_logits(codes.to(m.device))).to(Device::cpu()).contiguous();
}

// The autoregressive decoder's pixels of a chunk, in raster order with all
// images at each position, as both sides compute them: pixel(pos, i, p_one)
// gives image i's pixel at pos (0 or 1) from its conditional probability of
// being 1. codes: [n, 7, 7] -> f32 [n, 1, 28, 28] on the host
Tensor ar_pixels(Models& m, const Tensor& codes, const std::function<bool(int64_t pos, int64_t i, float p_one)>& pixel) {
    const int64_t n = codes.size(0);
    return m.vqvae->decode_raster(codes.to(m.device), [&](int64_t pos, const float* p_one, float* pixels) {
        for (int64_t i = 0; i < n; ++i) pixels[i] = pixel(pos, i, p_one[i]) ? 1.0f : 0.0f;
    });
}

}  // namespace

uint64_t fnv1a64(const std::string& bytes, uint64_t h) { return io::fnv1a64(bytes.data(), bytes.size(), h); }

Models::Models(const std::string& vqvae_path, const std::string& prior_path, Device dev)
    : vqvae(models::load_vqvae(vqvae_path, dev, models::Decoders::Any, "the .vqz codec")), prior(models::load_prior(prior_path, dev)), device(dev) {
    models::check_prior_matches(*prior, prior_path, *vqvae, vqvae_path);
    hash = fnv1a64(io::read_file(prior_path), fnv1a64(io::read_file(vqvae_path)));
}

std::string compress(Models& m, const Tensor& bits_in, bool lossless, InputKind kind, Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    if (bits_in.dim() != 4 || bits_in.size(1) != 1 || bits_in.size(2) != 28 || bits_in.size(3) != 28)
        throw std::invalid_argument("compress: expected binary images [N, 1, 28, 28], got " + bits_in.shape_str());
    if (std::string e = kind_count_error(kind, bits_in.size(0)); !e.empty())
        throw std::invalid_argument("compress: " + e + " (the kind is written back on decompress)");
    Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    const int64_t N = bits.size(0), H = 28, W = 28, K = m.prior->config.num_codes;
    RansEncoder enc;
    Stats st;
    st.images = N;
    models::ProgressBar bar("compress", N);
    for (int64_t first = 0; first < N; first += kChunk) {
        const int64_t n = std::min(kChunk, N - first);
        Tensor x = bits.narrow(0, first, n).contiguous();
        Tensor codes = m.vqvae->encode(x.to(m.device)).to(Device::cpu()).contiguous();  // [n, 7, 7]
        // the prior one position at a time, as the decoder must compute it
        models::IncrementalPixelCNN prior(*m.prior, n);
        const int64_t* cp = codes.data<int64_t>();
        for (int64_t pos = 0; pos < kSide * kSide; ++pos) {
            const int64_t r = pos / kSide, c = pos % kSide;
            Tensor logits = prior.logits(r, c).to(Device::cpu()).contiguous();  // [n, K]
            const float* lp = logits.data<float>();
            for (int64_t i = 0; i < n; ++i) {
                std::vector<float> p = softmax_row(lp + i * K, K, 1);
                std::vector<uint32_t> f = quantize_frequencies(p.data(), p.size());
                int64_t code = cp[i * kSide * kSide + pos];
                uint32_t start = 0;
                for (int64_t k = 0; k < code; ++k) start += f[size_t(k)];
                enc.put(start, f[size_t(code)]);
                st.ideal_bits -= std::log2(std::max(double(p[size_t(code)]), 1e-30));
            }
            prior.set(r, c, codes.select(2, c).select(1, r).contiguous());
        }
        const float* xp = x.data<float>();
        if (m.vqvae->decoder.autoregressive()) {
            // lossless: each pixel under its conditional given the pixels before it;
            // lossy: codes only, but the encoder runs the decoder's greedy decode (the
            // likelier value at each position, fed back) to count the pixel errors
            ar_pixels(m, codes, [&](int64_t pos, int64_t i, float p_one) {
                const bool one = xp[i * H * W + pos] >= 0.5f;
                if (!lossless) {
                    if ((p_one >= 0.5f) != one) ++st.pixel_errors;
                    return p_one >= 0.5f;
                }
                const uint32_t f1 = binary_frequency(p_one);
                if (one) enc.put(0, f1);
                else enc.put(f1, kScale - f1);
                const double p1 = std::clamp(double(p_one), 1e-30, 1.0 - 1e-7);
                st.ideal_bits -= std::log2(one ? p1 : 1.0 - p1);
                return one;
            });
            bar.update(first + n, n);
            continue;
        }
        Tensor probs = pixel_probs(m, codes);
        const float* pp = probs.data<float>();
        for (int64_t j = 0; j < n * H * W; ++j) {
            bool one = xp[j] >= 0.5f;
            if (lossless) {
                uint32_t f1 = binary_frequency(pp[j]);
                if (one) enc.put(0, f1);
                else enc.put(f1, kScale - f1);
                double p1 = std::clamp(double(pp[j]), 1e-30, 1.0 - 1e-7);
                st.ideal_bits -= std::log2(one ? p1 : 1.0 - p1);
            } else if ((pp[j] >= 0.5f) != one) {
                ++st.pixel_errors;
            }
        }
        bar.update(first + n, n);
    }
    bar.finish();
    std::string out = "VQZ";
    out.push_back(char(kVersion));
    out.push_back(char((lossless ? 1 : 0) | kind_flags(kind)));
    put_le(out, uint64_t(N), 4);
    out.push_back(char(H));
    out.push_back(char(W));
    put_le(out, m.hash, 8);
    out.append(kSealBytes, '\0');
    out += enc.finish();
    seal_file(out, kHeaderBytes);
    st.bytes = out.size();
    st.seconds = seconds_since(t0);
    if (stats) *stats = st;
    return out;
}

Decoded decompress(Models& m, const std::string& file, const std::string& name, Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    check_sealed_file(file, name, {"VQZ", ".vqz", kVersion, kHeaderBytes});
    // every byte below is as written (the checksum held); these checks catch a writer's bugs and forged files
    const uint8_t flags = uint8_t(file[4]);
    const int64_t N = int64_t(get_le(file, 5, 4)), H = uint8_t(file[9]), W = uint8_t(file[10]);
    uint64_t hash = get_le(file, 11, 8);
    if (hash != m.hash)
        throw std::runtime_error(fmt::format("{}: compressed with other models (model hash {:016x}, these models give {:016x}); "
                                             "decompress with the same --vqvae and --prior files", name, hash, m.hash));
    if (H != 28 || W != 28 || N <= 0)
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images of {}x{})", name, N, H, W));
    if (flags & ~uint8_t(7)) throw std::runtime_error(fmt::format("{}: corrupt header (unknown flags {:#04x})", name, flags));
    const InputKind kind = kind_of_flags(flags, name);
    if (std::string e = kind_count_error(kind, N); !e.empty())
        throw std::runtime_error(fmt::format("{}: corrupt header: its kind and count disagree ({})", name, e));
    // every image codes 49 codes; a count far beyond the file's size is damage, not data
    if (uint64_t(N) > 8 * uint64_t(file.size()))
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images claimed in {} bytes)", name, N, file.size()));
    Decoded d;
    d.lossless = flags & 1;
    d.kind = kind;
    d.bits = Tensor::empty({N, 1, H, W});
    float* out = d.bits.data<float>();
    const int64_t K = m.prior->config.num_codes;
    try {
        RansDecoder dec(reinterpret_cast<const uint8_t*>(file.data()) + kHeaderBytes, file.size() - kHeaderBytes);
        models::ProgressBar bar("decompress", N);
        for (int64_t first = 0; first < N; first += kChunk) {
            const int64_t n = std::min(kChunk, N - first);
            Tensor codes = Tensor::zeros({n, kSide, kSide}, DType::I64);
            int64_t* cp = codes.data<int64_t>();
            models::IncrementalPixelCNN prior(*m.prior, n);
            for (int64_t pos = 0; pos < kSide * kSide; ++pos) {  // autoregressive, one position at a time
                const int64_t r = pos / kSide, c = pos % kSide;
                Tensor logits = prior.logits(r, c).to(Device::cpu()).contiguous();  // [n, K]
                const float* lp = logits.data<float>();
                for (int64_t i = 0; i < n; ++i) {
                    std::vector<float> p = softmax_row(lp + i * K, K, 1);
                    cp[i * kSide * kSide + pos] = int64_t(dec.decode(quantize_frequencies(p.data(), p.size())));
                }
                prior.set(r, c, codes.select(2, c).select(1, r).contiguous());
            }
            float* o = out + first * H * W;
            if (m.vqvae->decoder.autoregressive()) {
                const Tensor decoded = ar_pixels(m, codes, [&](int64_t, int64_t, float p_one) {
                    return d.lossless ? dec.binary(binary_frequency(p_one)) : p_one >= 0.5f;
                });
                std::copy(decoded.data<float>(), decoded.data<float>() + n * H * W, o);
                bar.update(first + n, n);
                continue;
            }
            Tensor probs = pixel_probs(m, codes);
            const float* pp = probs.data<float>();
            for (int64_t j = 0; j < n * H * W; ++j)
                o[j] = d.lossless ? (dec.binary(binary_frequency(pp[j])) ? 1.0f : 0.0f) : (pp[j] >= 0.5f ? 1.0f : 0.0f);
            bar.update(first + n, n);
        }
        bar.finish();
        if (!dec.at_end()) throw std::runtime_error("the coded stream does not end where it should (corrupt data)");
    } catch (const std::runtime_error& e) {  // the coder's errors, with the file's name
        throw std::runtime_error(name + ": " + e.what());
    }
    if (stats) {
        stats->images = N;
        stats->bytes = file.size();
        stats->seconds = seconds_since(t0);
    }
    return d;
}

}  // namespace vq::codec
