#include "tensor/random.hpp"

#include <cmath>
#include <numbers>

namespace vq {

uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void Generator::reseed(uint64_t seed) {
    uint64_t z = seed;
    for (auto& word : s_) {
        word = splitmix64(z);
        z += 0x9E3779B97F4A7C15ull;
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t Generator::next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Generator::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
    // 1 - u keeps the log argument in (0, 1]
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

int64_t Generator::randint(int64_t n) {
    if (n <= 0) throw std::invalid_argument("randint: upper bound must be positive, got " + std::to_string(n));
    // rejection sampling removes the modulo bias
    uint64_t un = uint64_t(n), limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t r;
    do r = next_u64();
    while (r >= limit);
    return int64_t(r % un);
}

Generator Generator::split() {
    Generator g;
    g.reseed(next_u64());
    return g;
}

template <typename Fill>
static Tensor make_random(const Shape& shape, DType dtype, Device device, Fill fill) {
    Tensor t = Tensor::empty(shape, dtype);
    dispatch_floating(dtype, "random", [&]<typename T>() {
        T* p = t.data<T>();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = T(fill());
    });
    return device.is_cpu() ? t : t.to(device);
}

Tensor rand_uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype, Device device) {
    return make_random(shape, dtype, device, [&] { return low + (high - low) * gen.uniform(); });
}

Tensor rand_normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype, Device device) {
    return make_random(shape, dtype, device, [&] { return mean + stddev * gen.normal(); });
}

Tensor bernoulli(const Tensor& probs, Generator& gen) {
    check_defined(probs, "bernoulli");
    Tensor p = probs.to(Device::cpu()).contiguous();
    Tensor out = Tensor::empty(p.shape(), p.dtype());
    dispatch_floating(p.dtype(), "bernoulli", [&]<typename T>() {
        const T* pp = p.data<T>();
        T* po = out.data<T>();
        for (int64_t i = 0; i < p.numel(); ++i) po[i] = gen.uniform() < double(pp[i]) ? T(1) : T(0);
    });
    return out.to(probs.device());
}

Tensor randint(const Shape& shape, int64_t n, Generator& gen) {
    Tensor t = Tensor::empty(shape, DType::I64);
    int64_t* p = t.data<int64_t>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.randint(n);
    return t;
}

Tensor randperm(int64_t n, Generator& gen) {
    Tensor t = Tensor::arange(n, DType::I64);
    int64_t* p = t.data<int64_t>();
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[gen.randint(i + 1)]);  // Fisher-Yates
    return t;
}

}  // namespace vq
