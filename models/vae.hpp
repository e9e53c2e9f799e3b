// The Gaussian VAE baseline (docs/design.md): latent z in R^32 with a standard
// normal prior, trained on -ELBO (one reparameterised sample, analytic KL);
// its test NLL is the importance-weighted estimate with k samples.
#pragma once

#include "models/blocks.hpp"

namespace vq::models {

class VAEEncoder : public EncoderTrunk {
public:
    explicit VAEEncoder(Generator& gen);
    // x: [B, 1, 28, 28] -> [B, 64]: mu = [:, :32], log-variance = [:, 32:]
    ag::Var forward(const ag::Var& x) const;
    nn::Linear fc;
};

class VAEDecoder : public DecoderTail {
public:
    VAEDecoder(Generator& gen, const DecoderConfig& config);
    // z: [B, 32], x: the images whose pixels' logits are asked for (read by
    // the autoregressive decoder only) -> logits [B, 1, 28, 28]
    ag::Var forward(const ag::Var& z, const Tensor& x) const;
    ag::Var latent_map(const ag::Var& z) const;  // z: [B, 32] -> [B, 128, 7, 7], what DecoderTail takes
    // z: [B, 32] -> the autoregressive decoder's pixels in raster order, chosen
    // by `choose` (DecoderTail::raster_scan): f32 [B, 1, 28, 28] on the CPU
    Tensor decode_raster(const Tensor& z, const AutoregressiveHead::PixelChooser& choose) const;
    nn::Linear fc;
};

class VAE : public nn::Module {
public:
    static constexpr int64_t kLatent = 32;
    explicit VAE(Generator& gen, const DecoderConfig& decoder = {});

    struct Output {
        ag::Var loss;   // -ELBO averaged over the batch
        ag::Var recon;  // mean per-image BCE sum
        ag::Var kl;     // mean per-image KL(q(z|x) || N(0, I))
    };
    Output forward(const Tensor& x, Generator& gen) const;
    // Per-image -ELBO with one sample: [B]
    Tensor negative_elbo(const Tensor& x, Generator& gen) const;
    // Per-image importance-weighted NLL estimate with k samples: [B]. At most
    // `chunk` decoder passes run at once, so memory stays bounded for k = 1000.
    Tensor iwae_nll(const Tensor& x, int64_t k, Generator& gen, int64_t chunk = 1024) const;

    VAEEncoder encoder;
    VAEDecoder decoder;
};

}  // namespace vq::models
