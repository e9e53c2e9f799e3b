// The convolutional trunk shared by the VQ-VAE and the VAE (docs/design.md):
// the encoder's conv1..res2 and the decoder's res1..deconv2. Each model's
// encoder/decoder derives from these and adds its own head (proj, fc, conv1),
// so parameter names come out as `encoder.conv1.weight` with no extra level.
#pragma once

#include "models/ar_decoder.hpp"
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

// h: [B, 128, 7, 7] -> logits: [B, 1, 28, 28]. The plain decoder's deconv2
// gives the logits; the autoregressive one's gives `channels` feature maps
// that its masked head turns into each pixel's conditional logit.
class DecoderTail : public nn::Module {
public:
    explicit DecoderTail(Generator& gen, DecoderConfig config = {});
    // res1, res2, relu, deconv1, relu, deconv2: [B, 128, 7, 7] -> [B, F, 28, 28]
    // (F = 1, the logits, for the plain decoder)
    ag::Var upsample(const ag::Var& h) const;
    // The logits of x's pixels: x [B, 1, 28, 28] is the image whose
    // conditionals are asked for (the plain decoder ignores it).
    ag::Var logits(const ag::Var& h, const Tensor& x) const;
    // Binary images drawn from the decoder: f32 [B, 1, 28, 28]
    Tensor sample(const ag::Var& h, Generator& gen) const;
    // The autoregressive decoder only: its pixels in raster order
    // (AutoregressiveHead::raster_scan), for the codecs and greedy decoding.
    // h: [B, 128, 7, 7] -> binary f32 [B, 1, 28, 28] on the CPU
    Tensor raster_scan(const ag::Var& h, const AutoregressiveHead::PixelChooser& choose) const;
    bool autoregressive() const { return config.autoregressive; }

    DecoderConfig config;
    nn::ResBlock res1, res2;
    nn::ConvTranspose2d deconv1, deconv2;
    std::unique_ptr<AutoregressiveHead> head;  // only when autoregressive
};

// Reconstruction NLL of binary images: BCE-with-logits summed over pixels,
// per image. logits, x: [B, 1, H, W] -> [B]
ag::Var bernoulli_nll_per_image(const ag::Var& logits, const Tensor& x);

}  // namespace vq::models
