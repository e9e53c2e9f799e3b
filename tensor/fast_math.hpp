// Branch-free float32 exp, tanh and sigmoid that the compiler can vectorise.
//
// Why: libm's expf/tanhf are scalar calls, and the Gated PixelCNN spends a
// large part of a CPU step in tanh * sigmoid gates and in the softmax over
// 512 codes. These versions are plain arithmetic with no branches and no
// calls, so an elementwise loop over them becomes SIMD code. Accuracy: a
// few ulp (tested against libm over a dense grid in test_tensor_elementwise).
// float64 keeps libm: it is the precision of the gradient checks.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace vq::fast {

// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2; exp(r) by
// Cephes' degree-6 polynomial. ln 2 is split in two (Cody-Waite) so x - n ln 2
// stays exact.
inline float exp(float x) {
    const float xc = std::min(88.7228391f, std::max(-87.3365448f, x));
    const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float n = (xc * 1.44269504088896341f + shifter) - shifter;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    // 2^n in two factors, so both exponents stay normal for n in [-126, 128]
    const int32_t ni = static_cast<int32_t>(n), n1 = ni >> 1, n2 = ni - n1;
    float y = e * std::bit_cast<float>((n1 + 127) << 23) * std::bit_cast<float>((n2 + 127) << 23);
    y = x > 88.7228391f ? __builtin_inff() : y;
    y = x < -87.3365448f ? 0.0f : y;  // the true value is below FLT_MIN
    return x != x ? x : y;            // NaN stays NaN
}

// tanh: an odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), the
// exp form elsewhere; both are computed and one is selected, without branches.
inline float tanh(float x) {
    float a = std::min(10.0f, std::max(-10.0f, x));  // tanh(10) rounds to 1 in float
    float z = a * a;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * a + a;
    float big = 1.0f - 2.0f / (fast::exp(2.0f * a) + 1.0f);
    const float y = (z < 0.390625f) ? small : big;  // |x| < 0.625
    return x != x ? x : y;
}

// sigmoid = 1 / (1 + e^-x); the clamp in exp keeps the denominator finite.
inline float sigmoid(float x) { return 1.0f / (1.0f + fast::exp(-x)); }

// float64 overloads keep libm, so a kernel templated on T can call fast::
// for either precision.
inline double exp(double x) { return std::exp(x); }
inline double tanh(double x) { return std::tanh(x); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace vq::fast
