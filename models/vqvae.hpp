// The reference VQ-VAE (docs/design.md): encoder -> vector quantizer -> decoder,
// K = 512 codes of D = 64, commitment beta = 0.25, codebook learned by EMA
// with dead-code restart (or, for comparison, by the optimizer). K, D and
// beta are parameters: the codebook size sets how many bits the 49 codes can
// carry, which is the rate side of the density bound (README, rate-distortion).
#pragma once

#include "models/blocks.hpp"

namespace vq::models {

enum class CodebookMode { Ema, Grad };

// The largest codebook the tools accept (the codec's frequency tables and the
// prior's output layer grow with K).
inline constexpr int64_t kMaxCodes = 4096;

struct VQVAEConfig {
    int64_t num_codes = 512, code_dim = 64;
    double beta = 0.25, decay = 0.99, epsilon = 1e-5;
    int64_t restart_every = 50;
    CodebookMode codebook = CodebookMode::Ema;
    DecoderConfig decoder;  // plain, or autoregressive over the pixels
};
// Throws std::invalid_argument naming the field out of range; returns c.
VQVAEConfig check_config(const VQVAEConfig& c);

class VQEncoder : public EncoderTrunk {
public:
    VQEncoder(Generator& gen, int64_t code_dim);
    ag::Var forward(const ag::Var& x) const { return proj.forward(features(x)); }  // -> z_e [B, D, 7, 7]
    nn::Conv2d proj;
};

class VQDecoder : public DecoderTail {
public:
    VQDecoder(Generator& gen, int64_t code_dim, const DecoderConfig& config);
    // z_q: [B, D, 7, 7], x: the images whose pixels' logits are asked for
    // (read by the autoregressive decoder only) -> logits [B, 1, 28, 28]
    ag::Var forward(const ag::Var& z, const Tensor& x) const { return logits(conv1.forward(z), x); }
    nn::Conv2d conv1;
};

struct Quantized {
    ag::Var z_st;       // z_e + sg(z_q - z_e): forward value z_q, gradient to z_e   [B, D, h, w]
    Tensor codes;       // i64 [B, h, w]
    Tensor z_e_flat;    // [B*h*w, D], the encoder outputs that chose `codes`
    ag::Var commitment; // beta * sum ||z_e - sg(z_q)||^2 / B
    ag::Var codebook_loss;  // sum ||sg(z_e) - z_q||^2 / B (grad mode only)
    int64_t num_codes = 0;
    // exp(-sum p log p) of this batch's code histogram; computed on request,
    // so a step that does not report it pays nothing
    double perplexity() const;
};

class VectorQuantizer : public nn::Module {
public:
    VectorQuantizer(const VQVAEConfig& config, Generator& gen);
    // z_e: [B, D, h, w]
    Quantized quantize(const ag::Var& z_e) const;
    // Nearest code per row by ||z||^2 - 2 z.e + ||e||^2 with one GEMM. z: [N, D] -> i64 [N]
    Tensor nearest(const Tensor& z_flat) const;
    // codes: i64 [B, h, w] -> z_q: [B, D, h, w]
    Tensor lookup(const Tensor& codes) const;
    // The EMA codebook update and dead-code restart, after the optimizer step,
    // from one batch: apply_ema(batch_statistics(z_e_flat, codes), z_e_flat, gen).
    void ema_update(const Tensor& z_e_flat, const Tensor& codes, Generator& gen);
    // The two halves, for a batch split over micro-batches or ranks. z_e_flat:
    // [N, D], codes: [N] -> [K, D+1]: per code, the sum of its z_e (first D
    // columns) and how many chose it (the last). Sums of these over the parts
    // of a batch are the whole batch's.
    Tensor batch_statistics(const Tensor& z_e_flat, const Tensor& codes) const;
    // stats: [K, D+1] summed over the batch; candidates: [M, D], the batch's
    // z_e rows that dead codes restart from (gathered in a fixed order, so
    // that every rank picks the same ones with the same generator).
    void apply_ema(const Tensor& stats, const Tensor& candidates, Generator& gen);
    int64_t codes_used_since_restart() const;

    ag::Var codebook;  // [K, D]
    // EMA state (training state, not part of the model file)
    Tensor ema_count;  // N [K]
    Tensor ema_sum;    // m [K, D]
    Tensor usage;      // assignments per code since the last restart check [K]
    int64_t ema_steps = 0;
    int64_t codes_restarted = 0;  // by dead-code restarts, since construction (a health metric)
    VQVAEConfig config;
};

class VQVAE : public nn::Module {
public:
    explicit VQVAE(Generator& gen, VQVAEConfig config = {});

    struct Output {
        ag::Var logits;      // [B, 1, 28, 28]
        ag::Var recon;       // mean over the batch of the per-image BCE sum
        ag::Var loss;        // recon + commitment (+ codebook loss in grad mode)
        Quantized q;
    };
    Output forward(const Tensor& x) const;  // x: binary [B, 1, 28, 28]
    Tensor encode(const Tensor& x) const;           // -> codes i64 [B, 7, 7]
    // codes -> logits [B, 1, 28, 28]; the plain decoder only (the
    // autoregressive one's depend on the image: std::logic_error)
    Tensor decode_logits(const Tensor& codes) const;
    // codes -> binary images drawn from the decoder, f32 [B, 1, 28, 28]
    Tensor decode_sample(const Tensor& codes, Generator& gen) const;
    // codes -> the autoregressive decoder's pixels in raster order, chosen
    // by `choose` (DecoderTail::raster_scan): f32 [B, 1, 28, 28] on the CPU
    Tensor decode_raster(const Tensor& codes, const AutoregressiveHead::PixelChooser& choose) const;

    VQVAEConfig config;
    VQEncoder encoder;
    VectorQuantizer quantizer;
    VQDecoder decoder;
};

// exp(-sum p log p) of the code histogram, computed where the codes live: 0-dim.
Tensor perplexity_of(const Tensor& codes, int64_t num_codes);

}  // namespace vq::models
