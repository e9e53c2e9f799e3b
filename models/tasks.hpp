// The TrainTask of each reference model.
#pragma once

#include <functional>
#include <memory>

#include "data/png.hpp"
#include "models/task.hpp"
#include "models/pixelcnn.hpp"
#include "models/vae.hpp"
#include "models/vqvae.hpp"

namespace vq::models {

// The test split under the deterministic binarization (seed 0), first `limit`
// images. The pixels stay bytes and each chunk is binarized when asked for:
// a float copy of the whole split would be 31 MB of the training process.
struct TestSet {
    TestSet(const std::string& dir, int64_t limit);
    // images first..first+n: f32 [n, 1, 28, 28] of 0/1, on the CPU
    Tensor bits(int64_t first, int64_t n) const;
    data::Dataset data;
    int64_t count;
};

// Backward of a part's loss scaled to its share of the batch mean (a whole
// batch, scale 1, runs the plain backward).
inline void backward_scaled(const ag::Var& loss, double scale) {
    if (scale == 1.0) loss.backward();
    else ag::mul(loss, scale).backward();
}

// The decoder a VQ-VAE or VAE run asked for (--decoder, --decoder-layers, --decoder-channels).
DecoderConfig decoder_config_for(const TrainOptions& o);

class VQVAETask : public TrainTask {
public:
    VQVAETask(const TrainOptions& o, Device device);
    nn::Module& model() override { return model_; }
    VQVAE& vqvae() { return model_; }
    double default_lr() const override { return 2e-4; }
    data::BatchSource train_batches(int64_t batch_size, uint64_t seed) override;
    Stats forward_backward(const Tensor& part, Generator& gen, double loss_scale) override;
    void reduce_step(distributed::Communicator& comm) override;
    void after_step(Generator& gen) override;
    Stats end_epoch() override;
    Stats evaluate(int64_t limit) override;
    void write_images(const std::string& out_dir) override;
    nn::StateDict extra_state() const override;
    void load_extra_state(const nn::StateDict& s, const std::string& source) override;

private:
    static VQVAEConfig config_for(const TrainOptions& o);
    const TestSet& test_set(int64_t limit);
    TrainOptions options_;
    Device device_;
    Generator init_gen_;
    VQVAE model_;
    std::unique_ptr<data::Dataset> train_;
    std::unique_ptr<TestSet> test_;
    // the current step: EMA statistics summed over its parts, their z_e rows,
    // and (after reduce_step) every rank's rows, the restart candidates
    Tensor step_stats_, step_candidates_;
    std::vector<Tensor> step_z_e_;
    std::vector<bool> used_this_epoch_;
    int64_t restarted_before_epoch_ = 0;
};

class VAETask : public TrainTask {
public:
    VAETask(const TrainOptions& o, Device device);
    nn::Module& model() override { return model_; }
    // 1e-3 beat 2e-4 by 11.6 nats at one epoch (docs/results/tune-2026-12-05)
    double default_lr() const override { return 1e-3; }
    data::BatchSource train_batches(int64_t batch_size, uint64_t seed) override;
    Stats forward_backward(const Tensor& part, Generator& gen, double loss_scale) override;
    Stats evaluate(int64_t limit) override;
    void write_images(const std::string& out_dir) override;

private:
    TrainOptions options_;
    Device device_;
    Generator init_gen_;
    VAE model_;
    std::unique_ptr<data::Dataset> train_;
    std::unique_ptr<TestSet> test_;
};

// Codes of a VQ-VAE for images 0..count-1, asked for in chunks from
// `bits_of(first, n)` (f32 [n, 1, 28, 28], in order): i64 [count, 7, 7].
using BitsSource = std::function<Tensor(int64_t first, int64_t n)>;
Tensor extract_codes(const VQVAE& vqvae, int64_t count, const BitsSource& bits_of, Device device, const std::string& label);

class PriorTask : public TrainTask {
public:
    PriorTask(const TrainOptions& o, Device device);
    nn::Module& model() override { return model_; }
    double default_lr() const override { return 3e-4; }
    data::BatchSource train_batches(int64_t batch_size, uint64_t seed) override;
    Stats forward_backward(const Tensor& part, Generator& gen, double loss_scale) override;
    Stats evaluate(int64_t limit) override;
    void write_images(const std::string& out_dir) override;

private:
    TrainOptions options_;
    Device device_;
    Generator init_gen_;
    VQVAE vqvae_;
    GatedPixelCNN model_;
    Tensor train_codes_, test_codes_;
    int64_t test_limit_ = 0;     // the limit test_codes_ were extracted for
    double test_recon_nll_ = 0;  // the VQ-VAE's recon NLL on those test images
};

// Binary images f32 [B, 1, H, W] as the pixel model's symbols, i64 [B, H, W].
Tensor pixels_as_symbols(const Tensor& bits);
// Exact test NLL of a pixel-level PixelCNN in nats per image.
double pixel_nll(const GatedPixelCNN& model, const TestSet& test, Device device);

// The Gated PixelCNN over the binary pixels themselves (train --model pixelcnn).
class PixelTask : public TrainTask {
public:
    PixelTask(const TrainOptions& o, Device device);
    nn::Module& model() override { return model_; }
    double default_lr() const override { return 1e-3; }
    data::BatchSource train_batches(int64_t batch_size, uint64_t seed) override;
    Stats forward_backward(const Tensor& part, Generator& gen, double loss_scale) override;
    Stats evaluate(int64_t limit) override;
    void write_images(const std::string& out_dir) override;

private:
    TrainOptions options_;
    Device device_;
    Generator init_gen_;
    GatedPixelCNN model_;
    std::unique_ptr<data::Dataset> train_;
    std::unique_ptr<TestSet> test_;
};

// Images decoded from codes, on the CPU: the plain decoder's pixel
// probabilities, or pixels drawn one by one by the autoregressive decoder.
Tensor decoded_images(const VQVAE& vqvae, const Tensor& codes, Device device, Generator& gen);
// Writes a PNG grid of decoded_images.
void write_decoded_grid(const VQVAE& vqvae, const Tensor& codes, Device device, Generator& gen, const std::string& path,
                        int64_t columns,
                        int64_t scale = data::kDefaultGridScale);

}  // namespace vq::models
