// Whole runs of the tools inside a test: a tiny IDX data set cut from
// Fashion-MNIST, so that train, evaluate and the codecs take seconds, and a
// run that must succeed (its output is printed when it does not).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "data/idx.hpp"
#include "tests/helpers.hpp"
#include "tests/process.hpp"

namespace vq::testing {

// `train` training and `test` test images under dir; returns dir.
inline std::string tiny_data(const std::string& dir, int64_t train, int64_t test) {
    for (auto [split, n] : {std::pair<const char*, int64_t>{"train", train}, {"t10k", test}}) {
        data::Dataset d = data::load_split(data::kDefaultDataDir, split);
        std::vector<uint8_t> px(d.pixels.begin(), d.pixels.begin() + n * 784);
        data::write_idx_images(dir + "/" + split + "-images-idx3-ubyte", px, n, 28, 28);
    }
    return dir;
}

inline ProcessResult run_ok(const std::string& tool_name, const std::vector<std::string>& args) {
    ProcessResult r = run_tool(tool(tool_name), args);
    INFO(tool_name << " output: " << r.output);
    REQUIRE(r.exit_code == 0);
    return r;
}

}  // namespace vq::testing
