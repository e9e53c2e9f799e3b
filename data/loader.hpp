// Shuffled, dynamically binarized batches, prepared on a background thread
// while the current batch trains.
//
// Every batch is a pure function of (seed, epoch, batch index): the order of
// epoch e comes from a generator seeded by (seed, e) and the binarization of
// batch b from (seed, e, b). A run resumed at any step therefore sees exactly
// the batches an uninterrupted run would have seen.
#pragma once

#include <functional>
#include <future>

#include "data/idx.hpp"

namespace vq::data {

uint64_t mix_seed(uint64_t a, uint64_t b);

// A batch as a pure function of its position.
struct BatchSource {
    std::function<Tensor(int64_t epoch, int64_t index)> make;
    int64_t batches_per_epoch = 0;
    int64_t items = 0;  // images (or rows) in an epoch; the last batch holds items % batch_size if not 0
};

// Shuffled images of `ds`, dynamically binarized; the last batch may be partial.
BatchSource image_batches(const Dataset& ds, int64_t batch_size, uint64_t seed);
// Shuffled rows of `items` ([N, ...] of any dtype), e.g. cached code maps.
BatchSource row_batches(const Tensor& items, int64_t batch_size, uint64_t seed);

// Runs the source one batch ahead on a background thread.
class Prefetcher {
public:
    explicit Prefetcher(BatchSource source);
    ~Prefetcher();
    Prefetcher(const Prefetcher&) = delete;
    Prefetcher& operator=(const Prefetcher&) = delete;

    int64_t batches_per_epoch() const { return source_.batches_per_epoch; }
    // The next call to next() returns batch `index` of `epoch`.
    void seek(int64_t epoch, int64_t index);
    Tensor next();  // advances to the following batch (and epoch)

private:
    void launch();
    BatchSource source_;
    int64_t epoch_ = 0, index_ = 0;
    std::future<Tensor> pending_;
};

}  // namespace vq::data
