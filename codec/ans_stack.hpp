// rANS used as a stack, for bits-back coding.
//
// The coder of codec/rans.hpp queues symbols and encodes them in one
// backwards pass, which suits a fixed order. Bits-back coding interleaves
// the two directions on one state: it decodes ("pops") a latent from the
// message, then encodes ("pushes") data and the latent on top. So the state
// here is a stack:
// - a 64-bit head kept in [2^32, 2^64), and a tail of 32-bit words below it;
// - push(start, freq, prec) encodes a symbol of probability freq / 2^prec;
// - peek(prec) gives the slot in [0, 2^prec) of the symbol on top, and
//   pop(start, freq, prec) removes the symbol whose interval holds it.
// Popping under one distribution what was pushed under another is allowed:
// it is how bits-back samples a latent from the bits of the message.
// A pop that needs more words than the stack holds fails clearly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vq::codec {

class AnsStack {
public:
    // A stack holding `seed` words: the head takes the last two (they must
    // make a value >= 2^32, i.e. the top word non-zero), the tail the rest.
    // With no seed the head starts at 2^32 and holds no information.
    explicit AnsStack(const std::vector<uint32_t>& seed = {});
    void push(uint32_t start, uint32_t freq, uint32_t prec);
    uint32_t peek(uint32_t prec) const { return uint32_t(head_ & ((uint64_t(1) << prec) - 1)); }
    void pop(uint32_t start, uint32_t freq, uint32_t prec);
    // The whole state as words, tail first, the head's low then high word last;
    // AnsStack(words()) is the same stack.
    std::vector<uint32_t> words() const;
    // Size of words() in bits.
    size_t bits() const { return 32 * (tail_.size() + 2); }

private:
    uint64_t head_;
    std::vector<uint32_t> tail_;
};

}  // namespace vq::codec
