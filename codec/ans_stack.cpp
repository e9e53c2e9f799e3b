#include "codec/ans_stack.hpp"

#include <stdexcept>

namespace vq::codec {

namespace {
constexpr uint64_t kHeadLow = uint64_t(1) << 32;  // the head stays in [2^32, 2^64)

void check_interval(uint32_t start, uint32_t freq, uint32_t prec) {
    if (prec < 1 || prec > 24 || freq == 0 || uint64_t(start) + freq > (uint64_t(1) << prec))
        throw std::invalid_argument("AnsStack: bad symbol interval [" + std::to_string(start) + ", +" + std::to_string(freq) +
                                    ") at precision " + std::to_string(prec));
}

// splitmix64's finalizer over (key, i): counter-based, so any bottom word
// can be made on its own, by the encoder or the decoder
uint64_t mix(uint64_t key, uint64_t i) {
    uint64_t z = 0x5EEDB175ull + key * 0x9E3779B97F4A7C15ull + (i + 1) * 0xD1B54A32D192ED03ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
uint32_t bottom_word(uint64_t key, uint64_t i) { return uint32_t(mix(key, i) >> 32); }
uint64_t start_head(uint64_t key) { return mix(key, ~uint64_t(0)) | (uint64_t(1) << 63); }  // in [2^63, 2^64)
}  // namespace

AnsStack AnsStack::over_bottom(uint64_t key) {
    AnsStack s;
    s.head_ = start_head(key);
    s.endless_ = true;
    s.key_ = key;
    return s;
}

bool AnsStack::is_start_over(uint64_t key, uint64_t depth) const {
    if (head_ != start_head(key) || tail_.size() != depth) return false;
    for (uint64_t i = 0; i < depth; ++i)  // the tail lists them bottom first: the deepest taken is first
        if (tail_[i] != bottom_word(key, depth - 1 - i)) return false;
    return true;
}

AnsStack::AnsStack(const std::vector<uint32_t>& seed) : head_(kHeadLow) {
    if (seed.size() == 1) throw std::invalid_argument("AnsStack: a seed needs at least the two words of the head");
    if (seed.size() >= 2) {
        head_ = uint64_t(seed[seed.size() - 2]) | (uint64_t(seed.back()) << 32);
        if (head_ < kHeadLow) throw std::runtime_error("AnsStack: the head's high word is zero (corrupt data)");
        tail_.assign(seed.begin(), seed.end() - 2);
    }
}

// x -> (x / freq) * 2^prec + x % freq + start, first moving a word to the
// tail if the result would not fit in 64 bits.
void AnsStack::push(uint32_t start, uint32_t freq, uint32_t prec) {
    check_interval(start, freq, prec);
    // (a symbol of probability 1 changes nothing, and its bound would overflow)
    if (freq < (1u << prec) && head_ >= (uint64_t(freq) << (64 - prec))) {
        tail_.push_back(uint32_t(head_));
        head_ >>= 32;
    }
    head_ = ((head_ / freq) << prec) + (head_ % freq) + start;
}

// The inverse: x -> freq * (x / 2^prec) + x % 2^prec - start, then a word
// back from the tail if the head fell below 2^32.
void AnsStack::pop(uint32_t start, uint32_t freq, uint32_t prec) {
    check_interval(start, freq, prec);
    const uint32_t slot = peek(prec);
    if (slot < start || slot - start >= freq)
        throw std::logic_error("AnsStack: pop of an interval that does not hold the top slot");
    head_ = uint64_t(freq) * (head_ >> prec) + (slot - start);
    if (head_ < kHeadLow) {
        if (tail_.empty() && endless_) {
            head_ = (head_ << 32) | bottom_word(key_, depth_++);
            return;
        }
        if (tail_.empty()) throw std::runtime_error("AnsStack: the stack ran out of words (too few initial bits, or corrupt data)");
        head_ = (head_ << 32) | tail_.back();
        tail_.pop_back();
    }
}

std::vector<uint32_t> AnsStack::words() const {
    std::vector<uint32_t> w = tail_;
    w.push_back(uint32_t(head_));
    w.push_back(uint32_t(head_ >> 32));
    return w;
}

}  // namespace vq::codec
