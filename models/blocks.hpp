// The convolutional trunk shared by the VQ-VAE and the VAE (docs/design.md):
// the encoder's conv1..res2 and the decoder's res1..deconv2. Each model's
// encoder/decoder derives from these and adds its own head (proj, fc, conv1),
// so parameter names come out as `encoder.conv1.weight` with no extra level.
#pragma once

#include "nn/layers.hpp"

namespace vq::models {

// x: [B, 1, 28, 28] -> h: [B, 128, 7, 7]
class EncoderTrunk : public nn::Module {
public:
    explicit EncoderTrunk(Generator& gen);
    ag::Var features(const ag::Var& x) const;  // conv1, relu, conv2, relu, conv3, res1, res2, relu
    nn::Conv2d conv1, conv2, conv3;
    nn::ResBlock res1, res2;
};

// h: [B, 128, 7, 7] -> logits: [B, 1, 28, 28]
class DecoderTail : public nn::Module {
public:
    explicit DecoderTail(Generator& gen);
    ag::Var logits(const ag::Var& h) const;  // res1, res2, relu, deconv1, relu, deconv2
    nn::ResBlock res1, res2;
    nn::ConvTranspose2d deconv1, deconv2;
};

// Reconstruction NLL of binary images: BCE-with-logits summed over pixels,
// per image. logits, x: [B, 1, H, W] -> [B]
ag::Var bernoulli_nll_per_image(const ag::Var& logits, const Tensor& x);

}  // namespace vq::models
