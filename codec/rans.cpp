#include "codec/rans.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace vq::codec {

namespace {
constexpr uint32_t kLow = 1u << 23;  // the state stays in [kLow, kLow << 8)
}

std::vector<uint32_t> quantize_frequencies(const float* probs, size_t n) {
    if (n == 0 || n > kScale) throw std::invalid_argument("quantize_frequencies: alphabet of " + std::to_string(n));
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += std::max(0.0, double(probs[i]));
    std::vector<uint32_t> f(n, 1);
    const uint32_t spare = kScale - uint32_t(n);  // what is left after the floor of 1 each
    uint32_t used = 0;
    if (total > 0)
        for (size_t i = 0; i < n; ++i) {
            uint32_t extra = uint32_t(std::floor(std::max(0.0, double(probs[i])) / total * spare));
            f[i] += extra;
            used += extra;
        }
    // the rounding remainder goes to the most probable symbol (first on ties)
    size_t top = size_t(std::max_element(f.begin(), f.end()) - f.begin());
    f[top] += spare - used;
    return f;
}

uint32_t binary_frequency(float p_one) {
    double f = std::round(double(p_one) * kScale);
    return uint32_t(std::clamp(f, 1.0, double(kScale - 1)));
}

void RansEncoder::put(uint32_t start, uint32_t freq) {
    if (freq == 0 || start + freq > kScale) throw std::invalid_argument("rANS: bad symbol interval");
    starts_.push_back(start);
    freqs_.push_back(freq);
}

std::string RansEncoder::finish() {
    std::string out;  // built backwards, reversed at the end
    uint32_t x = kLow;
    for (size_t i = starts_.size(); i-- > 0;) {
        const uint32_t freq = freqs_[i], start = starts_[i];
        // renormalise so that the state after encoding stays below kLow << 8
        const uint32_t x_max = ((kLow >> kScaleBits) << 8) * freq;
        while (x >= x_max) {
            out.push_back(char(x & 0xff));
            x >>= 8;
        }
        x = ((x / freq) << kScaleBits) + (x % freq) + start;
    }
    // The final state: pushed most significant byte first, so that after the
    // reversal below the stream starts with it, least significant byte first.
    for (int i = 0; i < 4; ++i) {
        out.push_back(char(x >> 24));
        x <<= 8;
    }
    std::reverse(out.begin(), out.end());  // the decoder reads forward what was emitted last
    starts_.clear();
    freqs_.clear();
    return out;
}

RansDecoder::RansDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    if (size < 4) throw std::runtime_error("rANS stream is shorter than its 4-byte state");
    for (int i = 0; i < 4; ++i) state_ |= uint32_t(data_[pos_++]) << (8 * i);
    if (state_ < kLow) throw std::runtime_error("rANS stream has an invalid initial state (corrupt data)");
}

void RansDecoder::advance(uint32_t start, uint32_t freq) {
    state_ = freq * (state_ >> kScaleBits) + (state_ & (kScale - 1)) - start;
    while (state_ < kLow) {
        if (pos_ >= size_) throw std::runtime_error("rANS stream ended early (truncated or corrupt data)");
        state_ = (state_ << 8) | data_[pos_++];
    }
}

uint32_t RansDecoder::decode(const std::vector<uint32_t>& freqs) {
    uint32_t slot = peek(), start = 0;
    for (uint32_t s = 0; s < freqs.size(); ++s) {
        if (slot < start + freqs[s]) {
            advance(start, freqs[s]);
            return s;
        }
        start += freqs[s];
    }
    throw std::runtime_error("rANS: frequency table does not cover the scale (corrupt data)");
}

bool RansDecoder::binary(uint32_t freq_one) {
    if (peek() < freq_one) {
        advance(0, freq_one);
        return true;
    }
    advance(freq_one, kScale - freq_one);
    return false;
}

bool RansDecoder::at_end() const { return pos_ == size_ && state_ == kLow; }

}  // namespace vq::codec
