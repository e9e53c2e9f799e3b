#include "models/pixelcnn.hpp"

#include "models/pixelcnn_incremental.hpp"

#include <cmath>

namespace vq::models {

namespace {

// gate(a) = tanh(a[:, :C]) * sigmoid(a[:, C:]) over channel halves, fused
ag::Var gate(const ag::Var& a) { return ag::gated_tanh(a); }

}  // namespace

GatedLayer::GatedLayer(int64_t C, bool mask_a_, bool residual_, Generator& gen)
    : vert(C, 2 * C, 2, 3, Conv2dParams{1, 1, 1, 1}, gen),
      vert_to_horiz(2 * C, 2 * C, 1, 1, Conv2dParams{}, gen),
      horiz(C, 2 * C, 1, 2, Conv2dParams{1, 1, 0, 1}, gen),
      horiz_resid(C, C, 1, 1, Conv2dParams{}, gen),
      mask_a(mask_a_),
      residual(residual_) {
    register_module("vert", vert);
    register_module("vert_to_horiz", vert_to_horiz);
    register_module("horiz", horiz);
    register_module("horiz_resid", horiz_resid);
    if (mask_a) {
        vert_mask_ = Tensor::ones({1, 1, 2, 3});
        Tensor last_row = vert_mask_.select(2, 1);
        fill_(last_row, 0.0);
        horiz_mask_ = Tensor::ones({1, 1, 1, 2});
        Tensor last_col = horiz_mask_.select(3, 1);
        fill_(last_col, 0.0);
    }
}

std::pair<ag::Var, ag::Var> GatedLayer::forward(const ag::Var& x_v, const ag::Var& x_h, const ag::Var& condition) const {
    const int64_t H = x_v.size(2), W = x_v.size(3);
    ag::Var wv = vert.weight, wh = horiz.weight;
    if (mask_a) {  // the stored weights stay unmasked; the mask applies on use
        wv = ag::mul(wv, ag::Var(vert_mask_.to(wv.device())));
        wh = ag::mul(wh, ag::Var(horiz_mask_.to(wh.device())));
    }
    ag::Var v = ag::narrow(ag::conv2d(x_v, wv, vert.bias, vert.params), 2, 0, H);   // [B, 2C, H, W]
    ag::Var h = ag::narrow(ag::conv2d(x_h, wh, horiz.bias, horiz.params), 3, 0, W); // [B, 2C, H, W]
    if (condition.defined()) {
        v = ag::add(v, condition);
        h = ag::add(h, condition);
    }
    ag::Var v_out = gate(v);
    ag::Var h_out = horiz_resid.forward(gate(ag::add(vert_to_horiz.forward(v), h)));
    if (residual) h_out = ag::add(h_out, x_h);
    return {v_out, h_out};
}

namespace {
PixelCNNConfig checked(const PixelCNNConfig& c) {
    if (c.num_codes < 2 || c.num_codes > 65536)
        throw std::invalid_argument("GatedPixelCNN: the number of codes must be in 2..65536, got " + std::to_string(c.num_codes));
    if (c.channels < 1 || c.channels > 4096)
        throw std::invalid_argument("GatedPixelCNN: channels must be in 1..4096, got " + std::to_string(c.channels));
    if (c.layers < 1 || c.layers > 64)
        throw std::invalid_argument("GatedPixelCNN: layers must be in 1..64, got " + std::to_string(c.layers));
    return c;
}
}  // namespace

GatedPixelCNN::GatedPixelCNN(Generator& gen, PixelCNNConfig c)
    : config(checked(c)), embedding(c.num_codes, c.channels, gen), output(c.channels, c.num_codes, 1, 1, Conv2dParams{}, gen) {
    register_module("embedding", embedding);
    for (int64_t i = 0; i < c.layers; ++i) layers.push_back(std::make_unique<GatedLayer>(c.channels, i == 0, i > 0, gen));
    // registered under "layers.{i}" to match docs/design.md's names
    for (int64_t i = 0; i < c.layers; ++i) register_module("layers." + std::to_string(i), *layers[size_t(i)]);
    register_module("output", output);
}

ag::Var GatedPixelCNN::forward(const Tensor& codes) const {
    if (codes.dim() != 3 || codes.dtype() != DType::I64)
        throw std::invalid_argument("GatedPixelCNN: expected i64 codes [B, H, W], got " + codes.shape_str() + " " +
                                    dtype_name(codes.dtype()));
    ag::Var x = ag::contiguous(ag::permute(embedding.forward(codes), {0, 3, 1, 2}));  // [B, C, H, W]
    ag::Var x_v = x, x_h = x;
    for (const auto& layer : layers) std::tie(x_v, x_h) = layer->forward(x_v, x_h);
    return output.forward(x_h);  // [B, K, H, W]
}

ag::Var GatedPixelCNN::loss(const Tensor& codes) const { return ag::cross_entropy(forward(codes), codes); }

Tensor GatedPixelCNN::nll_per_image(const Tensor& codes) const {
    ag::NoGradGuard no_grad;
    Tensor per = ag::cross_entropy(forward(codes), codes, ag::Reduction::None).value();  // [B, H, W]
    return sum(per, {1, 2});
}

// One position at a time through the incremental network (all n maps
// together), not a full forward per position: 49 times less work at 7x7.
Tensor GatedPixelCNN::sample(int64_t n, double temperature, Generator& gen, Device /*device: the model's own*/,
                             const Tensor& given, int64_t keep_rows) const {
    return sample_raster(*this, n, kSide, temperature, gen, given, keep_rows);
}

}  // namespace vq::models
