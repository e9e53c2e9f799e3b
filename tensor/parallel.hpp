// CPU parallelism: one small pool of threads that every CPU kernel shares.
//
// Why our own pool rather than OpenBLAS's threads: between GEMMs the model
// spends much of a step in im2col, col2im and elementwise loops. With
// threaded OpenBLAS those ran on one core while BLAS's idle workers spun in
// sched_yield on the other. Here the kernels split their work across the pool
// (a conv by images, a GEMM by rows or columns, an elementwise op by elements)
// and OpenBLAS always runs single-threaded inside each part, so nothing
// oversubscribes the cores.
//
// Results do not depend on timing: the split of [0, n) into parts depends only
// on n, the grain and the thread count, and partial sums are combined in part
// order.
#pragma once

#include <cstdint>
#include <functional>

namespace vq {

// Threads the CPU kernels use (default: the machine's cores, or
// VQ_NUM_THREADS when set). set_num_threads(n) changes it process-wide.
int num_threads();
void set_num_threads(int n);

// How many parts parallel_for splits n items into: at most num_threads(), and
// no part smaller than grain (1 when called from inside a part).
int64_t parallel_parts(int64_t n, int64_t grain);

// Calls fn(part, begin, end) for each part of [0, n); part p covers
// [p*n/parts, (p+1)*n/parts). Runs inline when there is one part. Parts run
// concurrently; the call returns when all are done, rethrowing the first
// exception any part threw. Nested calls run inline on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn);

// Elementwise work below this many elements stays on one thread: waking the
// pool costs a few microseconds.
inline constexpr int64_t kElementwiseGrain = int64_t(1) << 15;

}  // namespace vq
