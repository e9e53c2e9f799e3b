// The MPI engine: OpenMPI (or any MPI) starts and wires the ranks; tensors
// travel as bytes. CUDA tensors are staged through host copies, which is
// what lets several ranks share one GPU.
#include <mpi.h>

#include <climits>
#include <stdexcept>
#include <string>

#include "distributed/mpi_engine.hpp"
#include "tensor/ops.hpp"

namespace vq::distributed {

namespace {

size_t bytes_of(const Tensor& t) { return size_t(t.numel()) * dtype_size(t.dtype()); }

int checked_count(size_t bytes, const char* op) {
    if (bytes > size_t(INT_MAX))
        throw std::runtime_error(std::string(op) + ": " + std::to_string(bytes) + " bytes is more than one MPI message holds");
    return int(bytes);
}

}  // namespace

MpiCommunicator::MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        // only the main thread calls MPI; the compute pool never does
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    // an error in any call ends the whole job rather than leaving ranks waiting
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
}

MpiCommunicator::~MpiCommunicator() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

Shape MpiCommunicator::gathered_shape(const Tensor& t) const {
    Shape shape = t.shape();
    if (shape.empty()) shape = {1};
    shape[0] *= world_;
    return shape;
}

// t: [*] on any device -> [world * d0, ...] on t's device, ranks in order
Tensor MpiCommunicator::all_gather(const Tensor& t) {
    Tensor host = t.to(Device::cpu()).contiguous();
    Tensor out = Tensor::empty(gathered_shape(host), host.dtype());
    const int bytes = checked_count(bytes_of(host), "all_gather");
    MPI_Allgather(host.raw_data(), bytes, MPI_BYTE, out.raw_data(), bytes, MPI_BYTE, MPI_COMM_WORLD);
    return out.to(t.device());
}

// Gathers every rank's t, then adds them in rank order on the host: a
// deterministic sum, where MPI_Allreduce may add in any order.
void MpiCommunicator::all_reduce_sum(Tensor& t) {
    if (!t.is_contiguous()) throw std::invalid_argument("all_reduce_sum: the tensor must be contiguous, got " + t.shape_str());
    if (world_ == 1) return;
    Tensor parts = all_gather(t.to(Device::cpu()).reshape({1, -1}));  // [world, n]
    Tensor sum = parts.select(0, 0).clone();
    for (int r = 1; r < world_; ++r) add_(sum, parts.select(0, r));
    t.copy_from(sum.reshape(t.shape()));
}

void MpiCommunicator::broadcast(Tensor& t, int root) {
    if (!t.is_contiguous()) throw std::invalid_argument("broadcast: the tensor must be contiguous, got " + t.shape_str());
    Tensor host = t.to(Device::cpu()).contiguous();  // t itself when it is on the CPU
    MPI_Bcast(host.raw_data(), checked_count(bytes_of(host), "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD);
    if (host.raw_data() != t.raw_data()) t.copy_from(host);
}

void MpiCommunicator::barrier() { MPI_Barrier(MPI_COMM_WORLD); }

void MpiCommunicator::abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
}

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

#if !VQ_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator() {
    throw std::runtime_error("this build has no NCCL: reconfigure with -Dnccl=enabled (needs CUDA and MPI)");
}
#endif

void abort_job_if_distributed(int code) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return;
    int world = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace vq::distributed
