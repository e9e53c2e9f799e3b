// Training the VQ-VAE: loss, EMA codebook step, test reconstruction NLL,
// code usage and recon.png.
#include "models/tasks.hpp"

#include "data/binarize.hpp"
#include "data/png.hpp"

namespace vq::models {

TestSet::TestSet(const std::string& dir, int64_t limit) : data(data::load_split(dir, "t10k")) {
    count = limit > 0 ? std::min(limit, data.count) : data.count;
}

Tensor TestSet::bits(int64_t first, int64_t n) const {
    if (first < 0 || n < 0 || first + n > count)
        throw std::out_of_range("TestSet::bits: images " + std::to_string(first) + ".." + std::to_string(first + n) +
                                " of a set of " + std::to_string(count));
    const int64_t hw = data.height * data.width;
    return data::binarize_deterministic(data.pixels.data() + first * hw, first, n, data.height, data.width, 0);
}

VQVAETask::VQVAETask(const TrainOptions& o, Device device)
    : options_(o), device_(device), init_gen_(o.seed), model_(init_gen_, config_for(o)),
      used_this_epoch_(size_t(model_.config.num_codes), false) {}

DecoderConfig decoder_config_for(const TrainOptions& o) {
    if (o.decoder != "plain" && o.decoder != "pixelcnn")
        throw std::invalid_argument("--decoder must be 'plain' or 'pixelcnn', got '" + o.decoder + "'");
    return check_config(DecoderConfig{o.decoder == "pixelcnn", o.decoder_layers, o.decoder_channels});
}

VQVAEConfig VQVAETask::config_for(const TrainOptions& o) {
    VQVAEConfig c;
    c.decoder = decoder_config_for(o);
    c.num_codes = o.codes;
    c.code_dim = o.code_dim;
    c.beta = o.beta;
    if (o.codebook == "grad") c.codebook = CodebookMode::Grad;
    else if (o.codebook != "ema") throw std::invalid_argument("--codebook must be 'ema' or 'grad', got '" + o.codebook + "'");
    return c;
}

data::BatchSource VQVAETask::train_batches(int64_t batch_size, uint64_t seed) {
    if (!train_) train_ = std::make_unique<data::Dataset>(data::load_split(options_.data_dir, "train"));
    return data::image_batches(*train_, batch_size, seed);
}

Stats VQVAETask::forward_backward(const Tensor& part, Generator&, double loss_scale) {
    VQVAE::Output out = model_.forward(part);
    backward_scaled(out.loss, loss_scale);
    // this part's EMA statistics, summed in part order with the step's others
    Tensor stats = model_.quantizer.batch_statistics(out.q.z_e_flat, out.q.codes);
    if (step_stats_.defined()) add_(step_stats_, stats);
    else step_stats_ = stats;
    step_z_e_.push_back(out.q.z_e_flat);
    Stats s = {{"loss", out.loss.value().item()},
               {"recon", out.recon.value().item()},
               {"commitment", out.q.commitment.value().item()},
               {"perplexity", out.q.perplexity()}};
    if (out.q.codebook_loss.defined()) s.push_back({"codebook", out.q.codebook_loss.value().item()});
    return s;
}

void VQVAETask::reduce_step(distributed::Communicator& comm) {
    comm.all_reduce_sum(step_stats_);
    step_candidates_ = comm.all_gather(cat(step_z_e_, 0));
    step_z_e_.clear();
}

void VQVAETask::after_step(Generator& gen) {
    // codes used this epoch, over the whole batch of every rank
    std::vector<double> stats = step_stats_.to(Device::cpu()).narrow(1, model_.config.code_dim, 1).contiguous().to_vector();
    for (size_t k = 0; k < stats.size(); ++k)
        if (stats[k] > 0) used_this_epoch_[k] = true;
    if (model_.config.codebook == CodebookMode::Ema) model_.quantizer.apply_ema(step_stats_, step_candidates_, gen);
    step_stats_ = Tensor();
    step_candidates_ = Tensor();
}

Stats VQVAETask::end_epoch() {
    int64_t used = 0;
    for (bool u : used_this_epoch_) used += u;
    std::fill(used_this_epoch_.begin(), used_this_epoch_.end(), false);
    const int64_t restarted = model_.quantizer.codes_restarted - restarted_before_epoch_;
    restarted_before_epoch_ = model_.quantizer.codes_restarted;
    return {{"used_codes", double(used)}, {"restarted_codes", double(restarted)}};
}

const TestSet& VQVAETask::test_set(int64_t limit) {
    if (!test_ || test_->count != std::min(limit, test_->data.count)) test_ = std::make_unique<TestSet>(options_.data_dir, limit);
    return *test_;
}

Stats VQVAETask::evaluate(int64_t limit) {
    const TestSet& t = test_set(limit);
    ag::NoGradGuard no_grad;
    double nll = 0;
    std::vector<Tensor> codes;
    for (int64_t first = 0; first < t.count; first += kEvalChunk) {
        int64_t n = std::min<int64_t>(kEvalChunk, t.count - first);
        Tensor x = t.bits(first, n).to(device_);
        VQVAE::Output out = model_.forward(x);
        nll += out.recon.value().item() * double(n);
        codes.push_back(out.q.codes.reshape({-1}).to(Device::cpu()));
    }
    std::vector<bool> used(size_t(model_.config.num_codes), false);
    std::vector<int64_t> all;
    for (const Tensor& c : codes)
        for (int64_t k : c.to_ints()) used[size_t(k)] = true, all.push_back(k);
    int64_t n_used = 0;
    for (bool u : used) n_used += u;
    double ppl = perplexity_of(Tensor::from_vector(all, {int64_t(all.size())}), model_.config.num_codes).item();
    return {{"recon_nll", nll / double(t.count)}, {"used_codes", double(n_used)}, {"perplexity", ppl}};
}

void VQVAETask::write_images(const std::string& out_dir) {
    const TestSet& t = test_set(options_.eval_limit);
    int64_t n = std::min<int64_t>(8, t.count);
    Tensor x = t.bits(0, n);
    Tensor probs;
    {
        ag::NoGradGuard no_grad;
        if (model_.decoder.autoregressive()) {  // teacher-forced conditionals would show the input back
            Generator gen(data::mix_seed(options_.seed, 0x5A3));
            probs = model_.decode_sample(model_.encode(x.to(device_)), gen).to(Device::cpu());
        } else {
            probs = sigmoid(model_.forward(x.to(device_)).logits.value()).to(Device::cpu());
        }
    }
    Tensor grid = Tensor::empty({2 * n, 1, 28, 28});
    grid.narrow(0, 0, n).copy_from(x);
    grid.narrow(0, n, n).copy_from(probs);
    data::write_png_grid(out_dir + "/recon.png", grid, n, data::kDefaultGridScale);
}

nn::StateDict VQVAETask::extra_state() const {
    const VectorQuantizer& q = model_.quantizer;
    return {{"quantizer.ema_count", q.ema_count},
            {"quantizer.ema_sum", q.ema_sum},
            {"quantizer.usage", q.usage},
            {"quantizer.ema_steps", Tensor::full({1}, double(q.ema_steps), DType::I64)}};
}

void VQVAETask::load_extra_state(const nn::StateDict& s, const std::string& source) {
    VectorQuantizer& q = model_.quantizer;
    auto get = [&](const std::string& k, const Tensor& like) {
        auto it = s.find(k);
        if (it == s.end()) throw std::runtime_error(source + ": missing '" + k + "'");
        if (it->second.shape() != like.shape())
            throw std::runtime_error(source + ": '" + k + "' has shape " + it->second.shape_str() + ", expected " + like.shape_str());
        return it->second.to(device_).contiguous();
    };
    q.ema_count = get("quantizer.ema_count", q.ema_count);
    q.ema_sum = get("quantizer.ema_sum", q.ema_sum);
    q.usage = get("quantizer.usage", q.usage);
    q.ema_steps = int64_t(get("quantizer.ema_steps", Tensor::zeros({1})).item());
}

std::unique_ptr<TrainTask> make_task(const TrainOptions& o, Device device) {
    if (o.model == "vqvae") return std::make_unique<VQVAETask>(o, device);
    if (o.model == "vae") return std::make_unique<VAETask>(o, device);
    if (o.model == "prior") return std::make_unique<PriorTask>(o, device);
    if (o.model == "pixelcnn") return std::make_unique<PixelTask>(o, device);
    throw std::invalid_argument("--model must be vqvae, vae, prior or pixelcnn, got '" + o.model + "'");
}

}  // namespace vq::models
