// The autoregressive decoder of the latent models, as in PixelVAE (Gulrajani
// et al. 2017; docs/design.md): a few masked gated layers over the pixels,
// conditioned on the decoder's upsampled 28x28 feature map. The codes or the
// latent carry the global shape; the masked layers carry the local
// correlations between neighbouring pixels that a factorized Bernoulli
// cannot. Pixel i's logit sees the features (a function of the latent only)
// and the image's pixels before i in raster order, never pixel i itself, so
// the sum of the conditionals is still an exact log-likelihood.
#pragma once

#include <functional>

#include "models/pixelcnn.hpp"

namespace vq::models {

// The masked stack's bounds (train's flags check against the same ones).
inline constexpr int64_t kMaxDecoderLayers = 16, kMaxDecoderChannels = 256;

// The decoder's last stage (--decoder plain | pixelcnn).
struct DecoderConfig {
    bool autoregressive = false;
    int64_t layers = 3, channels = 32;  // the masked stack, when autoregressive
};
// Throws std::invalid_argument naming the field out of range; returns c.
DecoderConfig check_config(const DecoderConfig& c);

class AutoregressiveHead : public nn::Module {
public:
    // features: the channels of the map it is conditioned on
    AutoregressiveHead(int64_t features, const DecoderConfig& config, Generator& gen);
    // features: [B, F, 28, 28] (from the latent), x: binary [B, 1, 28, 28]
    // -> logits [B, 1, 28, 28]; logit (r, c) sees x only before (r, c)
    ag::Var forward(const ag::Var& features, const Tensor& x) const;
    // What depends on the latent only, computed once for all pixels:
    // features -> (every layer's gate bias [B, L * 2C, H, W], the skip
    // path's logits [B, 1, H, W])
    std::pair<ag::Var, ag::Var> from_features(const ag::Var& features) const;
    // The pixels of B images in raster order, all B at each position,
    // through the incremental masked stack (models/pixelcnn_incremental.hpp):
    // choose(pos, p_one, pixels) reads each image's probability that pixel
    // pos is 1 and writes its value, 0 or 1 -- a sample, the pixel an
    // encoder codes, or the one a decoder decodes -- and the stack moves on
    // with it. Both sides of a codec compute the same floats this way.
    // features: [B, F, S, S] (any device) -> binary f32 [B, 1, S, S] on the CPU
    using PixelChooser = std::function<void(int64_t pos, const float* p_one, float* pixels)>;
    Tensor raster_scan(const Tensor& features, const PixelChooser& choose) const;
    // Ancestral sampling in raster order through raster_scan, one
    // gen.uniform() per image and pixel, position-major.
    // features: [B, F, 28, 28] -> binary f32 [B, 1, 28, 28]
    Tensor sample(const Tensor& features, Generator& gen) const;

    DecoderConfig config;
    nn::Conv2d input;      // x -> [B, C, H, W]: a pixel's two values as two learned vectors
    nn::Conv2d condition;  // features -> [B, layers * 2C, H, W]: every layer's gate bias in one product
    std::vector<std::unique_ptr<GatedLayer>> layers;
    nn::Conv2d output;     // x_h -> one logit per pixel
    nn::Conv2d skip;       // features -> one logit per pixel, the plain decoder's path
};

}  // namespace vq::models
