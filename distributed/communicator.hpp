// Data-parallel training: what the training loop needs from a group of
// processes ("ranks"), behind one small interface with three engines:
//   - single process (the default): every collective is the identity;
//   - MPI (-Dmpi): launch with `mpirun -np N`; reduces CPU tensors, and CUDA
//     tensors through host copies (several ranks may then share one GPU);
//   - NCCL (-Dnccl, with CUDA and MPI): CUDA tensors reduced on the GPUs,
//     MPI only to start the ranks and broadcast NCCL's id from rank 0.
// The engine is chosen at start-up from the build and the launch
// (distributed::connect); code above it never asks which.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tensor/tensor.hpp"

namespace vq::distributed {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int world_size() const = 0;
    virtual const char* engine() const = 0;  // "single", "mpi" or "nccl"

    // t = the sum of every rank's t, in place (t contiguous, f32, f64 or i64).
    // The MPI engine adds in rank order, ((t_0 + t_1) + t_2) + ..., the order in
    // which one process accumulates the same parts, so that N ranks and N
    // micro-batches give the same bits.
    virtual void all_reduce_sum(Tensor& t) = 0;
    // Every rank's t (same shape everywhere), concatenated along dim 0 in rank order.
    virtual Tensor all_gather(const Tensor& t) = 0;
    // t = root's t, in place.
    virtual void broadcast(Tensor& t, int root) = 0;
    virtual void barrier() = 0;
    // Ends every rank of the job now with `code` (MPI_Abort); a single
    // process just exits.
    [[noreturn]] virtual void abort(int code) = 0;
};

// The communicator for this process. Under mpirun (and with an MPI build) it
// joins the job; tensors on `device` pick NCCL where it was built. A process
// started by mpirun with more than one rank in a build without MPI throws:
// N copies of one single-process run would train alone and overwrite each
// other's files.
// engine: "auto" (NCCL for CUDA tensors where built, else MPI), "mpi" (CUDA
// tensors through host copies) or "nccl".
std::unique_ptr<Communicator> connect(Device device, const std::string& engine = "auto");

// Whether this build has the MPI and NCCL engines (meson -Dmpi, -Dnccl).
bool built_with_mpi();
bool built_with_nccl();

// If this process is one rank of several, ends the whole job (MPI_Abort)
// rather than leave the others waiting in a collective. Otherwise returns.
void abort_job_if_distributed(int code);

// Rank and size that a launcher (OpenMPI, MPICH/PMI, Slurm) announces in the
// environment, read without initialising MPI. world 1 when not launched so.
struct Launch {
    bool launched = false;
    int rank = 0, world = 1, local_rank = 0;
};
Launch launch_from_environment();

}  // namespace vq::distributed
