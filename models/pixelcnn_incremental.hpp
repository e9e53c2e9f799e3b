// The Gated PixelCNN evaluated one position at a time, for decoding.
//
// Sampling or decoding codes in raster order needs the logits at (r, c)
// given the codes before it. Running the whole network on the 7x7 map at
// each of the 49 positions recomputes everything 49 times. Causality lets us
// keep what is already known instead:
// - the vertical stack's row r depends only on rows < r, so it is computed
//   once per row (a conv over the two rows r-1 and r of each layer's input);
// - the horizontal stack at (r, c) depends on columns c-1 and c of its
//   previous layer in row r, and on the vertical stack at (r, c): a few
//   [n, C] x [C, C'] products per layer per position.
// The result equals GatedPixelCNN::forward at every position up to float
// rounding (tests/test_density_models.cpp checks it). A codec must compute
// its probabilities through this class on both sides, so that the encoder
// and the decoder agree bit for bit.
#pragma once

#include "models/pixelcnn.hpp"

namespace vq::models {

class IncrementalPixelCNN {
public:
    // n maps decoded together (a batch), on the prior's device.
    IncrementalPixelCNN(const GatedPixelCNN& prior, int64_t n);
    // Logits [n, K] (on the prior's device) at (r, c). Every position before
    // (r, c) in raster order must have been given to set().
    Tensor logits(int64_t r, int64_t c);
    // The n codes at (r, c), i64 [n] on any device: positions are set in raster order.
    void set(int64_t r, int64_t c, const Tensor& codes);

private:
    void start_row(int64_t r);
    const GatedPixelCNN& prior_;
    int64_t n_, C_, K_, next_ = 0, row_ = -1;
    Device device_;
    // Per layer: masked weights as [out, in] matrices and the conv kernels
    std::vector<Tensor> vert_w_, horiz_prev_, horiz_here_, v2h_w_, resid_w_;
    Tensor out_w_;
    // x_v inputs: (layers + 1) maps [n, C, 8, 7]; stored row 0 is the zero row above the image
    std::vector<Tensor> xv_;
    // x_h inputs: (layers + 1) maps [7, 8, n, C]; stored column 0 is the zero column on the left
    std::vector<Tensor> xh_;
    // the vertical stack's pre-gate output of the current row, per layer: [n, 2C, 1, 7]
    std::vector<Tensor> v_row_;
};

}  // namespace vq::models
