// A small convolutional classifier for Fashion-MNIST, written only against
// the installed public API (tensor, autograd, nn, optim, data): what a program
// outside this repository would write. Two strided convs and a linear layer,
// trained with Adam on cross-entropy; prints the loss as it goes and the test
// accuracy at the end.
//
//   classifier [DATA_DIR] [STEPS]      (defaults: Debian's Fashion-MNIST, 600)
//
// Build against an installed vqframe:
//   c++ -std=c++20 -O2 classifier.cpp $(pkg-config --cflags --libs vqframe) -o classifier
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "data/idx.hpp"
#include "nn/layers.hpp"
#include "optim/optimizer.hpp"

using namespace vq;

// [B, 1, 28, 28] -> [B, 16, 14, 14] -> [B, 32, 7, 7] -> [B, 10] logits
class Classifier : public nn::Module {
public:
    explicit Classifier(Generator& gen)
        : conv1(1, 16, 3, 2, 1, gen), conv2(16, 32, 3, 2, 1, gen), fc(32 * 7 * 7, 10, gen) {
        register_module("conv1", conv1);
        register_module("conv2", conv2);
        register_module("fc", fc);
    }
    ag::Var forward(const ag::Var& x) const {
        ag::Var h = ag::relu(conv1.forward(x));
        h = ag::relu(conv2.forward(h));
        return fc.forward(ag::reshape(h, {h.size(0), 32 * 7 * 7}));
    }
    nn::Conv2d conv1, conv2;
    nn::Linear fc;
};

// Images [first, first + count) of `ds` as floats in [0, 1], with their labels.
static void batch(const data::Dataset& ds, const std::vector<int64_t>& order, int64_t first, int64_t count,
                  Tensor& images, Tensor& labels) {
    const int64_t pixels = ds.height * ds.width;
    std::vector<float> x(static_cast<size_t>(count * pixels));
    std::vector<int64_t> y(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        const int64_t n = order[size_t((first + i) % int64_t(order.size()))];
        for (int64_t p = 0; p < pixels; ++p) x[size_t(i * pixels + p)] = ds.pixels[size_t(n * pixels + p)] / 255.0f;
        y[size_t(i)] = ds.labels[size_t(n)];
    }
    images = Tensor::from_vector(x, {count, 1, ds.height, ds.width});
    labels = Tensor::from_vector(y, {count});
}

int main(int argc, char** argv) try {
    const std::string dir = argc > 1 ? argv[1] : data::kDefaultDataDir;
    const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 600, batch_size = 64;
    if (steps < 1) throw std::invalid_argument("STEPS must be a positive integer, got '" + std::string(argv[2]) + "'");
    data::Dataset train = data::load_split(dir, "train"), test = data::load_split(dir, "t10k");
    if (train.labels.empty() || test.labels.empty()) throw std::runtime_error(dir + ": the label files are missing");

    Generator gen(0);
    Classifier model(gen);
    optim::Adam opt(model.named_parameters(), optim::AdamConfig{1e-3});
    std::vector<int64_t> order(size_t(train.count));
    for (int64_t i = 0; i < train.count; ++i) order[size_t(i)] = i;
    for (int64_t i = train.count - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(gen.randint(i + 1))]);

    Tensor images, labels;
    double running = 0;
    for (int64_t step = 1; step <= steps; ++step) {
        batch(train, order, (step - 1) * batch_size, batch_size, images, labels);
        ag::Var loss = ag::cross_entropy(model.forward(ag::Var(images)), labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        running += loss.value().item();
        if (step % 50 == 0 || step == steps) {
            std::printf("step %4lld  loss %.4f\n", (long long)step, running / double(step % 50 ? step % 50 : 50));
            running = 0;
        }
    }

    // accuracy on the first 2,000 test images, without building a graph
    ag::NoGradGuard no_grad;
    std::vector<int64_t> test_order(size_t(test.count));
    for (int64_t i = 0; i < test.count; ++i) test_order[size_t(i)] = i;
    int64_t correct = 0, seen = 0;
    for (int64_t first = 0; first < 2000; first += 500) {
        batch(test, test_order, first, 500, images, labels);
        Tensor predicted = argmax(model.forward(ag::Var(images)).value(), 1);
        correct += int64_t(sum(eq(predicted, labels)).item());
        seen += 500;
    }
    std::printf("test accuracy %.3f on %lld images after %lld steps\n", double(correct) / double(seen),
                (long long)seen, (long long)steps);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "classifier: %s\n", e.what());
    return 1;
}
