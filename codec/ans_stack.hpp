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
// A pop that needs more words than the stack holds fails clearly -- unless
// the stack stands on an endless bottom (over_bottom()): pseudo-random words
// fixed by a key, which a reader can generate, so they need not be stored.
// A bits-back encoder starts each lane on one; its first pops take bits from
// it, and the file stores only the words above what was never touched plus
// how many bottom words were taken (depth()). The decoder rebuilds the stack
// from those words alone (it never reaches below them) and ends back at the
// start: the taken bottom words, then the start head (is_start_over()).
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
    // An empty tail over the endless bottom named by `key`, under a
    // pseudo-random head (so the first pops take bits from it too).
    static AnsStack over_bottom(uint64_t key);
    void push(uint32_t start, uint32_t freq, uint32_t prec);
    uint32_t peek(uint32_t prec) const { return uint32_t(head_ & ((uint64_t(1) << prec) - 1)); }
    void pop(uint32_t start, uint32_t freq, uint32_t prec);
    // The whole state as words, tail first, the head's low then high word last;
    // AnsStack(words()) is the same stack.
    std::vector<uint32_t> words() const;
    // Size of words() in bits.
    size_t bits() const { return 32 * (tail_.size() + 2); }
    // Bottom words taken so far (0 without a bottom).
    uint64_t depth() const { return depth_; }
    // True when this stack is what over_bottom(key) started as, with its
    // first `depth` bottom words present as tail words: a decode that undid
    // every step of the encode.
    bool is_start_over(uint64_t key, uint64_t depth) const;

private:
    uint64_t head_;
    std::vector<uint32_t> tail_;
    bool endless_ = false;
    uint64_t key_ = 0, depth_ = 0;
};

}  // namespace vq::codec
