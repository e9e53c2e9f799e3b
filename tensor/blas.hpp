// Row-major GEMM on raw CPU buffers through OpenBLAS, for f32 and f64:
// C[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] + beta * C.
#pragma once

#include <cstdint>

namespace vq::blas {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// GEMM floating-point operations issued so far (2 M N K per product, on any
// device): bench reads the difference over one training step.
void count_flops(int64_t M, int64_t N, int64_t K, int64_t batch = 1);
double flops_issued();

// The CPU kernels' thread count (tensor/parallel.hpp; OpenBLAS itself runs
// single-threaded inside each part); set_threads(n) changes it process-wide.
int threads();
void set_threads(int n);

}  // namespace vq::blas
