#include "models/pixelcnn_incremental.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cuda/backend.hpp"
#include "tensor/blas.hpp"

namespace vq::models {

namespace {

// A 1x1 conv's weight [out, in, 1, 1] as the matrix [out, in]
Tensor matrix_of(const Tensor& w) { return w.reshape({w.size(0), w.size(1)}).contiguous(); }

// x: [n, in] (unit column stride), w: [out, in] -> y: [n, out] = x w^T, into
// y's memory (unit column stride). The arguments are those matmul(x, w.t())
// passes (tensor/matmul.cpp's operand rule: w.t() is read transposed unless
// it is a single column), so the floats are matmul's.
void gemm_xwt(const Tensor& x, const Tensor& w, Tensor& y) {
    const int64_t n = x.size(0), in = x.size(1), out = w.size(0);
    const bool tb = out != 1;
    const int64_t ldb = tb ? in : 1;
    if (x.is_cuda()) {
        blas::count_flops(n, out, in);
        cuda::gemm(DType::F32, false, tb, n, out, in, 1.0, x.raw_data(), x.stride(0), 0, w.raw_data(), ldb, 0, 0.0,
                   y.raw_data(), y.stride(0), n * out, 1);
    } else {
        blas::gemm<float>(false, tb, n, out, in, 1.0f, x.data<float>(), x.stride(0), w.data<float>(), ldb, 0.0f,
                          y.data<float>(), y.stride(0));
    }
}

}  // namespace

IncrementalPixelCNN::IncrementalPixelCNN(const GatedPixelCNN& model, int64_t n, int64_t side)
    : layers_(model.layers), C_(model.config.channels), K_in_(model.config.num_codes), K_out_(model.config.num_codes),
      device_(model.output.weight.device()) {
    table_ = model.embedding.weight.value();       // [K, C]
    out_w_ = matrix_of(model.output.weight.value());  // [K, C]
    out_b_ = model.output.bias.value();
    prepare(n, side);
}

// A pixel's input is the 1x1 conv of its value, w x + b: the table's rows
// are its values at x = 0 and x = 1.
IncrementalPixelCNN::IncrementalPixelCNN(const AutoregressiveHead& head, const Tensor& gate_bias, const Tensor& skip_logits)
    : layers_(head.layers), C_(head.config.channels), K_in_(2), K_out_(1), device_(head.output.weight.device()) {
    const int64_t L = int64_t(head.layers.size()), C2 = 2 * C_;
    if (gate_bias.dim() != 4 || gate_bias.size(1) != L * C2 || gate_bias.size(2) != gate_bias.size(3) ||
        skip_logits.shape() != Shape{gate_bias.size(0), 1, gate_bias.size(2), gate_bias.size(3)})
        throw std::invalid_argument("IncrementalPixelCNN: expected a square condition [n, " + std::to_string(L * C2) +
                                    ", S, S] and skip logits [n, 1, S, S], got " + gate_bias.shape_str() + " and " +
                                    skip_logits.shape_str());
    const int64_t n = gate_bias.size(0), S = gate_bias.size(2);
    const Tensor w = head.input.weight.value().reshape({C_}), b = head.input.bias.value();  // [C, 1, 1, 1], [C]
    table_ = Tensor::empty({2, C_}, DType::F32, device_);
    table_.select(0, 0).copy_from(b);
    table_.select(0, 1).copy_from(add(w, b));
    out_w_ = matrix_of(head.output.weight.value());  // [1, C]
    out_b_ = head.output.bias.value();
    cond_at_ = gate_bias.to(device_).reshape({n, L * C2, S * S}).permute({2, 0, 1}).contiguous();  // [S * S, n, L * 2C]
    skip_at_ = skip_logits.to(device_).reshape({n, S * S}).t().contiguous().reshape({S * S, n, 1});
    prepare(n, S);
}

void IncrementalPixelCNN::prepare(int64_t n, int64_t side) {
    if (out_w_.dtype() != DType::F32) throw std::invalid_argument("IncrementalPixelCNN: expected an f32 model");
    if (n < 1) throw std::invalid_argument("IncrementalPixelCNN: need at least one map, got " + std::to_string(n));
    if (side < 1 || side > 4096)
        throw std::invalid_argument("IncrementalPixelCNN: the side must be in 1..4096, got " + std::to_string(side));
    n_ = n;
    S_ = side;
    for (const auto& layer : layers_) {
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
    const size_t L = layers_.size();
    for (size_t l = 0; l < L; ++l) {
        xv_.push_back(Tensor::zeros({n, C_, 2, S_}, DType::F32, device_));
        v_row_.push_back(Tensor::zeros({S_, n, 2 * C_}, DType::F32, device_));
    }
    for (size_t l = 0; l <= L; ++l) xh_.push_back(Tensor::zeros({S_ + 1, n, C_}, DType::F32, device_));
    h_ = Tensor::empty({n, 2 * C_}, DType::F32, device_);
    h_here_ = Tensor::empty({n, 2 * C_}, DType::F32, device_);
    a_ = Tensor::empty({n, 2 * C_}, DType::F32, device_);
    g_ = Tensor::empty({n, C_}, DType::F32, device_);
    a_t_ = Tensor::empty({1, 2 * C_, n}, DType::F32, device_);
    logits_ = Tensor::empty({n, K_out_}, DType::F32, device_);
}

// Row r of every layer's vertical stack, from rows r-1 and r of its input:
// v^l = vert^l(x_v^l rows r-1..r) (+ the condition's row r) : [n, 2C, 1, S];
// x_v^{l+1} row r = gate(v^l).
// Layer 0's row r is still unknown (zeros; its mask ignores it) and set()
// fills it in during the row.
void IncrementalPixelCNN::start_row(int64_t r) {
    const Conv2dParams rows_only{1, 1, 0, 1};  // the two input rows are given; pad the columns only
    const size_t L = layers_.size();
    auto shift_up = [](Tensor& two_rows) {  // row r-1 <- row r
        Tensor older = two_rows.narrow(2, 0, 1);
        older.copy_from(two_rows.narrow(2, 1, 1));
    };
    shift_up(xv_[0]);
    Tensor unknown = xv_[0].narrow(2, 1, 1);
    fill_(unknown, 0.0);
    for (size_t l = 0; l < L; ++l) {
        Tensor v = conv2d(xv_[l], vert_w_[l], layers_[l]->vert.bias.value(), rows_only);  // [n, 2C, 1, S]
        if (cond_at_.defined()) {  // + row r of the layer's condition, [S, n, 2C] seen as [n, 2C, 1, S]
            const Tensor row = cond_at_.narrow(0, r * S_, S_).narrow(2, int64_t(l) * 2 * C_, 2 * C_);
            add_(v, row.permute({1, 2, 0}).unsqueeze(2));
        }
        if (device_.is_cuda()) {
            v_row_[l].copy_from(v.select(2, 0).permute({2, 0, 1}));  // [S, n, 2C]
        } else {  // the same copy, one image's [2C, S] block (in L1) at a time
            const int64_t C2 = 2 * C_;
            const float* src = v.data<float>();
            float* dst = v_row_[l].data<float>();
            for (int64_t i = 0; i < n_; ++i)
                for (int64_t c = 0; c < S_; ++c)
                    for (int64_t k = 0; k < C2; ++k) dst[(c * n_ + i) * C2 + k] = src[(i * C2 + k) * S_ + c];
        }
        if (l + 1 < L) {  // the last layer's x_v feeds nothing
            shift_up(xv_[l + 1]);
            xv_[l + 1].narrow(2, 1, 1).copy_from(gated_tanh(v));
        }
    }
    row_ = r;
}

// g_ = gate((a_ + bias) + h_) on the CPU, with the floats of add, add and
// gated_tanh on [n, 2C]. gated_tanh there would see rows of one element and
// make one scalar call per element (half the decoding time), so the sum is
// written transposed, a^T: [1, 2C, n], where the gate runs along n (its
// vectorised loop, the same arithmetic per element), and g^T transposed back.
void IncrementalPixelCNN::gate_on_cpu(const Tensor& bias) {
    const int64_t n = n_, C2 = 2 * C_;
    const float* a = a_.data<float>();
    const float* h = h_.data<float>();
    const float* b = bias.data<float>();
    float* at = a_t_.data<float>();
    // in blocks of 16 maps, so that both sides of each transpose stay in L1
    constexpr int64_t kBlock = 16;
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const int64_t i1 = std::min(n, i0 + kBlock);
        for (int64_t k = 0; k < C2; ++k)
            for (int64_t i = i0; i < i1; ++i) at[k * n + i] = (a[i * C2 + k] + b[k]) + h[i * C2 + k];
    }
    const Tensor gt = gated_tanh(a_t_);  // [1, C, n]
    const float* pg = gt.data<float>();
    float* g = g_.data<float>();
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const int64_t i1 = std::min(n, i0 + kBlock);
        for (int64_t k = 0; k < C_; ++k)
            for (int64_t i = i0; i < i1; ++i) g[i * C_ + k] = pg[k * n + i];
    }
}

Tensor IncrementalPixelCNN::logits(int64_t r, int64_t c) {
    if (r < 0 || r >= S_ || c < 0 || c >= S_ || r * S_ + c != next_)
        throw std::logic_error("IncrementalPixelCNN: positions go in raster order; expected position " +
                               std::to_string(next_) + ", got (" + std::to_string(r) + ", " + std::to_string(c) + ")");
    if (row_ != r) start_row(r);
    if (skipped_row_ == r)
        throw std::logic_error("IncrementalPixelCNN: logits at (" + std::to_string(r) + ", " + std::to_string(c) +
                               ") need the earlier positions of the row, and one was set without its logits");
    computed_ = next_;
    // Each step below is the kernel call of the composed form (the same
    // operands, in the same order) so that the floats stay those of
    // x w^T + b, (.) + h, gate(.), ... computed with fresh tensors.
    const int64_t at = r * S_ + c;
    for (size_t l = 0; l < layers_.size(); ++l) {
        const GatedLayer& layer = *layers_[l];
        const Tensor x_prev = xh_[l].select(0, c);      // x_h^l at (r, c-1): [n, C]
        const Tensor x_here = xh_[l].select(0, c + 1);  // x_h^l at (r, c): [n, C]
        // h = horiz(x_h) at (r, c): [n, 2C]
        gemm_xwt(x_prev, horiz_prev_[l], h_);
        add_(h_, layer.horiz.bias.value());
        if (!layer.mask_a) {
            gemm_xwt(x_here, horiz_here_[l], h_here_);
            add_(h_, h_here_);
        }
        if (cond_at_.defined()) add_(h_, cond_at_.select(0, at).narrow(1, int64_t(l) * 2 * C_, 2 * C_));
        // a = vert_to_horiz(v) + h at (r, c): [n, 2C]; g = gate(a): [n, C]
        gemm_xwt(v_row_[l].select(0, c), v2h_w_[l], a_);
        if (device_.is_cuda()) {
            add_(a_, layer.vert_to_horiz.bias.value());
            add_(a_, h_);
            g_ = gated_tanh(a_);
        } else {
            gate_on_cpu(layer.vert_to_horiz.bias.value());
        }
        // x_h^{l+1} at (r, c) = horiz_resid(g) (+ x_h^l at (r, c)): [n, C]
        Tensor out = xh_[l + 1].select(0, c + 1);
        gemm_xwt(g_, resid_w_[l], out);
        add_(out, layer.horiz_resid.bias.value());
        if (layer.residual) add_(out, x_here);
    }
    gemm_xwt(xh_.back().select(0, c + 1), out_w_, logits_);  // [n, K_out]
    add_(logits_, out_b_);
    if (skip_at_.defined()) add_(logits_, skip_at_.select(0, at));
    return logits_;
}

void IncrementalPixelCNN::set(int64_t r, int64_t c, const Tensor& symbols) {
    if (r < 0 || r >= S_ || c < 0 || c >= S_ || r * S_ + c != next_)
        throw std::logic_error("IncrementalPixelCNN: set() goes in raster order; expected position " +
                               std::to_string(next_) + ", got (" + std::to_string(r) + ", " + std::to_string(c) + ")");
    if (symbols.shape() != Shape{n_} || symbols.dtype() != DType::I64)
        throw std::invalid_argument("IncrementalPixelCNN: expected " + std::to_string(n_) + " i64 symbols, got " +
                                    symbols.shape_str() + " " + dtype_name(symbols.dtype()));
    if (row_ != r) start_row(r);  // a row given whole still needs its vertical stack below
    if (computed_ != next_) skipped_row_ = r;
    const Tensor& emb = table_;  // [K_in, C]
    if (device_.is_cuda()) {
        Tensor e = index_select(emb, 0, symbols.to(device_));  // [n, C]
        xv_[0].select(3, c).select(2, 1).copy_from(e);
        xh_[0].select(0, c + 1).copy_from(e);
    } else {
        // the embedding rows copied straight into both stacks' inputs
        const Tensor s = symbols.to(Device::cpu()).contiguous();
        const int64_t* sp = s.data<int64_t>();
        const Tensor table = emb.contiguous();
        const float* ep = table.data<float>();
        float* xv = xv_[0].data<float>();        // [n, C, 2, S]
        float* xh = xh_[0].data<float>() + (c + 1) * n_ * C_;  // [n, C]
        for (int64_t i = 0; i < n_; ++i) {
            if (sp[i] < 0 || sp[i] >= K_in_)
                throw std::invalid_argument("IncrementalPixelCNN: symbol " + std::to_string(sp[i]) + " of map " +
                                            std::to_string(i) + " is outside 0.." + std::to_string(K_in_ - 1));
            const float* e = ep + sp[i] * C_;
            for (int64_t ch = 0; ch < C_; ++ch) {
                xv[((i * C_ + ch) * 2 + 1) * S_ + c] = e[ch];
                xh[i * C_ + ch] = e[ch];
            }
        }
    }
    ++next_;
}

Tensor sample_raster(const GatedPixelCNN& model, int64_t n, int64_t side, double temperature, Generator& gen,
                     const Tensor& given, int64_t keep_rows) {
    if (!(temperature > 0) || !std::isfinite(temperature))
        throw std::invalid_argument("sample: the temperature must be a positive number, got " + std::to_string(temperature));
    if (keep_rows < 0 || keep_rows > side)
        throw std::invalid_argument("sample: rows to keep must be in 0.." + std::to_string(side) + ", got " +
                                    std::to_string(keep_rows));
    Tensor out = Tensor::zeros({n, side, side}, DType::I64);
    if (keep_rows > 0) {
        if (!given.defined() || given.shape() != Shape{n, side, side})
            throw std::invalid_argument("sample: conditioning symbols must be [" + std::to_string(n) + ", " +
                                        std::to_string(side) + ", " + std::to_string(side) + "], got " +
                                        (given.defined() ? given.shape_str() : std::string("none")));
        out.narrow(1, 0, keep_rows).copy_from(given.to(Device::cpu()).to(DType::I64).narrow(1, 0, keep_rows));
    }
    IncrementalPixelCNN inc(model, n, side);
    const int64_t K = model.config.num_codes;
    std::vector<double> weight(static_cast<size_t>(K));
    Tensor column = Tensor::empty({n}, DType::I64);
    int64_t* o = out.data<int64_t>();
    int64_t* col = column.data<int64_t>();
    for (int64_t r = 0; r < side; ++r)
        for (int64_t c = 0; c < side; ++c) {
            const int64_t at = r * side + c;
            if (r >= keep_rows) {
                const Tensor logits = inc.logits(r, c).to(Device::cpu()).contiguous();  // [n, K]
                const float* lp = logits.data<float>();
                for (int64_t i = 0; i < n; ++i) {
                    // softmax(l / T) up to its normaliser z, in double
                    const float* li = lp + i * K;
                    const double mx = *std::max_element(li, li + K);
                    double z = 0;
                    for (int64_t k = 0; k < K; ++k) z += weight[size_t(k)] = std::exp((double(li[k]) - mx) / temperature);
                    const double u = gen.uniform() * z;
                    double acc = 0;
                    int64_t k = 0;
                    for (; k < K - 1; ++k)
                        if (u < (acc += weight[size_t(k)])) break;
                    o[i * side * side + at] = k;
                }
            }
            for (int64_t i = 0; i < n; ++i) col[i] = o[i * side * side + at];
            inc.set(r, c, column);
        }
    return out;
}

}  // namespace vq::models
