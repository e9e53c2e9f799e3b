// matmul through cblas_sgemm / cblas_dgemm.
// a: [M, K] or [B, M, K], b: [K, N] or [B, K, N] -> [M, N] or [B, M, N].
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include <string>

#include "cuda/backend.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

namespace vq {

namespace blas {

namespace {
std::atomic<double> g_flops{0.0};
}  // namespace

void count_flops(int64_t M, int64_t N, int64_t K, int64_t batch) {
    double f = 2.0 * double(M) * double(N) * double(K) * double(batch);
    double cur = g_flops.load();
    while (!g_flops.compare_exchange_weak(cur, cur + f)) {}
}
double flops_issued() { return g_flops.load(); }

namespace {

template <typename T>
void cblas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
    auto op = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
    if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, op(ta), op(tb), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C,
                    int(ldc));
    else
        cblas_dgemm(CblasRowMajor, op(ta), op(tb), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C,
                    int(ldc));
}

// One BLAS call per part: C's rows (or columns, when it has few rows) are
// split across the pool; each part is an independent single-threaded GEMM.
template <typename T>
void split_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    count_flops(M, N, K);
    const bool split_rows = M >= N;
    const int64_t dim = split_rows ? M : N, blocks = (dim + 15) / 16;  // parts hold whole 16-wide blocks
    const int64_t flops_per_block = 2 * 16 * (split_rows ? N : M) * K;
    parallel_for(blocks, std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(1, flops_per_block)),
                 [&](int64_t, int64_t b0, int64_t b1) {
                     const int64_t i0 = b0 * 16, n = std::min(dim, b1 * 16) - i0;
                     if (split_rows)  // rows i0.. of op(A) and of C
                         cblas_call(ta, tb, n, N, K, alpha, ta ? A + i0 : A + i0 * lda, lda, B, ldb, beta, C + i0 * ldc, ldc);
                     else  // columns i0.. of op(B) and of C
                         cblas_call(ta, tb, M, n, K, alpha, A, lda, tb ? B + i0 * ldb : B + i0, ldb, beta, C + i0, ldc);
                 });
}

}  // namespace

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    split_gemm<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
    split_gemm<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int threads() { return num_threads(); }
void set_threads(int n) { set_num_threads(n); }

}  // namespace blas

namespace {

// How BLAS can read one matrix operand: its last two dims must have unit
// stride in one of them. Otherwise the operand is copied to contiguous.
struct MatrixOperand {
    Tensor t;        // possibly made contiguous
    bool trans;      // read as the transpose of a row-major matrix
    int64_t ld;      // leading dimension
};

MatrixOperand as_blas_operand(const Tensor& m) {
    int64_t nd = m.dim();
    int64_t rows = m.shape()[nd - 2], cols = m.shape()[nd - 1];
    int64_t rs = m.strides()[nd - 2], cs = m.strides()[nd - 1];
    if ((cs == 1 || cols == 1) && rs >= std::max<int64_t>(cols, 1)) return {m, false, rs};
    if ((rs == 1 || rows == 1) && cs >= std::max<int64_t>(rows, 1)) return {m, true, cs};
    Tensor c = m.contiguous();
    return {c, false, std::max<int64_t>(cols, 1)};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    check_defined(a, "matmul");
    check_defined(b, "matmul");
    if (a.dtype() != b.dtype() || a.device() != b.device())
        throw std::invalid_argument("matmul: operands differ in dtype or device");
    if (a.dim() < 2 || a.dim() > 3 || b.dim() < 2 || b.dim() > 3 || (a.dim() == 2 && b.dim() == 3))
        throw std::invalid_argument(shape_error("matmul", "expected [M,K]@[K,N], [B,M,K]@[B,K,N] or [B,M,K]@[K,N]",
                                                a.shape(), b.shape()));
    int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    if (b.size(-2) != K)
        throw std::invalid_argument(shape_error("matmul", "inner dims differ", a.shape(), b.shape()));
    if (a.dim() == 3 && b.dim() == 2) {
        // fold the batch into rows when a's batch and row dims are mergeable
        Tensor a2 = a.reshape({a.size(0) * M, K});
        return matmul(a2, b).view({a.size(0), M, N});
    }
    int64_t batch = a.dim() == 3 ? a.size(0) : 1;
    if (a.dim() == 3 && b.size(0) != batch)
        throw std::invalid_argument(shape_error("matmul", "batch sizes differ", a.shape(), b.shape()));
    Shape out_shape = a.dim() == 3 ? Shape{batch, M, N} : Shape{M, N};
    Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
    MatrixOperand A = as_blas_operand(a), B = as_blas_operand(b);
    if (a.is_cuda()) {
        if (K == 0) {
            fill_(out, 0.0);
            return out;
        }
        int64_t sa = a.dim() == 3 ? A.t.stride(0) : 0, sb = b.dim() == 3 ? B.t.stride(0) : 0;
        blas::count_flops(M, N, K, batch);
        cuda::gemm(a.dtype(), A.trans, B.trans, M, N, K, 1.0, A.t.raw_data(), A.ld, sa, B.t.raw_data(), B.ld, sb, 0.0,
                   out.raw_data(), N, M * N, batch);
        return out;
    }
    dispatch_floating(a.dtype(), "matmul", [&]<typename T>() {
        const T* pa = A.t.data<T>();
        const T* pb = B.t.data<T>();
        T* pc = out.data<T>();
        int64_t sa = a.dim() == 3 ? A.t.stride(0) : 0, sb = b.dim() == 3 ? B.t.stride(0) : 0;
        if (K == 0) {
            Tensor z = out;
            fill_(z, 0.0);
            return;
        }
        for (int64_t i = 0; i < batch; ++i)
            blas::gemm<T>(A.trans, B.trans, M, N, K, T(1), pa + i * sa, A.ld, pb + i * sb, B.ld, T(0),
                          pc + i * M * N, N);
    });
    return out;
}

}  // namespace vq
