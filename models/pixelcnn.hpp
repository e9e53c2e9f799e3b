// The Gated PixelCNN prior over 7x7 maps of VQ-VAE codes (docs/design.md):
// K = 512, 64 channels, 10 gated layers with vertical and horizontal stacks.
// K follows the VQ-VAE the prior models; the width and depth are parameters
// (a larger prior is one lever of the density bound).
#pragma once

#include "nn/layers.hpp"

namespace vq::models {

// One gated layer. v = vert(x_v) cropped to the first H rows, h = horiz(x_h)
// cropped to the first W columns; x_v' = gate(v);
// x_h' = horiz_resid(gate(vert_to_horiz(v) + h)) (+ x_h when residual).
// Mask A (layer 0) zeroes the last kernel row of vert and the last kernel
// column of horiz, so a position never sees itself. An optional condition
// (the autoregressive decoder's features) is added inside both gates, as in
// the conditional Gated PixelCNN.
class GatedLayer : public nn::Module {
public:
    GatedLayer(int64_t channels, bool mask_a, bool residual, Generator& gen);
    // x_v, x_h: [B, C, H, W], condition: [B, 2C, H, W] or none -> (x_v', x_h') of the same shape
    std::pair<ag::Var, ag::Var> forward(const ag::Var& x_v, const ag::Var& x_h, const ag::Var& condition = ag::Var()) const;
    nn::Conv2d vert, vert_to_horiz, horiz, horiz_resid;
    bool mask_a, residual;

private:
    Tensor vert_mask_, horiz_mask_;
};

struct PixelCNNConfig {
    int64_t num_codes = 512, channels = 64, layers = 10;
};

class GatedPixelCNN : public nn::Module {
public:
    static constexpr int64_t kSide = 7;
    explicit GatedPixelCNN(Generator& gen, PixelCNNConfig config = {});
    // codes: i64 [B, 7, 7] -> logits [B, K, 7, 7]
    ag::Var forward(const Tensor& codes) const;
    // Mean cross-entropy in nats per latent.
    ag::Var loss(const Tensor& codes) const;
    // Per-image NLL of the 49 codes in nats: [B]
    Tensor nll_per_image(const Tensor& codes) const;
    // Ancestral sampling in raster order, batched over n maps. Positions
    // (r, c) with r < keep_rows are taken from `given` (inpainting).
    Tensor sample(int64_t n, double temperature, Generator& gen, Device device, const Tensor& given = Tensor(),
                  int64_t keep_rows = 0) const;

    PixelCNNConfig config;
    nn::Embedding embedding;
    std::vector<std::unique_ptr<GatedLayer>> layers;
    nn::Conv2d output;
};

}  // namespace vq::models
