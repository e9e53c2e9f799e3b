// The single-process engine, the launch environment, and the choice of engine.
#include "distributed/communicator.hpp"

#include <cstdlib>
#include <stdexcept>

#include "cuda/backend.hpp"
#include "distributed/engines.hpp"

namespace vq::distributed {

namespace {

// One process: every collective is the identity.
class SingleProcess : public Communicator {
public:
    int rank() const override { return 0; }
    int world_size() const override { return 1; }
    const char* engine() const override { return "single"; }
    void all_reduce_sum(Tensor&) override {}
    Tensor all_gather(const Tensor& t) override { return t; }
    void broadcast(Tensor&, int) override {}
    void barrier() override {}
    [[noreturn]] void abort(int code) override { std::exit(code); }
};

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    return (end && *end == 0) ? int(x) : fallback;
}

}  // namespace

Launch launch_from_environment() {
    Launch l;
    // OpenMPI, then PMI (MPICH, Intel MPI), then Slurm's srun
    const char* sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    const char* ranks[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"};
    const char* locals[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (int i = 0; i < 3; ++i) {
        if (!std::getenv(sizes[i])) continue;
        l.launched = true;
        l.world = env_int(sizes[i], 1);
        l.rank = env_int(ranks[i], 0);
        l.local_rank = env_int(locals[i], l.rank);
        break;
    }
    return l;
}

bool built_with_mpi() { return VQ_HAVE_MPI; }
bool built_with_nccl() { return VQ_HAVE_NCCL; }

std::unique_ptr<Communicator> connect(Device device, const std::string& engine) {
    if (engine != "auto" && engine != "mpi" && engine != "nccl")
        throw std::invalid_argument("--dist-engine: expected auto, mpi or nccl, got '" + engine + "'");
    const Launch l = launch_from_environment();
    if (!built_with_mpi()) {
        if (l.world > 1)
            throw std::runtime_error("launched as rank " + std::to_string(l.rank) + " of " + std::to_string(l.world) +
                                     " by an MPI launcher, but this build has no MPI: install libopenmpi-dev and "
                                     "reconfigure with -Dmpi=enabled (each rank would otherwise train alone and "
                                     "overwrite the others' files)");
        if (engine != "auto") throw std::runtime_error("--dist-engine " + engine + ": this build has no MPI (-Dmpi=enabled)");
    }
    if (!built_with_mpi() || (!l.launched && engine == "auto")) {  // one process
        if (device.is_cuda()) cuda::use_device(0);
        return std::make_unique<SingleProcess>();
    }
    const bool nccl = device.is_cuda() && (engine == "nccl" || (engine == "auto" && built_with_nccl()));
    if (nccl && !built_with_nccl()) throw std::runtime_error("--dist-engine nccl: this build has no NCCL (-Dnccl=enabled)");
    if (device.is_cuda()) {
        // NCCL: one GPU per rank, by local rank. Through MPI (host copies),
        // ranks may share GPUs, assigned round-robin.
        const int gpus = cuda::device_count();
        if (nccl && l.local_rank >= gpus)
            throw std::runtime_error("rank " + std::to_string(l.rank) + " (local rank " + std::to_string(l.local_rank) +
                                     ") needs GPU " + std::to_string(l.local_rank) + ", but " + std::to_string(gpus) +
                                     " are visible: start at most one rank per GPU, or use --dist-engine mpi to "
                                     "share GPUs through host copies");
        cuda::use_device(gpus > 0 ? l.local_rank % gpus : 0);
    }
    return nccl ? make_nccl_communicator() : make_mpi_communicator();
}

}  // namespace vq::distributed
