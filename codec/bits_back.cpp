#include "codec/bits_back.hpp"

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

// The words a lane starts from: enough for the first image's pops (32 p
// bits at most) above a 64-bit head, pseudo-random so the first latents are
// spread like samples. Fixed by the lane and p, so the decoder can check
// that it ends where the encoder began.
std::vector<uint32_t> seed_words(int64_t lane, uint32_t p) {
    uint64_t x = 0x5EEDB175ull + uint64_t(lane) * 0x9E3779B97F4A7C15ull;
    std::vector<uint32_t> w(size_t(p) + 3);
    for (uint32_t& v : w) {
        x += 0x9E3779B97F4A7C15ull;  // splitmix64
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        v = uint32_t((z ^ (z >> 31)) >> 32);
    }
    w.back() |= 0x80000000u;  // the head's high word: non-zero
    return w;
}

// q(z|x) of a batch on the host: [m, 64] (mu | log-variance)
Tensor posterior(VaeModel& m, const Tensor& x) {
    ag::NoGradGuard no_grad;
    return m.vae->encoder.forward(ag::Var(x.to(m.device))).value().to(Device::cpu()).contiguous();
}

// p(x|z) of a batch of latents on the host: [m, 784]
Tensor pixel_probs(VaeModel& m, const Tensor& z) {
    ag::NoGradGuard no_grad;
    Tensor logits = m.vae->decoder.forward(ag::Var(z.to(m.device))).value();
    return sigmoid(logits).to(Device::cpu()).contiguous().reshape({z.size(0), -1});
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
    Generator init(0);
    vae = std::make_unique<models::VAE>(init);
    models::load_model_file(*vae, vae_path, "vae");
    vae->to(device);
    hash = fnv1a64(nn::read_file(vae_path));
}

uint64_t images_checksum(const Tensor& bits) {
    std::vector<float> v = bits.to_floats();
    std::string bytes(v.size(), '\0');
    for (size_t i = 0; i < v.size(); ++i) bytes[i] = v[i] >= 0.5f ? 1 : 0;
    return fnv1a64(bytes);
}

std::string compress_bits_back(VaeModel& m, const Tensor& bits_in, InputKind kind, const BitsBackConfig& cfg,
                               Stats* stats) {
    auto t0 = std::chrono::steady_clock::now();
    check_config(cfg);
    if (bits_in.dim() != 4 || bits_in.size(1) != 1 || bits_in.size(2) != 28 || bits_in.size(3) != 28 || bits_in.size(0) < 1)
        throw std::invalid_argument("compress: expected binary images [N, 1, 28, 28], got " + bits_in.shape_str());
    Tensor bits = bits_in.to(Device::cpu()).to(DType::F32).contiguous();
    const int64_t N = bits.size(0), P = 28 * 28, L = std::min(cfg.lanes, N);
    const uint32_t p = cfg.latent_bits, prec = cfg.posterior_bits;
    const LatentBuckets buckets(p);
    std::vector<AnsStack> lanes;
    for (int64_t l = 0; l < L; ++l) lanes.emplace_back(seed_words(l, p));
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
        // 2. push x under p(x|z)
        Tensor probs = pixel_probs(m, centres_of(idx, buckets, n));  // [n, 784]
        const float* pp = probs.data<float>();
        const float* xp = x.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            double recon = 0, kl = 0;
            for (int64_t j = 0; j < P; ++j) {
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
    std::string out = "BBA";
    out.push_back(char(kBitsBackVersion));
    out.push_back(char(kind_flags(kind)));
    put_le(out, uint64_t(N), 4);
    out.push_back(char(28));
    out.push_back(char(28));
    put_le(out, m.hash, 8);
    put_le(out, images_checksum(bits), 8);
    put_le(out, uint64_t(L), 2);
    out.push_back(char(p));
    out.push_back(char(prec));
    for (const AnsStack& s : lanes) {
        std::vector<uint32_t> w = s.words();
        put_le(out, w.size(), 4);
        for (uint32_t v : w) put_le(out, v, 4);
    }
    st.bytes = out.size();
    st.seconds = seconds_since(t0);
    if (stats) *stats = st;
    return out;
}

Decoded decompress_bits_back(VaeModel& m, const std::string& file, const std::string& name, Stats* stats) {
    auto t0 = std::chrono::steady_clock::now();
    if (file.size() < kBitsBackHeaderBytes || file.compare(0, 3, "BBA") != 0)
        throw std::runtime_error(name + ": not a bits-back file (bad magic or shorter than its " +
                                 std::to_string(kBitsBackHeaderBytes) + "-byte header)");
    if (uint8_t(file[3]) != kBitsBackVersion)
        throw std::runtime_error(fmt::format("{}: bits-back format version {} is not supported (this build reads version {})",
                                             name, int(uint8_t(file[3])), int(kBitsBackVersion)));
    const uint8_t flags = uint8_t(file[4]);
    const int64_t N = int64_t(get_le(file, 5, 4)), H = uint8_t(file[9]), W = uint8_t(file[10]);
    const uint64_t hash = get_le(file, 11, 8), checksum = get_le(file, 19, 8);
    const int64_t L = int64_t(get_le(file, 27, 2));
    const uint32_t p = uint8_t(file[29]), prec = uint8_t(file[30]);
    if (hash != m.hash)
        throw std::runtime_error(fmt::format("{}: compressed with another model (model hash {:016x}, this VAE gives {:016x}); "
                                             "decompress with the same --vae file",
                                             name, hash, m.hash));
    BitsBackConfig cfg{p, prec, L};
    if (H != 28 || W != 28 || N <= 0 || L < 1 || L > N)
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images of {}x{} in {} lanes)", name, N, H, W, L));
    // an image costs hundreds of bits; a count far beyond the file's size is damage, not data
    if (uint64_t(N) > 8 * uint64_t(file.size()))
        throw std::runtime_error(fmt::format("{}: corrupt header ({} images claimed in {} bytes)", name, N, file.size()));
    try {
        check_config(cfg);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(name + ": corrupt header (" + e.what() + ")");
    }
    // the lanes' stacks
    std::vector<AnsStack> lanes;
    size_t at = kBitsBackHeaderBytes;
    for (int64_t l = 0; l < L; ++l) {
        if (at + 4 > file.size()) throw std::runtime_error(name + ": truncated (lane " + std::to_string(l) + " is missing)");
        const uint64_t count = get_le(file, at, 4);
        at += 4;
        if (count < 2 || count > (file.size() - at) / 4)
            throw std::runtime_error(fmt::format("{}: truncated or corrupt (lane {} claims {} words)", name, l, count));
        std::vector<uint32_t> w(count);
        for (uint64_t k = 0; k < count; ++k, at += 4) w[k] = uint32_t(get_le(file, at, 4));
        try {
            lanes.emplace_back(w);
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(name + ": lane " + std::to_string(l) + ": " + e.what());
        }
    }
    if (at != file.size()) throw std::runtime_error(fmt::format("{}: {} bytes after the last lane (corrupt data)", name, file.size() - at));

    const int64_t P = H * W;
    const LatentBuckets buckets(p);
    Decoded d;
    d.lossless = true;
    d.kind = kind_of_flags(flags, name);
    d.bits = Tensor::empty({N, 1, H, W});
    float* out = d.bits.data<float>();
    models::ProgressBar bar("decompress (bits-back)", N);
    const int64_t steps = (N + L - 1) / L;
    try {
        for (int64_t t = steps - 1; t >= 0; --t) {  // the last images first: a stack
            const int64_t first = t * L, n = std::min(L, N - first);
            // 3. pop z under the prior
            std::vector<uint32_t> idx(size_t(n * kLatent));
            for (int64_t i = 0; i < n; ++i)
                for (int64_t dd = kLatent - 1; dd >= 0; --dd) {
                    AnsStack& s = lanes[size_t(i)];
                    const uint32_t b = s.peek(p);
                    s.pop(b, 1, p);
                    idx[size_t(i * kLatent + dd)] = b;
                }
            // 2. pop x under p(x|z)
            Tensor probs = pixel_probs(m, centres_of(idx, buckets, n));
            const float* pp = probs.data<float>();
            float* xp = out + first * P;
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = P - 1; j >= 0; --j) xp[i * P + j] = pop_pixel(lanes[size_t(i)], pp[i * P + j]) ? 1.0f : 0.0f;
            // 1. push z back under q(z|x), recomputed from the decoded x
            Tensor q = posterior(m, d.bits.narrow(0, first, n).contiguous());
            const float* qp = q.data<float>();
            for (int64_t i = 0; i < n; ++i)
                for (int64_t dd = kLatent - 1; dd >= 0; --dd) {
                    const double mu = qp[i * 2 * kLatent + dd], sigma = std::exp(0.5 * double(qp[i * 2 * kLatent + kLatent + dd]));
                    push_posterior(lanes[size_t(i)], buckets, mu, sigma, prec, idx[size_t(i * kLatent + dd)]);
                }
            bar.update(N - first, n);
        }
        bar.finish();
    } catch (const std::exception& e) {  // the coder's errors, with the file's name
        throw std::runtime_error(name + ": " + e.what() + " (corrupt data, or a machine that computes other floats)");
    }
    for (int64_t l = 0; l < L; ++l)
        if (lanes[size_t(l)].words() != seed_words(l, p))
            throw std::runtime_error(fmt::format("{}: lane {} does not end at its initial words: the decode went wrong "
                                                 "(corrupt data, or a machine that computes other floats); no images written",
                                                 name, l));
    if (images_checksum(d.bits) != checksum)
        throw std::runtime_error(name + ": the decoded images do not match the file's checksum (corrupt data, or a machine "
                                        "that computes other floats); no images written");
    if (stats) {
        stats->images = N;
        stats->bytes = file.size();
        stats->seconds = seconds_since(t0);
    }
    return d;
}

}  // namespace vq::codec
