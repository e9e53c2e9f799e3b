#include "models/blocks.hpp"

#include <stdexcept>

namespace vq::models {

EncoderTrunk::EncoderTrunk(Generator& gen)
    : conv1(1, 64, 4, 2, 1, gen), conv2(64, 128, 4, 2, 1, gen), conv3(128, 128, 3, 1, 1, gen),
      res1(128, 32, gen), res2(128, 32, gen) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("conv3", conv3);
    register_module("res1", res1);
    register_module("res2", res2);
}

ag::Var EncoderTrunk::features(const ag::Var& x) const {
    ag::Var h = ag::relu(conv1.forward(x));     // [B, 64, 14, 14]
    h = ag::relu(conv2.forward(h));             // [B, 128, 7, 7]
    h = conv3.forward(h);                       // [B, 128, 7, 7]
    h = res2.forward(res1.forward(h));
    return ag::relu(h);
}

DecoderTail::DecoderTail(Generator& gen, DecoderConfig c)
    : config(check_config(c)), res1(128, 32, gen), res2(128, 32, gen), deconv1(128, 64, 4, 2, 1, gen),
      deconv2(64, c.autoregressive ? c.channels : 1, 4, 2, 1, gen) {
    register_module("res1", res1);
    register_module("res2", res2);
    register_module("deconv1", deconv1);
    register_module("deconv2", deconv2);
    if (c.autoregressive) {
        head = std::make_unique<AutoregressiveHead>(c.channels, c, gen);
        register_module("head", *head);
    }
}

ag::Var DecoderTail::upsample(const ag::Var& h) const {
    ag::Var y = ag::relu(res2.forward(res1.forward(h)));  // [B, 128, 7, 7]
    y = ag::relu(deconv1.forward(y));                     // [B, 64, 14, 14]
    return deconv2.forward(y);                            // [B, F, 28, 28]
}

ag::Var DecoderTail::logits(const ag::Var& h, const Tensor& x) const {
    ag::Var y = upsample(h);
    return head ? head->forward(y, x) : y;
}

Tensor DecoderTail::sample(const ag::Var& h, Generator& gen) const {
    ag::NoGradGuard no_grad;
    Tensor y = upsample(h).value();
    if (head) return head->sample(y, gen);
    Tensor u = rand_uniform(y.shape(), 0.0, 1.0, gen, DType::F32, y.device());
    return lt(u, sigmoid(y)).to(DType::F32);
}

Tensor DecoderTail::raster_scan(const ag::Var& h, const AutoregressiveHead::PixelChooser& choose) const {
    if (!head) throw std::logic_error("DecoderTail::raster_scan: the plain decoder's pixels are independent; use logits");
    ag::NoGradGuard no_grad;
    return head->raster_scan(upsample(h).value(), choose);
}

ag::Var bernoulli_nll_per_image(const ag::Var& logits, const Tensor& x) {
    ag::Var per_pixel = ag::bce_with_logits(logits, ag::Var(x), ag::Reduction::None);
    return ag::sum(ag::reshape(per_pixel, {logits.size(0), -1}), {1});
}

}  // namespace vq::models
