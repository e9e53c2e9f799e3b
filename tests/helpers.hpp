// Shared test helpers: random tensors, closeness checks and naive references.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tensor/ops.hpp"
#include "tensor/random.hpp"

namespace vq::testing {

inline Tensor random_tensor(const Shape& shape, Generator& gen, DType dtype = DType::F64, double lo = -1.0,
                            double hi = 1.0) {
    return rand_uniform(shape, lo, hi, gen, dtype);
}

// Largest |a - b| / (atol + rtol * |b|) over all elements; <= 1 means close.
inline double close_ratio(const Tensor& a, const Tensor& b, double rtol, double atol) {
    std::vector<double> x = a.to_vector(), y = b.to_vector();
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i]) != std::isnan(y[i])) return INFINITY;
        if (std::isinf(y[i]) && x[i] == y[i]) continue;
        worst = std::max(worst, std::abs(x[i] - y[i]) / (atol + rtol * std::abs(y[i])));
    }
    return worst;
}

#define CHECK_CLOSE(a, b, rtol, atol)                                             \
    do {                                                                          \
        const ::vq::Tensor ca_ = (a);                                            \
        const ::vq::Tensor cb_ = (b);                                            \
        REQUIRE(ca_.shape() == cb_.shape());                                      \
        CHECK(::vq::testing::close_ratio(ca_, cb_, (rtol), (atol)) <= 1.0);       \
    } while (0)

// Naive broadcasting reference: walks the output index space with explicit
// index arithmetic, independently of the strided-loop machinery under test.
inline Tensor naive_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
    Shape out = broadcast_shapes(a.shape(), b.shape(), "naive");
    std::vector<double> va = a.to_vector(), vb = b.to_vector(), vo(size_t(shape_numel(out)));
    Shape sa = contiguous_strides(a.shape()), sb = contiguous_strides(b.shape());
    for (int64_t flat = 0; flat < shape_numel(out); ++flat) {
        int64_t rem = flat, ia = 0, ib = 0;
        for (int64_t d = int64_t(out.size()) - 1; d >= 0; --d) {
            int64_t i = rem % out[d];
            rem /= out[d];
            int64_t da = d - int64_t(out.size() - a.shape().size());
            int64_t db = d - int64_t(out.size() - b.shape().size());
            if (da >= 0 && a.shape()[da] != 1) ia += i * sa[da];
            if (db >= 0 && b.shape()[db] != 1) ib += i * sb[db];
        }
        vo[flat] = f(va[ia], vb[ib]);
    }
    return Tensor::from_vector(vo, out);
}

// A per-process scratch folder for one test: <tmp>/vq_test_<suite>_<pid>/<name>,
// created; with `fresh`, emptied first.
inline std::string test_dir(const std::string& suite, const std::string& name = "", bool fresh = false) {
    namespace fs = std::filesystem;
    fs::path d = fs::temp_directory_path() / ("vq_test_" + suite + "_" + std::to_string(::getpid()));
    if (!name.empty()) d /= name;
    if (fresh) fs::remove_all(d);
    fs::create_directories(d);
    return d.string();
}

// The text of the exception fn() throws, or "" if it returns.
inline std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

inline bool message_contains(const std::function<void()>& fn, const std::string& needle) {
    try {
        fn();
    } catch (const std::exception& e) {
        if (std::string(e.what()).find(needle) != std::string::npos) return true;
        MESSAGE("message was: " << std::string(e.what()));
        return false;
    }
    MESSAGE("no exception thrown");
    return false;
}

// Causality of a raster-order model: `diff` holds, for each b, how much each
// of `positions` outputs moved when only input changed[b] was changed
// ([changed.size(), positions], row-major). Nothing at or before changed[b]
// may move, and something after it must (or the model ignores its inputs).
inline void check_causal(const std::vector<double>& diff, const std::vector<int64_t>& changed, int64_t positions) {
    for (size_t b = 0; b < changed.size(); ++b) {
        const int64_t i = changed[b];
        CAPTURE(i);
        double before = 0, after = 0;
        for (int64_t j = 0; j < positions; ++j) {
            double& side = j <= i ? before : after;
            side = std::max(side, diff[b * size_t(positions) + size_t(j)]);
        }
        CHECK(before == 0.0);
        if (i < positions - 1) CHECK(after > 1e-6);
    }
}

}  // namespace vq::testing
