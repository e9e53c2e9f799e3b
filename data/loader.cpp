#include "data/loader.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include "data/binarize.hpp"
#include "tensor/ops.hpp"

namespace vq::data {

uint64_t mix_seed(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b + 0x632BE59BD9B4E019ull)); }

static void check_batch(int64_t batch_size, int64_t count) {
    if (batch_size <= 0) throw std::invalid_argument("batch size must be positive, got " + std::to_string(batch_size));
    if (count == 0) throw std::invalid_argument("the data set is empty");
}

BatchSource image_batches(const Dataset& ds, int64_t batch_size, uint64_t seed) {
    check_batch(batch_size, ds.count);
    BatchSource src;
    src.batches_per_epoch = (ds.count + batch_size - 1) / batch_size;
    src.items = ds.count;
    src.make = [&ds, batch_size, seed](int64_t epoch, int64_t index) {
        Generator order(mix_seed(seed, uint64_t(epoch)));
        Tensor perm = randperm(ds.count, order);
        const int64_t* p = perm.data<int64_t>();
        int64_t first = index * batch_size, n = std::min(batch_size, ds.count - first);
        int64_t hw = ds.height * ds.width;
        std::vector<uint8_t> pixels(size_t(n * hw));
        for (int64_t i = 0; i < n; ++i)
            std::memcpy(&pixels[size_t(i * hw)], &ds.pixels[size_t(p[first + i] * hw)], size_t(hw));
        Generator bits(mix_seed(mix_seed(seed, uint64_t(epoch)), uint64_t(index) + 1));
        return binarize_dynamic(pixels.data(), n, ds.height, ds.width, bits);
    };
    return src;
}

BatchSource row_batches(const Tensor& items, int64_t batch_size, uint64_t seed) {
    check_batch(batch_size, items.size(0));
    BatchSource src;
    int64_t count = items.size(0);
    src.batches_per_epoch = (count + batch_size - 1) / batch_size;
    src.items = count;
    src.make = [items, batch_size, seed, count](int64_t epoch, int64_t index) {
        Generator order(mix_seed(seed, uint64_t(epoch)));
        Tensor perm = randperm(count, order);
        int64_t first = index * batch_size, n = std::min(batch_size, count - first);
        return index_select(items, 0, perm.narrow(0, first, n).contiguous());
    };
    return src;
}

Prefetcher::Prefetcher(BatchSource source) : source_(std::move(source)) { launch(); }

Prefetcher::~Prefetcher() {
    if (pending_.valid()) pending_.wait();
}

void Prefetcher::launch() {
    int64_t e = epoch_, i = index_;
    pending_ = std::async(std::launch::async, [this, e, i] { return source_.make(e, i); });
}

void Prefetcher::seek(int64_t epoch, int64_t index) {
    if (pending_.valid()) pending_.wait();
    epoch_ = epoch;
    index_ = index;
    launch();
}

Tensor Prefetcher::next() {
    Tensor batch = pending_.get();
    if (++index_ >= source_.batches_per_epoch) {
        index_ = 0;
        ++epoch_;
    }
    launch();
    return batch;
}

}  // namespace vq::data
