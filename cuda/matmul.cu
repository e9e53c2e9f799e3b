// GEMM through cuBLAS. cuBLAS is column-major; a row-major C = A B is the
// column-major C^T = B^T A^T, so the operands swap and nothing is copied.
#include <cublas_v2.h>

#include <string>

#include "cuda/kernel_utils.cuh"

namespace vq::cuda {

namespace {

bool g_tf32 = false;

cublasHandle_t handle() {
    static cublasHandle_t h = [] {
        cublasHandle_t made;
        if (cublasCreate(&made) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cuBLAS: cublasCreate failed");
        return made;
    }();
    cublasSetMathMode(h, g_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH);
    return h;
}

void check(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("cuBLAS error ") + std::to_string(int(s)) + " in " + what);
}

}  // namespace

void set_tf32(bool enabled) { g_tf32 = enabled; }

void gemm(DType dtype, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
          int64_t sa, const void* B, int64_t ldb, int64_t sb, double beta, void* C, int64_t ldc, int64_t sc,
          int64_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (dtype == DType::F32) {
        float al = float(alpha), be = float(beta);
        check(cublasSgemmStridedBatched(handle(), op_b, op_a, int(N), int(M), int(K), &al, static_cast<const float*>(B),
                                        int(ldb), sb, static_cast<const float*>(A), int(lda), sa, &be,
                                        static_cast<float*>(C), int(ldc), sc, int(batch)),
              "cublasSgemmStridedBatched");
    } else if (dtype == DType::F64) {
        check(cublasDgemmStridedBatched(handle(), op_b, op_a, int(N), int(M), int(K), &alpha, static_cast<const double*>(B),
                                        int(ldb), sb, static_cast<const double*>(A), int(lda), sa, &beta,
                                        static_cast<double*>(C), int(ldc), sc, int(batch)),
              "cublasDgemmStridedBatched");
    } else {
        throw std::invalid_argument("gemm: expected f32 or f64");
    }
}

}  // namespace vq::cuda
