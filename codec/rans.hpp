// A byte-wise rANS entropy coder (Duda's asymmetric numeral systems) with a
// 32-bit state and frequencies that sum to 2^kScaleBits.
//
// Symbols are encoded in reverse and decoded forward (rANS is a stack); the
// encoder collects (start, freq) pairs and writes them out at finish(). The
// probabilities of a model become integer frequencies through
// quantize_frequencies(), which both sides run on the same numbers, so the
// encoder and decoder agree exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vq::codec {

constexpr uint32_t kScaleBits = 16;
constexpr uint32_t kScale = 1u << kScaleBits;

// Probabilities (any non-negative weights) -> frequencies summing to kScale,
// each at least 1 so every symbol stays codable.
std::vector<uint32_t> quantize_frequencies(const float* probs, size_t n);
// Two-symbol case: frequency of symbol 1 from its probability, in [1, kScale-1].
uint32_t binary_frequency(float p_one);

class RansEncoder {
public:
    // Queues one symbol with cumulative start and frequency (start + freq <= kScale).
    void put(uint32_t start, uint32_t freq);
    // Encodes everything queued (in reverse) and returns the byte stream.
    std::string finish();
    size_t queued() const { return starts_.size(); }

private:
    std::vector<uint32_t> starts_, freqs_;
};

class RansDecoder {
public:
    RansDecoder(const uint8_t* data, size_t size);
    // The cumulative frequency slot of the next symbol, in [0, kScale).
    uint32_t peek() const { return state_ & (kScale - 1); }
    // Consumes the symbol whose interval [start, start+freq) holds peek().
    void advance(uint32_t start, uint32_t freq);
    // Decodes a symbol from a frequency table (linear search over cumulative sums).
    uint32_t decode(const std::vector<uint32_t>& freqs);
    bool binary(uint32_t freq_one);  // symbol 1 occupies [0, freq_one)
    // True when the stream was consumed exactly (a check against corrupt input).
    bool at_end() const;

private:
    const uint8_t* data_;
    size_t size_, pos_ = 0;
    uint32_t state_ = 0;
};

}  // namespace vq::codec
