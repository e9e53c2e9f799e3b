// Training the Gated PixelCNN over the 28x28 binary pixels themselves: the
// prior's module with K = 2 symbols (pixel off, pixel on), so that its exact
// NLL is a sum of 784 conditionals, with no latent and no bound.
#include "data/loader.hpp"
#include "data/png.hpp"
#include "models/pixelcnn_incremental.hpp"
#include "models/tasks.hpp"

namespace vq::models {

Tensor pixels_as_symbols(const Tensor& bits) {
    if (bits.dim() != 4 || bits.size(1) != 1)
        throw std::invalid_argument("pixel PixelCNN: expected images [B, 1, H, W], got " + bits.shape_str());
    return bits.reshape({bits.size(0), bits.size(2), bits.size(3)}).to(DType::I64);
}

PixelTask::PixelTask(const TrainOptions& o, Device device)
    : options_(o), device_(device), init_gen_(o.seed),
      model_(init_gen_, PixelCNNConfig{2, o.pixel_channels, o.pixel_layers}) {}

data::BatchSource PixelTask::train_batches(int64_t batch_size, uint64_t seed) {
    if (!train_) train_ = std::make_unique<data::Dataset>(data::load_split(options_.data_dir, "train"));
    return data::image_batches(*train_, batch_size, seed);
}

Stats PixelTask::forward_backward(const Tensor& part, Generator&, double loss_scale) {
    ag::Var loss = model_.loss(pixels_as_symbols(part));  // mean nats per pixel
    backward_scaled(loss, loss_scale);
    const double pixels = double(part.size(2) * part.size(3));
    return {{"loss", loss.value().item() * pixels}};  // nats per image
}

Stats PixelTask::evaluate(int64_t limit) {
    if (!test_ || test_->count != std::min(limit, test_->data.count)) test_ = std::make_unique<TestSet>(options_.data_dir, limit);
    return {{"nll", pixel_nll(model_, *test_, device_)}};
}

// 16 samples at temperature 1, drawn one position at a time (all 16 together)
void PixelTask::write_images(const std::string& out_dir) {
    Generator gen(data::mix_seed(options_.seed, 0x5A3));
    Tensor pixels = sample_raster(model_, 16, 28, 1.0, gen);  // [16, 28, 28] of 0/1
    data::write_png_grid(out_dir + "/samples.png", pixels.to(DType::F32).reshape({16, 1, 28, 28}), 8, data::kDefaultGridScale);
}

double pixel_nll(const GatedPixelCNN& model, const TestSet& test, Device device) {
    double total = 0;
    for (int64_t first = 0; first < test.count; first += kEvalChunk) {
        const int64_t n = std::min<int64_t>(kEvalChunk, test.count - first);
        total += sum(model.nll_per_image(pixels_as_symbols(test.bits(first, n)).to(device))).item();
    }
    return total / double(test.count);
}

}  // namespace vq::models
