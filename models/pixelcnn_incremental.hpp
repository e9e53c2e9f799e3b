// The Gated PixelCNN evaluated one position at a time, for decoding and
// sampling: the 7x7 prior over VQ-VAE codes, the 28x28 pixel model, and the
// masked stack of the autoregressive decoder (models/ar_decoder.hpp), whose
// gates also add a per-position condition computed once from the latent.
//
// Sampling or decoding symbols in raster order needs the logits at (r, c)
// given the symbols before it. Running the whole network on the map at each
// of its S*S positions recomputes everything S*S times. Causality lets us
// keep what is already known instead:
// - the vertical stack's row r depends only on rows < r, so it is computed
//   once per row (a conv over the two rows r-1 and r of each layer's input);
// - the horizontal stack at (r, c) depends on columns c-1 and c of its
//   previous layer in row r, and on the vertical stack at (r, c): a few
//   [n, C] x [C, C'] products per layer per position.
// Only two rows of each layer's vertical input and one row of its
// horizontal input are kept, so the state is O(n C S) whatever the side.
//
// All n maps advance together, one position at a time: every product is a
// GEMM over the whole batch, written into buffers allocated once. The
// result equals GatedPixelCNN::forward at every position up to float
// rounding (tests/test_density_models.cpp, tests/test_pixel_model.cpp).
//
// The codecs compute their probabilities through this class on both sides,
// so that the encoder and the decoder agree bit for bit. The .vqz files
// written before this class took a side depend on its exact floats: each
// step does what the composed form did, into reused buffers: the same GEMM
// calls, the same float additions in the same order, and the fused gate
// (run side by side with the earlier class, it gave bit-identical logits at
// widths 1 to 64, 1 to 10 layers, K 2 to 512, on 1 and 2 threads). One allocation per layer and
// position is left: the gate's output (see gate_on_cpu).
#pragma once

#include "models/ar_decoder.hpp"
#include "models/pixelcnn.hpp"

namespace vq::models {

class IncrementalPixelCNN {
public:
    // n maps of side x side decoded together (a batch), on the model's device.
    IncrementalPixelCNN(const GatedPixelCNN& model, int64_t n, int64_t side = GatedPixelCNN::kSide);
    // The autoregressive decoder's masked stack over n images, conditioned on
    // what AutoregressiveHead::from_features gave: gate_bias [n, L * 2C, S, S]
    // and skip_logits [n, 1, S, S]. Symbols are the pixels (0 or 1); the
    // logits [n, 1] are each pixel's logit of being 1.
    IncrementalPixelCNN(const AutoregressiveHead& head, const Tensor& gate_bias, const Tensor& skip_logits);
    // Logits [n, K] (on the model's device; the autoregressive decoder's:
    // [n, 1]) at (r, c). Every position before
    // (r, c) in raster order must have been given to set(). The tensor is
    // this object's buffer: the next call overwrites it.
    Tensor logits(int64_t r, int64_t c);
    // The n symbols at (r, c), i64 [n] on any device: positions are set in
    // raster order. A position may be set without asking for its logits
    // (a row given whole, as in conditioning), but then no later position
    // of the same row may ask for logits: theirs would need the skipped one.
    void set(int64_t r, int64_t c, const Tensor& symbols);
    int64_t batch() const { return n_; }
    int64_t side() const { return S_; }

private:
    void prepare(int64_t n, int64_t side);
    void start_row(int64_t r);
    void gate_on_cpu(const Tensor& bias);
    const std::vector<std::unique_ptr<GatedLayer>>& layers_;
    int64_t n_, S_, C_, K_in_, K_out_, next_ = 0, row_ = -1, skipped_row_ = -1, computed_ = -1;
    Device device_;
    // Per layer: the masked vertical kernel, and the 1x1 weights as [out, in] matrices
    std::vector<Tensor> vert_w_, horiz_prev_, horiz_here_, v2h_w_, resid_w_;
    // symbol -> layer 0's input: [K_in, C]; the output's weight [K_out, C] and bias [K_out]
    Tensor table_, out_w_, out_b_;
    // The condition (the autoregressive decoder only), by position: every
    // layer's gate bias [S * S, n, L * 2C] (the horizontal stack reads one
    // position, the vertical stack a row's S positions through a view) and
    // the skip path's logits [S * S, n, 1].
    Tensor cond_at_, skip_at_;
    // x_v inputs of each layer, rows r-1 and r: [n, C, 2, S]
    std::vector<Tensor> xv_;
    // x_h inputs of layers 0..L (L: the output's input), row r: [S + 1, n, C];
    // stored column 0 is the zero column on the left, column c + 1 is (r, c)
    std::vector<Tensor> xh_;
    // the vertical stack's pre-gate output of row r, per layer: [S, n, 2C]
    std::vector<Tensor> v_row_;
    // scratch of one position: [n, 2C] x 3, the gate [n, C], a transposed
    // [1, 2C, n] and the logits [n, K_out]
    Tensor h_, h_here_, a_, g_, a_t_, logits_;
};

// Ancestral sampling of n side x side maps in raster order, all n together
// through IncrementalPixelCNN: each symbol is drawn from softmax(logits / T),
// one gen.uniform() per map and position, position-major. Rows r < keep_rows
// are copied from `given` ([n, side, side]) instead (inpainting). -> i64
// [n, side, side] on the CPU.
Tensor sample_raster(const GatedPixelCNN& model, int64_t n, int64_t side, double temperature, Generator& gen,
                     const Tensor& given = Tensor(), int64_t keep_rows = 0);

}  // namespace vq::models
