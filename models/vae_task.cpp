// Training the VAE baseline: -ELBO, test -ELBO, recon.png.
#include "data/png.hpp"
#include "models/tasks.hpp"

namespace vq::models {

VAETask::VAETask(const TrainOptions& o, Device device) : options_(o), device_(device), init_gen_(o.seed), model_(init_gen_, decoder_config_for(o)) {}

data::BatchSource VAETask::train_batches(int64_t batch_size, uint64_t seed) {
    if (!train_) train_ = std::make_unique<data::Dataset>(data::load_split(options_.data_dir, "train"));
    return data::image_batches(*train_, batch_size, seed);
}

Stats VAETask::forward_backward(const Tensor& part, Generator& gen, double loss_scale) {
    VAE::Output out = model_.forward(part, gen);
    backward_scaled(out.loss, loss_scale);
    return {{"loss", out.loss.value().item()}, {"recon", out.recon.value().item()}, {"kl", out.kl.value().item()}};
}

Stats VAETask::evaluate(int64_t limit) {
    if (!test_ || test_->count != std::min(limit, test_->data.count)) test_ = std::make_unique<TestSet>(options_.data_dir, limit);
    Generator gen(data::mix_seed(options_.seed, 0xE7A1));
    double total = 0;
    for (int64_t first = 0; first < test_->count; first += kEvalChunk) {
        int64_t n = std::min<int64_t>(kEvalChunk, test_->count - first);
        total += sum(model_.negative_elbo(test_->bits(first, n).to(device_), gen)).item();
    }
    return {{"elbo_nll", total / double(test_->count)}};
}

void VAETask::write_images(const std::string& out_dir) {
    if (!test_) return;
    int64_t n = std::min<int64_t>(8, test_->count);
    Tensor x = test_->bits(0, n);
    Tensor probs;
    {
        ag::NoGradGuard no_grad;
        Tensor stats = model_.encoder.forward(ag::Var(x.to(device_))).value();
        Tensor mu = stats.narrow(1, 0, VAE::kLatent).contiguous();
        if (model_.decoder.autoregressive()) {  // teacher-forced conditionals would show the input back
            Generator gen(data::mix_seed(options_.seed, 0x5A3));
            probs = model_.decoder.sample(model_.decoder.latent_map(ag::Var(mu)), gen).to(Device::cpu());
        } else {
            probs = sigmoid(model_.decoder.forward(ag::Var(mu), Tensor()).value()).to(Device::cpu());
        }
    }
    Tensor grid = Tensor::empty({2 * n, 1, 28, 28});
    grid.narrow(0, 0, n).copy_from(x);
    grid.narrow(0, n, n).copy_from(probs);
    data::write_png_grid(out_dir + "/recon.png", grid, n, data::kDefaultGridScale);
}

}  // namespace vq::models
