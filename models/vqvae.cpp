#include "models/vqvae.hpp"
#include "models/codebook_ema.hpp"

#include <cmath>

namespace vq::models {

VQVAEConfig check_config(const VQVAEConfig& c) {
    if (c.num_codes < 2 || c.num_codes > kMaxCodes)
        throw std::invalid_argument("VQ-VAE: the number of codes must be in 2.." + std::to_string(kMaxCodes) + ", got " +
                                    std::to_string(c.num_codes));
    if (c.code_dim < 1 || c.code_dim > 1024)
        throw std::invalid_argument("VQ-VAE: the code dimension must be in 1..1024, got " + std::to_string(c.code_dim));
    if (!(c.beta >= 0)) throw std::invalid_argument("VQ-VAE: the commitment weight must be >= 0, got " + std::to_string(c.beta));
    check_config(c.decoder);
    return c;
}

VQEncoder::VQEncoder(Generator& gen, int64_t code_dim) : EncoderTrunk(gen), proj(128, code_dim, 1, 1, 0, gen) {
    register_module("proj", proj);
}

VQDecoder::VQDecoder(Generator& gen, int64_t code_dim, const DecoderConfig& config)
    : DecoderTail(gen, config), conv1(code_dim, 128, 3, 1, 1, gen) {
    register_module("conv1", conv1);
}

VectorQuantizer::VectorQuantizer(const VQVAEConfig& c, Generator& gen) : config(c) {
    double bound = 1.0 / double(c.num_codes);
    codebook = register_parameter("codebook", rand_uniform({c.num_codes, c.code_dim}, -bound, bound, gen),
                                  c.codebook == CodebookMode::Grad);
    ema_count = Tensor::zeros({c.num_codes});
    ema_sum = codebook.value().clone();
    usage = Tensor::zeros({c.num_codes});
}

// z: [N, D], codebook e: [K, D] -> argmin_k ||z||^2 - 2 z.e_k + ||e_k||^2 : i64 [N]
Tensor VectorQuantizer::nearest(const Tensor& z) const {
    const Tensor& e = codebook.value();
    Tensor e_sq = sum(square(e), {1}).reshape({1, -1});            // [1, K]
    Tensor z_sq = sum(square(z), {1}, true);                       // [N, 1]
    // [N, K] from the one GEMM, made the distance in place: one buffer of
    // N*K floats (12.8 MB at batch 128) instead of four, and the same
    // roundings as (z_sq - 2 z.e) + e_sq
    Tensor dist = matmul(z, e.t());
    mul_(dist, -2.0);
    add_(dist, z_sq);
    add_(dist, e_sq);
    return argmin(dist, 1);
}

// codes: [B, h, w] -> [B, D, h, w]
Tensor VectorQuantizer::lookup(const Tensor& codes) const {
    Shape s = codes.shape();
    Tensor flat = index_select(codebook.value(), 0, codes.reshape({-1}));  // [B*h*w, D]
    return flat.reshape({s[0], s[1], s[2], config.code_dim}).permute({0, 3, 1, 2}).contiguous();
}

Tensor perplexity_of(const Tensor& codes, int64_t num_codes) {
    Tensor flat = codes.reshape({-1});
    Tensor counts = index_add({num_codes}, 0, flat, Tensor::ones({flat.numel()}, DType::F32, flat.device()));
    Tensor p = div(counts, double(std::max<int64_t>(flat.numel(), 1)));
    // p log p with 0 log 0 = 0: log(p + tiny) is finite and multiplied by 0
    Tensor entropy = neg(sum(mul(p, log(add(p, 1e-30)))));
    return exp(entropy);
}

double Quantized::perplexity() const { return perplexity_of(codes, num_codes).item(); }

Quantized VectorQuantizer::quantize(const ag::Var& z_e) const {
    const Tensor& ze = z_e.value();  // [B, D, h, w]
    int64_t B = ze.size(0), h = ze.size(2), w = ze.size(3), D = config.code_dim;
    if (ze.size(1) != D)
        throw std::invalid_argument(shape_error("quantize", "z_e must have code_dim channels", ze.shape(), codebook.shape()));
    Quantized q;
    q.z_e_flat = ze.permute({0, 2, 3, 1}).contiguous().reshape({-1, D});  // [B*h*w, D]
    Tensor codes_flat = nearest(q.z_e_flat);
    q.codes = codes_flat.reshape({B, h, w});
    Tensor zq = lookup(q.codes);
    // straight-through: the decoder sees z_q, the encoder receives its gradient
    q.z_st = ag::add(z_e, ag::stop_gradient(sub(zq, ze)));  // z_e + sg(z_q - z_e)
    q.commitment = ag::mul(ag::sum(ag::square(ag::sub(z_e, ag::stop_gradient(zq)))), config.beta / double(B));
    if (config.codebook == CodebookMode::Grad) {
        ag::Var zq_var = ag::permute(ag::reshape(ag::embedding(codebook, codes_flat), {B, h, w, D}), {0, 3, 1, 2});
        q.codebook_loss = ag::mul(ag::sum(ag::square(ag::sub(ag::stop_gradient(ze), zq_var))), 1.0 / double(B));
    }
    q.num_codes = config.num_codes;
    return q;
}

void VectorQuantizer::ema_update(const Tensor& z_e_flat, const Tensor& codes, Generator& gen) {
    apply_ema(batch_statistics(z_e_flat, codes), z_e_flat, gen);
}

// z_e_flat: [N, D], codes: [N] -> [K, D+1]
Tensor VectorQuantizer::batch_statistics(const Tensor& z_e_flat, const Tensor& codes) const {
    const int64_t K = config.num_codes, D = config.code_dim;
    const Device dev = codebook.device();
    Tensor flat_codes = codes.reshape({-1});
    Tensor z = z_e_flat.to(dev);
    // counts and sums in one scatter-add: z gets a column of ones, [N, D+1] -> [K, D+1]
    Tensor z_ones = Tensor::empty({z.size(0), D + 1}, z.dtype(), dev);
    z_ones.narrow(1, 0, D).copy_from(z);
    Tensor ones_col = z_ones.narrow(1, D, 1);
    fill_(ones_col, 1.0);
    return index_add({K, D + 1}, 0, flat_codes, z_ones);  // [K, D+1]: s_k | n_k
}

// stats: [K, D+1], candidates: [M, D]
void VectorQuantizer::apply_ema(const Tensor& both, const Tensor& candidates, Generator& gen) {
    const int64_t K = config.num_codes;
    const double d = config.decay, eps = config.epsilon;
    const Device dev = codebook.device();  // the EMA state follows the codebook to its device
    if (ema_count.device() != dev) {
        ema_count = ema_count.to(dev);
        ema_sum = ema_sum.to(dev);
        usage = usage.to(dev);
    }
    // N = 0.99 N + 0.01 n, m = 0.99 m + 0.01 s, e = m / Laplace-smoothed N (fused)
    Tensor e = codebook_ema_(ema_count, ema_sum, usage, both, d, eps);
    if (++ema_steps % config.restart_every == 0) {
        // dead-code restart: codes unused since the last check jump to random encoder outputs of this batch
        std::vector<int64_t> dead;
        std::vector<double> u = usage.to_vector();
        for (int64_t k = 0; k < K; ++k)
            if (u[size_t(k)] == 0) dead.push_back(k);
        codes_restarted += int64_t(dead.size());
        if (!dead.empty()) {
            Tensor e_host = e.to(Device::cpu()).contiguous(), m_host = ema_sum.to(Device::cpu()).contiguous();
            Tensor n_host = ema_count.to(Device::cpu()).contiguous();
            Tensor z_host = candidates.to(Device::cpu()).contiguous();
            for (int64_t k : dead) {
                int64_t r = gen.randint(z_host.size(0));
                e_host.select(0, k).copy_from(z_host.select(0, r));
                m_host.select(0, k).copy_from(z_host.select(0, r));
                n_host.data<float>()[k] = 1.0f;
            }
            e = e_host.to(e.device());
            ema_sum = m_host.to(ema_sum.device());
            ema_count = n_host.to(ema_count.device());
        }
        fill_(usage, 0.0);
    }
    codebook.assign(e);
}

int64_t VectorQuantizer::codes_used_since_restart() const {
    int64_t used = 0;
    for (double u : usage.to_vector()) used += u > 0;
    return used;
}

VQVAE::VQVAE(Generator& gen, VQVAEConfig c)
    : config(check_config(c)), encoder(gen, c.code_dim), quantizer(c, gen), decoder(gen, c.code_dim, c.decoder) {
    register_module("encoder", encoder);
    register_module("quantizer", quantizer);
    register_module("decoder", decoder);
}

VQVAE::Output VQVAE::forward(const Tensor& x) const {
    if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != 28 || x.size(3) != 28)
        throw std::invalid_argument("VQVAE: expected images [B, 1, 28, 28], got " + x.shape_str());
    Output out;
    ag::Var z_e = encoder.forward(ag::Var(x));
    out.q = quantizer.quantize(z_e);
    out.logits = decoder.forward(out.q.z_st, x);
    out.recon = ag::mean(bernoulli_nll_per_image(out.logits, x));
    out.loss = ag::add(out.recon, out.q.commitment);
    if (out.q.codebook_loss.defined()) out.loss = ag::add(out.loss, out.q.codebook_loss);
    return out;
}

Tensor VQVAE::encode(const Tensor& x) const {
    ag::NoGradGuard no_grad;
    Tensor ze = encoder.forward(ag::Var(x)).value();
    Tensor flat = ze.permute({0, 2, 3, 1}).contiguous().reshape({-1, config.code_dim});
    return quantizer.nearest(flat).reshape({ze.size(0), ze.size(2), ze.size(3)});
}

Tensor VQVAE::decode_logits(const Tensor& codes) const {
    if (decoder.autoregressive())
        throw std::logic_error("VQVAE::decode_logits: the autoregressive decoder's logits depend on the image; use decode_sample");
    ag::NoGradGuard no_grad;
    return decoder.forward(ag::Var(quantizer.lookup(codes)), Tensor()).value();
}

Tensor VQVAE::decode_sample(const Tensor& codes, Generator& gen) const {
    ag::NoGradGuard no_grad;
    return decoder.sample(decoder.conv1.forward(ag::Var(quantizer.lookup(codes))), gen);
}

Tensor VQVAE::decode_raster(const Tensor& codes, const AutoregressiveHead::PixelChooser& choose) const {
    ag::NoGradGuard no_grad;
    return decoder.raster_scan(decoder.conv1.forward(ag::Var(quantizer.lookup(codes))), choose);
}

}  // namespace vq::models
