#include "codec/bits_back.hpp"
#include "io/files.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "codec/ans_stack.hpp"
#include "codec/bytes.hpp"
#include "codec/rans.hpp"
#include "models/checkpoint.hpp"
#include "models/progress.hpp"
#include "nn/safetensors.hpp"

namespace vq::codec {

namespace {

constexpr int64_t kLatent = models::VAE::kLatent;
constexpr uint32_t kPixelBits = kScaleBits;  // pixels use the .vqz codec's binary frequencies
constexpr uint8_t kStoredFlag = 8;           // flags bit 3: the payload is the raw bits

// Cumulative frequency of bucket i under N(mu, sigma) at precision `prec`:
// i + floor(F(edge_i) * (2^prec - 2^p)). Every bucket gets at least 1, the
// last edge maps to 2^prec, and both sides compute the same doubles.
uint32_t cumulative(const LatentBuckets& b, double mu, double sigma, uint32_t i, uint32_t prec) {
    const uint32_t n = 1u << b.bits;
    if (i == 0) return 0;
    if (i >= n) return 1u << prec;
    const double F = normal_cdf((b.edges[i] - mu) / sigma);
    return i + uint32_t(std::floor(F * double((1u << prec) - n)));
}

// Pops a bucket index under the discretized posterior (binary search for the
// last bucket whose cumulative frequency is <= the top slot).
uint32_t pop_posterior(AnsStack& s, const LatentBuckets& b, double mu, double sigma, uint32_t prec) {
    const uint32_t slot = s.peek(prec);
    uint32_t lo = 0, hi = 1u << b.bits;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cumulative(b, mu, sigma, mid, prec) <= slot) lo = mid;
        else hi = mid;
    }
    const uint32_t start = cumulative(b, mu, sigma, lo, prec);
    s.pop(start, cumulative(b, mu, sigma, lo + 1, prec) - start, prec);
    return lo;
}

void push_posterior(AnsStack& s, const LatentBuckets& b, double mu, double sigma, uint32_t prec, uint32_t i) {
    const uint32_t start = cumulative(b, mu, sigma, i, prec);
    s.push(start, cumulative(b, mu, sigma, i + 1, prec) - start, prec);
}

void push_pixel(AnsStack& s, float p_one, bool one) {
    const uint32_t f1 = binary_frequency(p_one);
    if (one) s.push(0, f1, kPixelBits);
    else s.push(f1, kScale - f1, kPixelBits);
}

bool pop_pixel(AnsStack& s, float p_one) {
    const uint32_t f1 = binary_frequency(p_one);
    const bool one = s.peek(kPixelBits) < f1;
    if (one) s.pop(0, f1, kPixelBits);
    else s.pop(f1, kScale - f1, kPixelBits);
    return one;
}

// Lanes for N images: each pays its start once, so each gets at least
// images_per_lane images (and the set, however small, at least one lane).
int64_t lanes_for(const BitsBackConfig& c, int64_t N) {
    return std::max<int64_t>(1, std::min(c.lanes, N / c.images_per_lane));
}

// The stored payload: the raw bits, 8 pixels a byte, first pixel in the high
// bit (784 is a multiple of 8, so each image starts on a byte).
std::string pack_bits(const float* x, int64_t N) {
    std::string out(size_t(N) * kRawBytesPerImage, '\0');
    for (int64_t j = 0; j < N * 784; ++j)
        if (x[j] >= 0.5f) out[size_t(j / 8)] = char(uint8_t(out[size_t(j / 8)]) | (0x80 >> (j % 8)));
    return out;
}

void unpack_bits(const std::string& file, size_t at, int64_t N, float* out) {
    for (int64_t j = 0; j < N * 784; ++j) out[j] = (uint8_t(file[at + size_t(j / 8)]) >> (7 - j % 8)) & 1 ? 1.0f : 0.0f;
}

// A coded payload's lanes, as the encoder left them: the bottom words each
// took (so the decoder knows where it must end), and its stack.
struct LaneRecord {
    uint64_t depth;
    AnsStack stack;
};

std::vector<LaneRecord> read_lanes(const std::string& file, int64_t L, const std::string& name) {
    std::vector<LaneRecord> lanes;
    size_t at = kBitsBackHeaderBytes;
    for (int64_t l = 0; l < L; ++l) {
        uint64_t depth = 0, count = 0;
        if (!get_varint(file, at, depth) || !get_varint(file, at, count))
            throw std::runtime_error(fmt::format("{}: truncated (lane {} of {} is missing)", name, l, L));
        if (count < 2 || count > (file.size() - at) / 4)
            throw std::runtime_error(fmt::format("{}: truncated or corrupt (lane {} claims {} words above {} bottom words, "
                                                 "{} bytes are left)", name, l, count, depth, file.size() - at));
        std::vector<uint32_t> w(count);
        for (uint64_t k = 0; k < count; ++k, at += 4) w[k] = uint32_t(get_le(file, at, 4));
        try {
            lanes.push_back({depth, AnsStack(w)});
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(name + ": lane " + std::to_string(l) + ": " + e.what());
        }
    }
    if (at != file.size())
        throw std::runtime_error(fmt::format("{}: {} bytes after the last lane (corrupt data)", name, file.size() - at));
    return lanes;
}

// q(z|x) of a batch on the host: [m, 64] (mu | log-variance)
Tensor posterior(VaeModel& m, const Tensor& x) {
    ag::NoGradGuard no_grad;
    return m.vae->encoder.forward(ag::Var(x.to(m.device))).value().to(Device::cpu()).contiguous();
}

// p(x|z) of a batch of latents on the host: [m, 784]
Tensor pixel_probs(VaeModel& m, const Tensor& z) {
    ag::NoGradGuard no_grad;
    Tensor logits = m.vae->decoder.forward(ag::Var(z.to(m.device)), Tensor()).value();
    return sigmoid(logits).to(Device::cpu()).contiguous().reshape({z.size(0), -1});
}

// The autoregressive decoder's conditionals p(x_j = 1 | x_<j, z) of known
// images x ([m, 1, 28, 28]), computed one pixel at a time as the decoder
// must compute them: [m, 784]
Tensor ar_pixel_probs(VaeModel& m, const Tensor& z, const Tensor& x) {
    const int64_t n = z.size(0), P = 28 * 28;
    Tensor probs = Tensor::empty({n, P});
    float* pp = probs.data<float>();
    const float* xp = x.data<float>();
    m.vae->decoder.decode_raster(z.to(m.device), [&](int64_t pos, const float* p_one, float* pixels) {
        for (int64_t i = 0; i < n; ++i) {
            pp[i * P + pos] = p_one[i];
            pixels[i] = xp[i * P + pos];
        }
    });
    return probs;
}

// Pops the images of a step under the autoregressive decoder in raster
// order, each pixel under its conditional given the ones already popped,
// into out ([m, 784]).
void pop_ar_pixels(VaeModel& m, const Tensor& z, std::vector<LaneRecord>& lanes, float* out) {
    const int64_t n = z.size(0), P = 28 * 28;
    Tensor x = m.vae->decoder.decode_raster(z.to(m.device), [&](int64_t, const float* p_one, float* pixels) {
        for (int64_t i = 0; i < n; ++i) pixels[i] = pop_pixel(lanes[size_t(i)].stack, p_one[i]) ? 1.0f : 0.0f;
    });
    std::copy(x.data<float>(), x.data<float>() + n * P, out);
}

// The latent values of bucket indices: [m, 32]
Tensor centres_of(const std::vector<uint32_t>& idx, const LatentBuckets& b, int64_t m) {
    Tensor z = Tensor::empty({m, kLatent});
    float* zp = z.data<float>();
    for (size_t i = 0; i < idx.size(); ++i) zp[i] = float(b.centres[idx[i]]);
    return z;
}

void check_config(const BitsBackConfig& c) {
    if (c.latent_bits < 1 || c.latent_bits > 16)
        throw std::invalid_argument("bits-back: latent bits p must be in 1..16, got " + std::to_string(c.latent_bits));
    if (c.posterior_bits <= c.latent_bits || c.posterior_bits > 24)
        throw std::invalid_argument(fmt::format("bits-back: posterior precision must be in {}..24, got {}", c.latent_bits + 1,
                                                c.posterior_bits));
    if (c.lanes < 1 || c.lanes > 65535)
        throw std::invalid_argument("bits-back: lanes must be in 1..65535, got " + std::to_string(c.lanes));
    if (c.images_per_lane < 1)
        throw std::invalid_argument("bits-back: images per lane must be at least 1, got " + std::to_string(c.images_per_lane));
}

}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x * M_SQRT1_2); }

// Acklam's rational approximation (relative error 1.2e-9), then one Halley
// step on the CDF, which brings it to about machine precision.
double normal_quantile(double u) {
    if (!(u > 0 && u < 1)) throw std::invalid_argument("normal_quantile: u must be in (0, 1), got " + std::to_string(u));
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
    const double low = 0.02425;
    double x;
    if (u < low || u > 1 - low) {
        double q = std::sqrt(-2 * std::log(u < low ? u : 1 - u));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (u > 1 - low) x = -x;
    } else {
        double q = u - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = normal_cdf(x) - u, step = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
    return x - step / (1 + x * step / 2);
}

LatentBuckets::LatentBuckets(uint32_t b) : bits(b) {
    const uint32_t n = 1u << b;
    edges.resize(n + 1);
    centres.resize(n);
    edges[0] = -INFINITY;
    edges[n] = INFINITY;
    for (uint32_t i = 1; i < n; ++i) edges[i] = normal_quantile(double(i) / n);
    for (uint32_t i = 0; i < n; ++i) centres[i] = normal_quantile((double(i) + 0.5) / n);
}

VaeModel::VaeModel(const std::string& vae_path, Device dev) : vae(nullptr), device(dev) {
    vae = models::load_vae(vae_path, device, models::Decoders::Any, "bits-back coding");
    hash = fnv1a64(io::read_file(vae_path));
}

uint64_t images_checksum(const Tensor& bits) {
    std::vector<float> v = bits.to_floats();
    std::string bytes(v.size(), '\0');
    for (size_t i = 0; i < v.size(); ++i) bytes[i] = v[i] >= 0.5f ? 1 : 0;
    return fnv1a64(bytes);
}

std::string compress_bits_back(VaeModel& m, const Tensor& bits_in, InputKind kind, const BitsBackConfig& cfg,
                               Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    check_config(cfg);
    if (bits_in.dim() != 4 || bits_in.size(1) != 1 || bits_in.size(2) != 28 || bits_in.size(3) != 28 || bits_in.size(0) < 1)
        throw std::invalid_argument("compress: expected binary images [N, 1, 28, 28], got " + bits_in.shape_str());
    if (std::string e = kind_count_error(kind, bits_in.size(0)); !e.empty())
        throw std::invalid_argument("compress: " + e + " (the kind is written back on decompress)");
    Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    const int64_t N = bits.size(0), P = 28 * 28, L = lanes_for(cfg, N);
    const uint32_t p = cfg.latent_bits, prec = cfg.posterior_bits;
    const LatentBuckets buckets(p);
    const bool ar = m.vae->decoder.autoregressive();
    std::vector<AnsStack> lanes;
    for (int64_t l = 0; l < L; ++l) lanes.push_back(AnsStack::over_bottom(uint64_t(l)));
    Stats st;
    st.images = N;
    models::ProgressBar bar("compress (bits-back)", N);
    for (int64_t first = 0; first < N; first += L) {
        const int64_t n = std::min(L, N - first);
        Tensor x = bits.narrow(0, first, n).contiguous();
        Tensor q = posterior(m, x);  // [n, 64]
        const float* qp = q.data<float>();
        // 1. pop z under q(z|x): the bits back
        std::vector<uint32_t> idx(size_t(n * kLatent));
        for (int64_t i = 0; i < n; ++i)
            for (int64_t d = 0; d < kLatent; ++d) {
                const double mu = qp[i * 2 * kLatent + d], sigma = std::exp(0.5 * double(qp[i * 2 * kLatent + kLatent + d]));
                idx[size_t(i * kLatent + d)] = pop_posterior(lanes[size_t(i)], buckets, mu, sigma, prec);
            }
        // 2. push x under p(x|z); the autoregressive decoder's pixels go last
        // first, so that the decoder pops them in raster order
        const Tensor z = centres_of(idx, buckets, n);
        const Tensor probs = ar ? ar_pixel_probs(m, z, x) : pixel_probs(m, z);  // [n, 784]
        const float* pp = probs.data<float>();
        const float* xp = x.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            double recon = 0, kl = 0;
            for (int64_t k = 0; k < P; ++k) {
                const int64_t j = ar ? P - 1 - k : k;
                const bool one = xp[i * P + j] >= 0.5f;
                push_pixel(lanes[size_t(i)], pp[i * P + j], one);
                const double p1 = std::clamp(double(pp[i * P + j]), 1e-30, 1.0 - 1e-7);
                recon -= std::log2(one ? p1 : 1.0 - p1);
            }
            // 3. push z under the prior: every bucket has probability 2^-p
            for (int64_t d = 0; d < kLatent; ++d) lanes[size_t(i)].push(idx[size_t(i * kLatent + d)], 1, p);
            for (int64_t d = 0; d < kLatent; ++d) {
                const double mu = qp[i * 2 * kLatent + d], logvar = qp[i * 2 * kLatent + kLatent + d];
                kl += 0.5 * (mu * mu + std::exp(logvar) - 1 - logvar) / std::log(2.0);
            }
            st.ideal_bits += recon + kl;
        }
        bar.update(first + n, n);
    }
    bar.finish();
    std::string payload;
    double start_bits = 0;
    for (const AnsStack& s : lanes) {
        std::vector<uint32_t> w = s.words();
        put_varint(payload, s.depth());
        put_varint(payload, w.size());
        for (uint32_t v : w) put_le(payload, v, 4);
        start_bits += 64 + 32.0 * double(s.depth());  // the start head, and the bottom words taken
    }
    st.stored = cfg.store_if_larger && payload.size() >= size_t(N) * kRawBytesPerImage;
    if (st.stored) payload = pack_bits(bits.data<float>(), N);
    else st.lane_start_bits = start_bits;
    std::string out = "BBA";
    out.push_back(char(kBitsBackVersion));
    out.push_back(char(kind_flags(kind) | (st.stored ? kStoredFlag : 0)));
    put_le(out, uint64_t(N), 4);
    out.push_back(char(28));
    out.push_back(char(28));
    put_le(out, m.hash, 8);
    put_le(out, images_checksum(bits), 8);
    put_le(out, st.stored ? 0 : uint64_t(L), 2);
    out.push_back(char(p));
    out.push_back(char(prec));
    out.append(kSealBytes, '\0');
    out += payload;
    seal_file(out, kBitsBackHeaderBytes);
    st.bytes = out.size();
    st.seconds = seconds_since(t0);
    if (stats) *stats = st;
    return out;
}

namespace {

// Runs the encoder backwards on every lane, writing the images into `bits`
// ([N, 1, 28, 28]); every lane must end where its encoder started.
void decode_lanes(VaeModel& m, std::vector<LaneRecord> lanes, const BitsBackConfig& cfg, const std::string& name,
                  Tensor& bits) {
    const int64_t N = bits.size(0), P = 28 * 28, L = int64_t(lanes.size());
    const uint32_t p = cfg.latent_bits, prec = cfg.posterior_bits;
    const LatentBuckets buckets(p);
    float* out = bits.data<float>();
    models::ProgressBar bar("decompress (bits-back)", N);
    const int64_t steps = (N + L - 1) / L;
    try {
        for (int64_t t = steps - 1; t >= 0; --t) {  // the last images first: a stack
            const int64_t first = t * L, n = std::min(L, N - first);
            // 3. pop z under the prior
            std::vector<uint32_t> idx(size_t(n * kLatent));
            for (int64_t i = 0; i < n; ++i)
                for (int64_t dd = kLatent - 1; dd >= 0; --dd) {
                    AnsStack& s = lanes[size_t(i)].stack;
                    const uint32_t b = s.peek(p);
                    s.pop(b, 1, p);
                    idx[size_t(i * kLatent + dd)] = b;
                }
            // 2. pop x under p(x|z)
            const Tensor z = centres_of(idx, buckets, n);
            float* xp = out + first * P;
            if (m.vae->decoder.autoregressive()) {
                pop_ar_pixels(m, z, lanes, xp);
            } else {
                const Tensor probs = pixel_probs(m, z);
                const float* pp = probs.data<float>();
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t j = P - 1; j >= 0; --j)
                        xp[i * P + j] = pop_pixel(lanes[size_t(i)].stack, pp[i * P + j]) ? 1.0f : 0.0f;
            }
            // 1. push z back under q(z|x), recomputed from the decoded x
            Tensor q = posterior(m, bits.narrow(0, first, n).contiguous());
            const float* qp = q.data<float>();
            for (int64_t i = 0; i < n; ++i)
                for (int64_t dd = kLatent - 1; dd >= 0; --dd) {
                    const double mu = qp[i * 2 * kLatent + dd], sigma = std::exp(0.5 * double(qp[i * 2 * kLatent + kLatent + dd]));
                    push_posterior(lanes[size_t(i)].stack, buckets, mu, sigma, prec, idx[size_t(i * kLatent + dd)]);
                }
            bar.update(N - first, n);
        }
        bar.finish();
    } catch (const std::exception& e) {  // the coder's errors, with the file's name
        throw std::runtime_error(name + ": " + e.what() + " (corrupt data, or a machine that computes other floats)");
    }
    for (int64_t l = 0; l < L; ++l)
        if (!lanes[size_t(l)].stack.is_start_over(uint64_t(l), lanes[size_t(l)].depth))
            throw std::runtime_error(fmt::format("{}: lane {} does not end where its encoder started: the decode went wrong "
                                                 "(corrupt data, or a machine that computes other floats); no images written",
                                                 name, l));
}

}  // namespace

Decoded decompress_bits_back(VaeModel& m, const std::string& file, const std::string& name, Stats* stats) {
    const OneThread same_floats_as_the_other_side;
    auto t0 = std::chrono::steady_clock::now();
    check_sealed_file(file, name, {"BBA", "bits-back", kBitsBackVersion, kBitsBackHeaderBytes});
    // every byte below is as written (the checksum held); these checks catch a writer's bugs and forged files
    const uint8_t flags = uint8_t(file[4]);
    const int64_t N = int64_t(get_le(file, 5, 4)), H = uint8_t(file[9]), W = uint8_t(file[10]);
    const uint64_t hash = get_le(file, 11, 8), checksum = get_le(file, 19, 8);
    const int64_t L = int64_t(get_le(file, 27, 2));
    const uint32_t p = uint8_t(file[29]), prec = uint8_t(file[30]);
    const bool stored = flags & kStoredFlag;
    if (hash != m.hash)
        throw std::runtime_error(fmt::format("{}: compressed with another model (model hash {:016x}, this VAE gives {:016x}); "
                                             "decompress with the same --vae file",
                                             name, hash, m.hash));
    if (H != 28 || W != 28 || N <= 0 || (stored ? L != 0 : L < 1 || L > N))
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images of {}x{} in {} lanes{})", name, N, H, W, L,
                                             stored ? ", stored" : ""));
    if (flags & ~uint8_t(6 | kStoredFlag))
        throw std::runtime_error(fmt::format("{}: corrupt header (unknown flags {:#04x})", name, flags));
    const InputKind kind = kind_of_flags(flags, name);
    if (std::string e = kind_count_error(kind, N); !e.empty())
        throw std::runtime_error(fmt::format("{}: corrupt header: its kind and count disagree ({})", name, e));
    const uint64_t payload = file.size() - kBitsBackHeaderBytes;
    // an image costs hundreds of bits; a count far beyond the file's size is damage, not data
    if (stored ? payload != uint64_t(N) * kRawBytesPerImage : uint64_t(N) > 8 * uint64_t(file.size()))
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images claimed in {} bytes of {} data)", name, N, payload,
                                             stored ? "stored" : "coded"));
    Decoded d;
    d.lossless = true;
    d.kind = kind;
    d.bits = Tensor::empty({N, 1, H, W});
    if (stored) {
        unpack_bits(file, kBitsBackHeaderBytes, N, d.bits.data<float>());
    } else {
        BitsBackConfig cfg{p, prec, L};
        try {
            check_config(cfg);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(name + ": corrupt header (" + e.what() + ")");
        }
        decode_lanes(m, read_lanes(file, L, name), cfg, name, d.bits);
    }
    if (images_checksum(d.bits) != checksum)
        throw std::runtime_error(name + ": the decoded images do not match the images' checksum in the header (corrupt data, "
                                        "or a machine that computes other floats); no images written");
    if (stats) {
        stats->images = N;
        stats->bytes = file.size();
        stats->stored = stored;
        stats->seconds = seconds_since(t0);
    }
    return d;
}

}  // namespace vq::codec
