// The MPI engine's class, shared with the NCCL engine (which keeps MPI for
// the launch and for CPU tensors).
#pragma once

#include "distributed/engines.hpp"

namespace vq::distributed {

class MpiCommunicator : public Communicator {
public:
    MpiCommunicator();
    ~MpiCommunicator() override;
    int rank() const override { return rank_; }
    int world_size() const override { return world_; }
    const char* engine() const override { return "mpi"; }
    void all_reduce_sum(Tensor& t) override;
    Tensor all_gather(const Tensor& t) override;
    void broadcast(Tensor& t, int root) override;
    void barrier() override;
    [[noreturn]] void abort(int code) override;

protected:
    // t: [d0, ...] (or a scalar, as [1]) -> [world * d0, ...], the shape every all_gather returns
    Shape gathered_shape(const Tensor& t) const;
    int rank_ = 0, world_ = 1;
};

}  // namespace vq::distributed
