// A seeded random number generator with the same output on every run,
// compiler and machine: xoshiro256** seeded through splitmix64, and every
// distribution written out here (the standard library's distributions are
// implementation-defined, so they are not used).
#pragma once

#include <array>
#include <cstdint>

#include "tensor/tensor.hpp"

namespace vq {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) { reseed(seed); }
    void reseed(uint64_t seed);

    uint64_t next_u64();
    double uniform();                     // [0, 1), 53 random bits
    double normal();                      // standard normal, Box-Muller
    int64_t randint(int64_t n);           // uniform in [0, n), unbiased
    // A fresh stream for another consumer, derived from (and advancing) this one.
    Generator split();

    // The whole state, for checkpoints: resuming restores the exact stream.
    std::array<uint64_t, 4> state() const { return s_; }
    void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

private:
    std::array<uint64_t, 4> s_{};
};

// One splitmix64 step; also the base of the deterministic test binarization.
uint64_t splitmix64(uint64_t z);

// Tensors of random values (CPU, then moved to `device` if given).
Tensor rand_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::F32,
                    Device device = Device::cpu());
Tensor rand_normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype = DType::F32,
                   Device device = Device::cpu());
// out[i] = 1 with probability probs[i], else 0 (same dtype as probs).
Tensor bernoulli(const Tensor& probs, Generator& gen);
Tensor randint(const Shape& shape, int64_t n, Generator& gen);  // i64 in [0, n)
Tensor randperm(int64_t n, Generator& gen);                     // i64 permutation of [0, n)

}  // namespace vq
