#include "data/binarize.hpp"

namespace vq::data {

Tensor binarize_deterministic(const uint8_t* pixels, int64_t first, int64_t count, int64_t height, int64_t width,
                              uint64_t seed) {
    int64_t hw = height * width;
    Tensor out = Tensor::empty({count, 1, height, width});
    float* p = out.data<float>();
    for (int64_t n = 0; n < count; ++n)
        for (int64_t i = 0; i < hw; ++i)
            p[n * hw + i] = test_bit(seed, uint64_t(first + n), uint64_t(i), pixels[n * hw + i], uint64_t(hw));
    return out;
}

Tensor binarize_dynamic(const uint8_t* pixels, int64_t count, int64_t height, int64_t width, Generator& gen) {
    int64_t total = count * height * width;
    Tensor out = Tensor::empty({count, 1, height, width});
    float* p = out.data<float>();
    for (int64_t i = 0; i < total; ++i) {
        // 24 random bits against x * 2^24 / 255: the same comparison as the test rule
        uint64_t u = gen.next_u64() >> 40;
        p[i] = (u * 255 < uint64_t(pixels[i]) << 24) ? 1.0f : 0.0f;
    }
    return out;
}

}  // namespace vq::data
