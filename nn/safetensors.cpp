#include "nn/safetensors.hpp"

#include "io/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace vq::nn {

using json = nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
    throw std::runtime_error(name + ": " + what);
}

const char* st_dtype(DType d) {
    switch (d) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
    }
    return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
    if (s == "F32") out = DType::F32;
    else if (s == "F64") out = DType::F64;
    else if (s == "I64") out = DType::I64;
    else return false;
    return true;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    std::vector<Tensor> host;
    for (const auto& [name, t] : tensors) {  // std::map: sorted names, as the Python writer does
        Tensor c = t.to(Device::cpu()).contiguous();
        uint64_t nbytes = uint64_t(c.numel()) * dtype_size(c.dtype());
        header[name] = {{"dtype", st_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
        host.push_back(c);
    }
    std::string h = header.dump();
    while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data to 8 bytes
    std::string bytes;
    bytes.reserve(8 + h.size() + offset);
    uint64_t hl = h.size();
    for (int i = 0; i < 8; ++i) bytes.push_back(char((hl >> (8 * i)) & 0xff));  // little-endian
    bytes += h;
    for (const Tensor& c : host) bytes.append(static_cast<const char*>(c.raw_data()), size_t(c.numel()) * dtype_size(c.dtype()));
    io::write_file_atomic(path, bytes);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name) {
    if (bytes.size() < 8) fail(name, "file is " + std::to_string(bytes.size()) + " bytes, too short for a safetensors header");
    uint64_t hl = 0;
    for (int i = 0; i < 8; ++i) hl |= uint64_t(uint8_t(bytes[i])) << (8 * i);
    if (hl > bytes.size() - 8)
        fail(name, "header length " + std::to_string(hl) + " exceeds the file size " + std::to_string(bytes.size()));
    json header;
    try {
        header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(hl));
    } catch (const json::exception& e) {
        fail(name, std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) fail(name, "header is not a JSON object");
    const uint64_t data_size = bytes.size() - 8 - hl;
    const char* data = bytes.data() + 8 + hl;
    SafetensorsFile out;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& key = it.key();
        const json& v = it.value();
        if (key == "__metadata__") {
            if (!v.is_object()) fail(name, "__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string()) fail(name, "__metadata__ value '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string what = "tensor '" + key + "'";
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            fail(name, what + " needs dtype, shape and data_offsets");
        if (!v["dtype"].is_string()) fail(name, what + ": dtype is not a string");
        DType dtype;
        std::string ds = v["dtype"].get<std::string>();
        if (!parse_dtype(ds, dtype)) fail(name, what + ": unsupported dtype '" + ds + "' (expected F32, F64 or I64)");
        const json& js = v["shape"];
        if (!js.is_array()) fail(name, what + ": shape is not an array");
        Shape shape;
        uint64_t numel = 1;
        for (const json& d : js) {
            if (!d.is_number_unsigned()) fail(name, what + ": shape entries must be non-negative integers");
            uint64_t s = d.get<uint64_t>();
            if (s > (uint64_t(1) << 40) || (s && numel > (uint64_t(1) << 40) / s)) fail(name, what + ": shape is too large");
            numel *= s;
            shape.push_back(int64_t(s));
        }
        const json& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            fail(name, what + ": data_offsets must be two non-negative integers");
        uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
        if (b > e || e > data_size)
            fail(name, what + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                           "] outside the data section of " + std::to_string(data_size) + " bytes");
        if (e - b != numel * dtype_size(dtype))
            fail(name, what + ": shape " + shape_str(shape) + " of " + ds + " needs " +
                           std::to_string(numel * dtype_size(dtype)) + " bytes, but data_offsets span " +
                           std::to_string(e - b));
        ranges.emplace_back(b, e);
        Tensor t = Tensor::empty(shape, dtype);
        if (e > b) std::memcpy(t.raw_data(), data + b, e - b);
        out.tensors[key] = t;
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second && ranges[i].first != ranges[i].second)
            fail(name, "tensor data ranges overlap at byte " + std::to_string(ranges[i].first));
    return out;
}

SafetensorsFile load_safetensors(const std::string& path) { return parse_safetensors(io::read_file(path), path); }

}  // namespace vq::nn
