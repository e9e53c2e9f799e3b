#include "models/pixelcnn_incremental.hpp"

#include <stdexcept>

namespace vq::models {

namespace {

// A 1x1 conv's weight [out, in, 1, 1] as the matrix [out, in]
Tensor matrix_of(const Tensor& w) { return w.reshape({w.size(0), w.size(1)}).contiguous(); }

// x: [n, in], w: [out, in], b: [out] -> x w^T + b : [n, out]
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b) { return add(matmul(x, w.t()), b); }

}  // namespace

IncrementalPixelCNN::IncrementalPixelCNN(const GatedPixelCNN& prior, int64_t n)
    : prior_(prior), n_(n), C_(prior.config.channels), K_(prior.config.num_codes),
      device_(prior.output.weight.device()) {
    if (n < 1) throw std::invalid_argument("IncrementalPixelCNN: need at least one map, got " + std::to_string(n));
    const int64_t S = GatedPixelCNN::kSide;
    for (const auto& layer : prior.layers) {
        Tensor wv = layer->vert.weight.value().clone();  // [2C, C, 2, 3]
        Tensor wh = layer->horiz.weight.value();         // [2C, C, 1, 2]
        if (layer->mask_a) {  // the position itself is hidden: last kernel row / column zero
            Tensor last_row = wv.select(2, 1);
            fill_(last_row, 0.0);
        }
        vert_w_.push_back(wv);
        horiz_prev_.push_back(wh.select(3, 0).select(2, 0).contiguous());  // [2C, C], applied to column c-1
        horiz_here_.push_back(layer->mask_a ? Tensor() : wh.select(3, 1).select(2, 0).contiguous());  // column c
        v2h_w_.push_back(matrix_of(layer->vert_to_horiz.weight.value()));  // [2C, 2C]
        resid_w_.push_back(matrix_of(layer->horiz_resid.weight.value()));  // [C, C]
    }
    out_w_ = matrix_of(prior.output.weight.value());  // [K, C]
    for (size_t l = 0; l <= prior.layers.size(); ++l) {
        xv_.push_back(Tensor::zeros({n, C_, S + 1, S}, DType::F32, device_));
        xh_.push_back(Tensor::zeros({S, S + 1, n, C_}, DType::F32, device_));
    }
    v_row_.resize(prior.layers.size());
}

// Row r of every layer's vertical stack, from rows r-1 and r of its input:
// v^l = vert^l(x_v^l rows r-1..r) : [n, 2C, 1, 7]; x_v^{l+1} row r = gate(v^l).
void IncrementalPixelCNN::start_row(int64_t r) {
    const Conv2dParams rows_only{1, 1, 0, 1};  // the two input rows are given; pad the columns only
    for (size_t l = 0; l < prior_.layers.size(); ++l) {
        Tensor two_rows = xv_[l].narrow(2, r, 2).contiguous();  // stored rows r, r+1 = image rows r-1, r
        v_row_[l] = conv2d(two_rows, vert_w_[l], prior_.layers[l]->vert.bias.value(), rows_only);
        xv_[l + 1].narrow(2, r + 1, 1).copy_from(gated_tanh(v_row_[l]));
    }
    row_ = r;
}

Tensor IncrementalPixelCNN::logits(int64_t r, int64_t c) {
    const int64_t S = GatedPixelCNN::kSide;
    if (r < 0 || r >= S || c < 0 || c >= S || r * S + c != next_)
        throw std::logic_error("IncrementalPixelCNN: positions go in raster order; expected position " +
                               std::to_string(next_) + ", got (" + std::to_string(r) + ", " + std::to_string(c) + ")");
    if (row_ != r) start_row(r);
    for (size_t l = 0; l < prior_.layers.size(); ++l) {
        const GatedLayer& layer = *prior_.layers[l];
        const Tensor x_prev = xh_[l].select(0, r).select(0, c);      // x_h^l at (r, c-1): [n, C]
        const Tensor x_here = xh_[l].select(0, r).select(0, c + 1);  // x_h^l at (r, c): [n, C]
        // h = horiz(x_h) at (r, c): [n, 2C]
        Tensor h = affine(x_prev, horiz_prev_[l], layer.horiz.bias.value());
        if (!layer.mask_a) h = add(h, matmul(x_here, horiz_here_[l].t()));
        // a = vert_to_horiz(v) + h at (r, c): [n, 2C]
        Tensor v = v_row_[l].select(3, c).select(2, 0).contiguous();
        Tensor a = add(affine(v, v2h_w_[l], layer.vert_to_horiz.bias.value()), h);
        Tensor g = gated_tanh(a.reshape({n_, 2 * C_, 1, 1})).reshape({n_, C_});
        Tensor out = affine(g, resid_w_[l], layer.horiz_resid.bias.value());  // [n, C]
        if (layer.residual) out = add(out, x_here);
        xh_[l + 1].select(0, r).select(0, c + 1).copy_from(out);
    }
    const Tensor top = xh_.back().select(0, r).select(0, c + 1);  // [n, C]
    return affine(top, out_w_, prior_.output.bias.value());       // [n, K]
}

void IncrementalPixelCNN::set(int64_t r, int64_t c, const Tensor& codes) {
    const int64_t S = GatedPixelCNN::kSide;
    if (r * S + c != next_)
        throw std::logic_error("IncrementalPixelCNN: set() goes in raster order; expected position " + std::to_string(next_));
    if (codes.shape() != Shape{n_})
        throw std::invalid_argument("IncrementalPixelCNN: expected " + std::to_string(n_) + " codes, got " + codes.shape_str());
    Tensor e = index_select(prior_.embedding.weight.value(), 0, codes.to(device_));  // [n, C]
    xv_[0].select(3, c).select(2, r + 1).copy_from(e);
    xh_[0].select(0, r).select(0, c + 1).copy_from(e);
    ++next_;
}

}  // namespace vq::models
