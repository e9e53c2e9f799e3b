// The engines behind distributed::connect, each in its own file and built only when
// its library is: mpi.cpp (-Dmpi), nccl.cpp (-Dnccl), none.cpp otherwise.
#pragma once

#include <memory>

#include "distributed/communicator.hpp"

#ifndef VQ_HAVE_MPI
#define VQ_HAVE_MPI 0
#endif
#ifndef VQ_HAVE_NCCL
#define VQ_HAVE_NCCL 0
#endif

namespace vq::distributed {

std::unique_ptr<Communicator> make_mpi_communicator();
std::unique_ptr<Communicator> make_nccl_communicator();

}  // namespace vq::distributed
