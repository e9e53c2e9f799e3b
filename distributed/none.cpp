// Stand-ins for the MPI and NCCL engines in a build without them: connect()
// never calls these there, but they keep the link complete and say why.
#include <stdexcept>

#include "distributed/engines.hpp"

namespace vq::distributed {

std::unique_ptr<Communicator> make_mpi_communicator() {
    throw std::runtime_error("this build has no MPI: install libopenmpi-dev and reconfigure with -Dmpi=enabled");
}

std::unique_ptr<Communicator> make_nccl_communicator() {
    throw std::runtime_error("this build has no NCCL: reconfigure with -Dnccl=enabled (needs CUDA and MPI)");
}

void abort_job_if_distributed(int) {}

}  // namespace vq::distributed
