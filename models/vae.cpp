#include "models/vae.hpp"

#include <cmath>
#include <numbers>

namespace vq::models {

VAEEncoder::VAEEncoder(Generator& gen) : EncoderTrunk(gen), fc(128 * 7 * 7, 2 * VAE::kLatent, gen) {
    register_module("fc", fc);
}

ag::Var VAEEncoder::forward(const ag::Var& x) const {
    ag::Var h = features(x);                                  // [B, 128, 7, 7]
    return fc.forward(ag::reshape(h, {h.size(0), -1}));       // flatten C, H, W -> [B, 64]
}

VAEDecoder::VAEDecoder(Generator& gen, const DecoderConfig& config) : DecoderTail(gen, config), fc(VAE::kLatent, 128 * 7 * 7, gen) {
    register_module("fc", fc);
}

ag::Var VAEDecoder::latent_map(const ag::Var& z) const { return ag::reshape(fc.forward(z), {z.size(0), 128, 7, 7}); }

ag::Var VAEDecoder::forward(const ag::Var& z, const Tensor& x) const {
    return logits(latent_map(z), x);
}

Tensor VAEDecoder::decode_raster(const Tensor& z, const AutoregressiveHead::PixelChooser& choose) const {
    ag::NoGradGuard no_grad;
    return raster_scan(latent_map(ag::Var(z)), choose);
}

VAE::VAE(Generator& gen, const DecoderConfig& config) : encoder(gen), decoder(gen, config) {
    register_module("encoder", encoder);
    register_module("decoder", decoder);
}

VAE::Output VAE::forward(const Tensor& x, Generator& gen) const {
    const int64_t B = x.size(0);
    ag::Var stats = encoder.forward(ag::Var(x));
    ag::Var mu = ag::narrow(stats, 1, 0, kLatent), logvar = ag::narrow(stats, 1, kLatent, kLatent);
    // reparameterisation: z = mu + exp(logvar / 2) * eps
    Tensor eps = rand_normal({B, kLatent}, 0.0, 1.0, gen, x.dtype(), x.device());
    ag::Var z = ag::add(mu, ag::mul(ag::exp(ag::mul(logvar, 0.5)), ag::Var(eps)));
    Output out;
    out.recon = ag::mean(bernoulli_nll_per_image(decoder.forward(z, x), x));
    // KL(N(mu, s^2) || N(0, 1)) = 0.5 sum(mu^2 + s^2 - 1 - log s^2)
    ag::Var kl_terms = ag::sub(ag::add(ag::square(mu), ag::exp(logvar)), ag::add(logvar, 1.0));
    out.kl = ag::mul(ag::sum(kl_terms), 0.5 / double(B));
    out.loss = ag::add(out.recon, out.kl);
    return out;
}

Tensor VAE::negative_elbo(const Tensor& x, Generator& gen) const {
    ag::NoGradGuard no_grad;
    const int64_t B = x.size(0);
    Tensor stats = encoder.forward(ag::Var(x)).value();
    Tensor mu = stats.narrow(1, 0, kLatent), logvar = stats.narrow(1, kLatent, kLatent);
    Tensor eps = rand_normal({B, kLatent}, 0.0, 1.0, gen, x.dtype(), x.device());
    Tensor z = add(mu, mul(exp(mul(logvar, 0.5)), eps));
    Tensor recon = bernoulli_nll_per_image(decoder.forward(ag::Var(z), x), x).value();
    Tensor kl = mul(sum(sub(add(square(mu), exp(logvar)), add(logvar, 1.0)), {1}), 0.5);
    return add(recon, kl);
}

// log w = log p(x|z) + log p(z) - log q(z|x); NLL = -(logsumexp_k log w - log k)
Tensor VAE::iwae_nll(const Tensor& x, int64_t k, Generator& gen, int64_t chunk) const {
    ag::NoGradGuard no_grad;
    if (k < 1) throw std::invalid_argument("iwae: k must be at least 1, got " + std::to_string(k));
    const int64_t B = x.size(0);
    const double log2pi = std::log(2.0 * std::numbers::pi);
    Tensor stats = encoder.forward(ag::Var(x)).value();
    Tensor mu = stats.narrow(1, 0, kLatent).contiguous(), logvar = stats.narrow(1, kLatent, kLatent).contiguous();
    Tensor sigma = exp(mul(logvar, 0.5));
    // log q's constant part per image: -0.5 sum(logvar + log 2 pi)
    Tensor log_q_const = mul(sum(add(logvar, log2pi), {1}), -0.5);  // [B]
    // the autoregressive decoder holds about 1 MB per image per 16 channels of
    // each layer's activations: fewer passes at once keep memory bounded
    if (decoder.autoregressive()) chunk = std::min<int64_t>(chunk, 256);
    const int64_t per_chunk = std::max<int64_t>(1, chunk / std::max<int64_t>(B, 1));
    std::vector<Tensor> log_w_parts;
    for (int64_t done = 0; done < k; done += per_chunk) {
        int64_t c = std::min(per_chunk, k - done);
        Tensor eps = rand_normal({c, B, kLatent}, 0.0, 1.0, gen, x.dtype(), x.device());
        Tensor z = add(mu, mul(sigma, eps));                                          // [c, B, 32]
        Tensor log_pz = mul(sum(add(square(z), log2pi), {2}), -0.5);                 // [c, B]
        Tensor log_qz = add(mul(sum(square(eps), {2}), -0.5), log_q_const);           // [c, B]
        Tensor xs = x.unsqueeze(0).expand({c, B, 1, 28, 28}).contiguous().reshape({c * B, 1, 28, 28});
        Tensor logits = decoder.forward(ag::Var(z.reshape({c * B, kLatent})), xs).value();
        Tensor log_px = neg(bernoulli_nll_per_image(ag::Var(logits), xs).value()).reshape({c, B});
        log_w_parts.push_back(sub(add(log_px, log_pz), log_qz));
    }
    Tensor log_w = cat(log_w_parts, 0);  // [k, B]
    return neg(sub(logsumexp(log_w, {0}), std::log(double(k))));
}

}  // namespace vq::models
