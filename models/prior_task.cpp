// Training the Gated PixelCNN prior on the codes of a trained VQ-VAE. The
// training images are binarized once by the training rule and their codes
// extracted once; the test codes come from the deterministic test bits.
#include <fmt/format.h>

#include "data/binarize.hpp"
#include "data/png.hpp"
#include "models/checkpoint.hpp"
#include "models/progress.hpp"
#include "models/tasks.hpp"

namespace vq::models {

Tensor extract_codes(const VQVAE& vqvae, int64_t n, const BitsSource& bits_of, Device device, const std::string& label) {
    const int64_t chunk = kEvalChunk;
    Tensor codes = Tensor::empty({n, 7, 7}, DType::I64);
    ProgressBar bar(label, n);
    for (int64_t first = 0; first < n; first += chunk) {
        int64_t m = std::min(chunk, n - first);
        codes.narrow(0, first, m).copy_from(vqvae.encode(bits_of(first, m).to(device)).to(Device::cpu()));
        bar.update(first + m, m);
    }
    bar.finish();
    return codes;
}

Tensor decoded_images(const VQVAE& vqvae, const Tensor& codes, Device device, Generator& gen) {
    if (vqvae.decoder.autoregressive()) return vqvae.decode_sample(codes.to(device), gen).to(Device::cpu());
    return sigmoid(vqvae.decode_logits(codes.to(device))).to(Device::cpu());
}

void write_decoded_grid(const VQVAE& vqvae, const Tensor& codes, Device device, Generator& gen, const std::string& path,
                        int64_t columns, int64_t scale) {
    data::write_png_grid(path, decoded_images(vqvae, codes, device, gen), columns, scale);
}

namespace {

VQVAEConfig config_of_file(const std::string& path) {
    if (path.empty()) throw std::invalid_argument("--model prior needs --vqvae FILE (a trained VQ-VAE)");
    return vqvae_config_of(nn::load_safetensors(path), path);
}

}  // namespace

// The VQ-VAE is built (drawing its throwaway initial weights from init_gen_)
// before the prior, so the prior's initial weights are the same whichever
// VQ-VAE file is given; the prior's K is the VQ-VAE's.
PriorTask::PriorTask(const TrainOptions& o, Device device)
    : options_(o), device_(device), init_gen_(o.seed), vqvae_(init_gen_, config_of_file(o.vqvae)),
      model_(init_gen_, PixelCNNConfig{vqvae_.config.num_codes, o.prior_channels, o.prior_layers}) {
    load_model_file(vqvae_, o.vqvae, "vqvae");
    vqvae_.to(device);
}

data::BatchSource PriorTask::train_batches(int64_t batch_size, uint64_t seed) {
    if (!train_codes_.defined()) {
        data::Dataset train = data::load_split(options_.data_dir, "train");
        // one fixed dynamic binarization of the training set, from the seed,
        // drawn chunk by chunk in order (the same bits as all at once)
        Generator bits_gen(data::mix_seed(seed, 0xC0DE5));
        const int64_t hw = train.height * train.width;
        auto bits_of = [&](int64_t first, int64_t n) {
            return data::binarize_dynamic(train.pixels.data() + first * hw, n, train.height, train.width, bits_gen);
        };
        train_codes_ = extract_codes(vqvae_, train.count, bits_of, device_, "extracting train codes");
    }
    return data::row_batches(train_codes_, batch_size, seed);
}

Stats PriorTask::forward_backward(const Tensor& part, Generator&, double loss_scale) {
    ag::Var loss = model_.loss(part);
    backward_scaled(loss, loss_scale);
    return {{"loss", loss.value().item()}};
}

Stats PriorTask::evaluate(int64_t limit) {
    if (!test_codes_.defined() || test_limit_ != limit) {
        test_limit_ = limit;
        TestSet test(options_.data_dir, limit);
        test_codes_ = extract_codes(vqvae_, test.count, [&](int64_t first, int64_t n) { return test.bits(first, n); },
                                    device_, "extracting test codes");
        // the VQ-VAE's part of the bound on the same images: -log p(x | codes)
        ag::NoGradGuard no_grad;
        double recon = 0;
        for (int64_t first = 0; first < test.count; first += kEvalChunk) {
            const int64_t n = std::min<int64_t>(kEvalChunk, test.count - first);
            recon += vqvae_.forward(test.bits(first, n).to(device_)).recon.value().item() * double(n);
        }
        test_recon_nll_ = recon / double(test.count);
    }
    double total = 0;
    for (int64_t first = 0; first < test_codes_.size(0); first += kEvalChunk) {
        int64_t n = std::min<int64_t>(kEvalChunk, test_codes_.size(0) - first);
        total += sum(model_.nll_per_image(test_codes_.narrow(0, first, n).contiguous().to(device_))).item();
    }
    double per_image = total / double(test_codes_.size(0));
    return {{"prior_nll", per_image}, {"nats_per_latent", per_image / 49.0}, {"bound_nll", test_recon_nll_ + per_image}};
}

void PriorTask::write_images(const std::string& out_dir) {
    Generator gen(data::mix_seed(options_.seed, 0x5A3));
    Tensor codes = model_.sample(16, 1.0, gen, device_);
    write_decoded_grid(vqvae_, codes, device_, gen, out_dir + "/samples.png", 8);
}

}  // namespace vq::models
