#include "models/repair.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "models/pixelcnn_incremental.hpp"

namespace vq::models {

namespace {

constexpr int64_t kSide = 7, kPatch = 4, kImage = 28;

// log softmax of one row of K logits
std::vector<double> log_softmax(const float* row, int64_t K) {
    double mx = row[0];
    for (int64_t k = 1; k < K; ++k) mx = std::max(mx, double(row[k]));
    double z = 0;
    for (int64_t k = 0; k < K; ++k) z += std::exp(double(row[k]) - mx);
    std::vector<double> out(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) out[size_t(k)] = double(row[k]) - mx - std::log(z);
    return out;
}

}  // namespace

// mask: [N, 1, 28, 28] -> [N, 7, 7]
Tensor undamaged_codes(const Tensor& mask) {
    if (mask.dim() != 4 || mask.size(1) != 1 || mask.size(2) != kImage || mask.size(3) != kImage)
        throw std::invalid_argument("repair: the mask must be [N, 1, 28, 28], got " + mask.shape_str());
    // a patch is damaged when its 4x4 maximum is 1
    Tensor patches = mask.to(Device::cpu()).contiguous().reshape({mask.size(0), kSide, kPatch, kSide, kPatch});
    Tensor damaged = max(patches, {2, 4});                         // [N, 7, 7]
    return sub(Tensor::ones(damaged.shape(), damaged.dtype()), gt(damaged, 0.5));
}

Repaired repair_images(const VQVAE& vqvae, const GatedPixelCNN& prior, const Tensor& images_in, const Tensor& mask_in,
                       int64_t candidates, double temperature, Generator& gen, Device device) {
    if (candidates < 1) throw std::invalid_argument("repair: -n must be at least 1, got " + std::to_string(candidates));
    if (temperature <= 0) throw std::invalid_argument("repair: the temperature must be positive");
    ag::NoGradGuard no_grad;
    const Tensor images = images_in.to(Device::cpu()).to(DType::F32).contiguous();
    Tensor mask = mask_in.to(Device::cpu()).to(DType::F32).contiguous();
    if (mask.size(0) == 1 && images.size(0) > 1) mask = mask.expand(images.shape()).contiguous();
    if (images.shape() != mask.shape())
        throw std::invalid_argument("repair: images " + images.shape_str() + " and mask " + mask.shape_str() + " differ");
    const int64_t N = images.size(0), M = N * candidates, K = prior.config.num_codes;
    const Tensor known = sub(Tensor::ones(mask.shape()), mask);     // 1 where the pixel is undamaged
    const Tensor keep = undamaged_codes(mask);                        // [N, 7, 7]
    // the damaged pixels blanked, then the codes of what is left
    const Tensor given = vqvae.encode(mul(images, known).to(device)).to(Device::cpu()).contiguous();  // [N, 7, 7]

    // every candidate: kept codes copied, the others drawn in raster order
    Tensor codes = Tensor::empty({M, kSide, kSide}, DType::I64);
    std::vector<double> prior_ll(static_cast<size_t>(M), 0.0);
    IncrementalPixelCNN inc(prior, M);
    const int64_t* g = given.data<int64_t>();
    const float* kp = keep.data<float>();
    int64_t* out = codes.data<int64_t>();
    for (int64_t r = 0; r < kSide; ++r)
        for (int64_t c = 0; c < kSide; ++c) {
            const int64_t pos = r * kSide + c;
            Tensor logits = inc.logits(r, c).to(Device::cpu()).contiguous();  // [M, K]
            const float* lp = logits.data<float>();
            for (int64_t m = 0; m < M; ++m) {
                const int64_t n = m / candidates;
                std::vector<double> lsm = log_softmax(lp + m * K, K);
                int64_t code = g[n * kSide * kSide + pos];
                if (kp[n * kSide * kSide + pos] < 0.5) {
                    // draw from softmax(logits / T)
                    std::vector<double> tempered(static_cast<size_t>(K));
                    double mx = -INFINITY, z = 0;
                    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, lsm[size_t(k)] / temperature);
                    for (int64_t k = 0; k < K; ++k) z += tempered[size_t(k)] = std::exp(lsm[size_t(k)] / temperature - mx);
                    double u = gen.uniform() * z, acc = 0;
                    for (code = 0; code < K - 1; ++code) {
                        acc += tempered[size_t(code)];
                        if (u < acc) break;
                    }
                }
                out[m * kSide * kSide + pos] = code;
                prior_ll[size_t(m)] += lsm[size_t(code)];
            }
            inc.set(r, c, codes.select(2, c).select(1, r).contiguous());
        }

    // score each candidate: log p(undamaged pixels | codes) + log p(codes)
    Tensor logits = vqvae.decode_logits(codes.to(device)).to(Device::cpu()).contiguous();  // [M, 1, 28, 28]
    Tensor x = images.reshape({N, 1, 1, kImage, kImage}).expand({N, candidates, 1, kImage, kImage}).reshape(logits.shape());
    Tensor w = known.reshape({N, 1, 1, kImage, kImage}).expand({N, candidates, 1, kImage, kImage}).reshape(logits.shape());
    // log p(x | z) per pixel = -(softplus(l) - x l)
    Tensor pixel_ll = neg(sub(softplus(logits), mul(x, logits)));
    std::vector<double> decoder_ll = sum(mul(pixel_ll, w), {1, 2, 3}).to_vector();  // [M]

    Repaired res;
    res.codes = Tensor::empty({N, kSide, kSide}, DType::I64);
    res.probs = Tensor::empty({N, 1, kImage, kImage});
    for (int64_t n = 0; n < N; ++n) {
        int64_t best = n * candidates;
        for (int64_t m = n * candidates; m < (n + 1) * candidates; ++m)
            if (decoder_ll[size_t(m)] + prior_ll[size_t(m)] > decoder_ll[size_t(best)] + prior_ll[size_t(best)]) best = m;
        res.codes.select(0, n).copy_from(codes.select(0, best));
        res.probs.select(0, n).copy_from(sigmoid(logits.select(0, best)));
    }
    // the known pixels as they were; the damaged ones from the decoder
    res.bits = add(mul(images, known), mul(gt(res.probs, 0.5), mask));
    return res;
}

Tensor add_flip_noise(const Tensor& images, double p, Generator& gen) {
    if (!(p >= 0 && p <= 1)) throw std::invalid_argument("--noise must be a probability in [0, 1], got " + std::to_string(p));
    Tensor x = images.to(Device::cpu()).to(DType::F32).contiguous().clone();
    float* px = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i)
        if (gen.uniform() < p) px[i] = px[i] >= 0.5f ? 0.0f : 1.0f;
    return x;
}

Tensor denoise_images(const VQVAE& vqvae, const Tensor& images, Device device, double flip_p) {
    ag::NoGradGuard no_grad;
    Tensor y = images.to(DType::F32).to(Device::cpu()).contiguous();
    Tensor logits = vqvae.decode_logits(vqvae.encode(y.to(device))).to(Device::cpu());
    if (flip_p <= 0) return gt(logits, 0.0);  // sigmoid(l) > 1/2
    if (flip_p >= 0.5) throw std::invalid_argument("denoise: a flip probability of 1/2 or more leaves nothing to use");
    // log-odds of clean = 1: the decoder's logit plus the observation's evidence
    const double evidence = std::log((1 - flip_p) / flip_p);
    return gt(add(logits, mul(sub(mul(y, 2.0), 1.0), evidence)), 0.0);
}

Tensor mean_image(const data::Dataset& d) {
    const int64_t pixels = d.height * d.width;
    std::vector<double> mean(static_cast<size_t>(pixels), 0.0);
    for (int64_t i = 0; i < d.count; ++i)
        for (int64_t p = 0; p < pixels; ++p) mean[size_t(p)] += d.pixels[size_t(i * pixels + p)] / 255.0;
    for (double& v : mean) v /= double(std::max<int64_t>(d.count, 1));
    return Tensor::from_vector(mean, {1, 1, d.height, d.width}).to(DType::F32);
}

Tensor random_square_masks(int64_t n, int64_t w, Generator& gen) {
    if (w < 1 || w > kImage) throw std::invalid_argument("--random-holes must be in 1..28, got " + std::to_string(w));
    Tensor mask = Tensor::zeros({n, 1, kImage, kImage});
    for (int64_t i = 0; i < n; ++i) {
        const int64_t x = gen.randint(kImage - w + 1), y = gen.randint(kImage - w + 1);
        Tensor hole = mask.select(0, i).select(0, 0).narrow(0, y, w).narrow(1, x, w);
        fill_(hole, 1.0);
    }
    return mask;
}

Tensor rectangle_mask(int64_t x, int64_t y, int64_t w, int64_t h) {
    // each bound alone first, so that x + w cannot overflow whatever the user typed
    if (x < 0 || y < 0 || x >= kImage || y >= kImage || w < 1 || h < 1 || w > kImage - x || h > kImage - y)
        throw std::invalid_argument("--mask " + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(w) + "," +
                                    std::to_string(h) + ": the rectangle x,y,w,h must lie inside the 28x28 image");
    Tensor mask = Tensor::zeros({1, 1, kImage, kImage});
    Tensor hole = mask.select(0, 0).select(0, 0).narrow(0, y, h).narrow(1, x, w);
    fill_(hole, 1.0);
    return mask;
}

}  // namespace vq::models
