// The thread pool behind parallel_for: workers wait for a new "generation" of
// work, spin briefly first (most kernels follow each other within
// microseconds), then sleep on a condition variable.
#include "tensor/parallel.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vq {

namespace {

thread_local bool t_inside_part = false;

class Pool {
public:
    explicit Pool(int n) { resize(n); }
    ~Pool() { stop_workers(); }

    int size() const { return int(workers_.size()) + 1; }

    void resize(int n) {
        n = std::max(1, n);
        if (n == size()) return;
        stop_workers();
        stop_ = false;
        // a worker starts from the generation current now, not when its thread
        // first runs: a job posted in between must not be missed
        const uint64_t start = generation_.load();
        for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, start] { worker_loop(i, start); });
    }

    // runs fn(p) for p in [0, parts) with part 0 on the calling thread
    void run(int64_t parts, const std::function<void(int64_t)>& fn) {
        std::lock_guard<std::mutex> one_job_at_a_time(run_mutex_);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = &fn;
            parts_ = parts;
            pending_.store(int(parts - 1));
            error_ = nullptr;
            generation_.fetch_add(1);
        }
        wake_.notify_all();
        run_part(fn, 0);
        while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
        if (error_) std::rethrow_exception(error_);
    }

private:
    void run_part(const std::function<void(int64_t)>& fn, int64_t p) {
        t_inside_part = true;
        try {
            fn(p);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        t_inside_part = false;
    }

    void worker_loop(int index, uint64_t seen) {
        for (;;) {
            // spin a little before sleeping: the next kernel usually comes soon
            for (int i = 0; i < 2000 && generation_.load(std::memory_order_acquire) == seen && !stop_; ++i)
                __builtin_ia32_pause();
            const std::function<void(int64_t)>* job;
            int64_t parts;
            {
                // the job is read under the lock: a worker with no part in this
                // generation must not see the next one's job half-written
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
                if (stop_) return;
                seen = generation_.load();
                job = job_;
                parts = parts_;
            }
            if (index < parts) {
                run_part(*job, index);
                pending_.fetch_sub(1, std::memory_order_release);
            }
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (std::thread& t : workers_) t.join();
        workers_.clear();
    }

    std::vector<std::thread> workers_;
    std::mutex run_mutex_, mutex_, error_mutex_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t parts_ = 0;
    std::exception_ptr error_;
    std::atomic<bool> stop_{false};
};

int default_threads() {
    if (const char* env = std::getenv("VQ_NUM_THREADS")) {
        int n = std::atoi(env);
        if (n > 0) return n;
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
    // OpenBLAS runs single-threaded inside each part (see parallel.hpp)
    static Pool p = (openblas_set_num_threads(1), Pool(default_threads()));
    return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n); }

int64_t parallel_parts(int64_t n, int64_t grain) {
    if (t_inside_part || n <= 0) return 1;
    return std::clamp<int64_t>(n / std::max<int64_t>(1, grain), 1, num_threads());
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    const int64_t parts = parallel_parts(n, grain);
    if (parts == 1) {
        fn(0, 0, n);
        return;
    }
    pool().run(parts, [&](int64_t p) { fn(p, p * n / parts, (p + 1) * n / parts); });
}

}  // namespace vq
