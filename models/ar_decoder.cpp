#include "models/ar_decoder.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "models/pixelcnn_incremental.hpp"

namespace vq::models {

DecoderConfig check_config(const DecoderConfig& c) {
    if (c.autoregressive && (c.layers < 1 || c.layers > kMaxDecoderLayers))
        throw std::invalid_argument("decoder: --decoder-layers must be in 1.." + std::to_string(kMaxDecoderLayers) + ", got " +
                                    std::to_string(c.layers));
    if (c.autoregressive && (c.channels < 1 || c.channels > kMaxDecoderChannels))
        throw std::invalid_argument("decoder: --decoder-channels must be in 1.." + std::to_string(kMaxDecoderChannels) +
                                    ", got " + std::to_string(c.channels));
    return c;
}

AutoregressiveHead::AutoregressiveHead(int64_t F, const DecoderConfig& c, Generator& gen)
    : config(check_config(c)),
      input(1, c.channels, 1, 1, Conv2dParams{}, gen),
      condition(F, c.layers * 2 * c.channels, 1, 1, Conv2dParams{}, gen),
      output(c.channels, 1, 1, 1, Conv2dParams{}, gen),
      skip(F, 1, 1, 1, Conv2dParams{}, gen) {
    register_module("input", input);
    register_module("condition", condition);
    for (int64_t i = 0; i < c.layers; ++i) {
        layers.push_back(std::make_unique<GatedLayer>(c.channels, i == 0, i > 0, gen));
        register_module("layers." + std::to_string(i), *layers.back());
    }
    register_module("output", output);
    register_module("skip", skip);
}

// features: [B, F, H, W], x: [B, 1, H, W] -> logits [B, 1, H, W]
ag::Var AutoregressiveHead::forward(const ag::Var& features, const Tensor& x) const {
    if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != features.size(2) || x.size(3) != features.size(3) ||
        x.size(0) != features.size(0))
        throw std::invalid_argument("autoregressive decoder: expected images [" + std::to_string(features.size(0)) + ", 1, " +
                                    std::to_string(features.size(2)) + ", " + std::to_string(features.size(3)) + "], got " +
                                    x.shape_str());
    auto [gate_bias, skip_logits] = from_features(features);
    const int64_t C2 = 2 * config.channels;
    ag::Var h = input.forward(ag::Var(x));  // [B, C, H, W]
    ag::Var x_v = h, x_h = h;
    for (size_t i = 0; i < layers.size(); ++i)
        std::tie(x_v, x_h) = layers[i]->forward(x_v, x_h, ag::narrow(gate_bias, 1, int64_t(i) * C2, C2));
    return ag::add(output.forward(x_h), skip_logits);
}

// features: [B, F, H, W] -> ([B, L * 2C, H, W], [B, 1, H, W])
std::pair<ag::Var, ag::Var> AutoregressiveHead::from_features(const ag::Var& features) const {
    return {condition.forward(features), skip.forward(features)};
}

// features: [B, F, S, S] -> binary f32 [B, 1, S, S]
Tensor AutoregressiveHead::raster_scan(const Tensor& features, const PixelChooser& choose) const {
    ag::NoGradGuard no_grad;
    auto [gate_bias, skip_logits] = from_features(ag::Var(features));
    IncrementalPixelCNN stack(*this, gate_bias.value(), skip_logits.value());
    const int64_t B = features.size(0), S = stack.side();
    Tensor x = Tensor::zeros({B, 1, S, S});
    float* xp = x.data<float>();
    std::vector<float> p_one(size_t(B), 0.0f), pixels(size_t(B), 0.0f);
    Tensor symbols = Tensor::empty({B}, DType::I64);
    int64_t* sp = symbols.data<int64_t>();
    for (int64_t r = 0; r < S; ++r)
        for (int64_t c = 0; c < S; ++c) {
            const int64_t pos = r * S + c;
            const Tensor logits = stack.logits(r, c).to(Device::cpu()).contiguous();  // [B, 1]
            const float* lp = logits.data<float>();
            for (int64_t i = 0; i < B; ++i) p_one[size_t(i)] = float(1.0 / (1.0 + std::exp(-double(lp[i]))));
            choose(pos, p_one.data(), pixels.data());
            for (int64_t i = 0; i < B; ++i) {
                const bool one = pixels[size_t(i)] >= 0.5f;
                xp[i * S * S + pos] = one ? 1.0f : 0.0f;
                sp[i] = one ? 1 : 0;
            }
            stack.set(r, c, symbols);
        }
    return x;
}

Tensor AutoregressiveHead::sample(const Tensor& features, Generator& gen) const {
    return raster_scan(features, [&](int64_t, const float* p_one, float* pixels) {
               for (int64_t i = 0; i < features.size(0); ++i) pixels[i] = gen.uniform() < double(p_one[i]) ? 1.0f : 0.0f;
           })
        .to(features.device());
}

}  // namespace vq::models
