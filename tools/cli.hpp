// The rules every tool's flags follow, in one place.
//
// Numbers are checked as numbers: a value is parsed whole, must be finite,
// and must lie in its range, and the message prints the range as a person
// writes it ("--temperature: expected a finite number > 0, got 'nan'").
// CLI11's own Range and PositiveNumber let NaN through (every comparison with
// NaN is false) and print the limits of a double in full, so no tool uses
// them.
//
// Paths are checked as files: an output may never be one of the inputs
// (io::refuse_output_over_input compares device and inode).
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace vq::cli {

inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();

// A real number in [lo, hi], or (lo, hi] when lo_open; hi = kNoLimit for none.
inline CLI::Validator real_in(double lo, double hi, bool lo_open = false) {
    std::string range = hi == kNoLimit ? fmt::format("{} {}", lo_open ? ">" : ">=", lo)
                                       : fmt::format("in {}{}, {}]", lo_open ? "(" : "[", lo, hi);
    std::string what = "a finite number " + range;
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            const char* s = text.c_str();
            char* end = nullptr;
            errno = 0;
            double v = std::strtod(s, &end);
            if (end == s || *end != '\0') return "expected " + what + ", got '" + text + "'";
            if (!std::isfinite(v) || errno == ERANGE) return "expected " + what + ", got '" + text + "'";
            if (v < lo || (lo_open && v == lo) || v > hi) return "expected " + what + ", got " + text;
            return "";
        },
        what);
}

// A real number > 0 (and at most hi).
inline CLI::Validator positive_real(double hi = kNoLimit) { return real_in(0, hi, true); }

// An integer in lo..hi.
inline CLI::Validator count_in(int64_t lo, int64_t hi) {
    std::string what = hi == std::numeric_limits<int64_t>::max() ? fmt::format("an integer >= {}", lo)
                                                                 : fmt::format("an integer in {}..{}", lo, hi);
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            const char* s = text.c_str();
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(s, &end, 10);
            if (end == s || *end != '\0' || errno == ERANGE) return "expected " + what + ", got '" + text + "'";
            if (v < lo || v > hi) return "expected " + what + ", got " + text;
            return "";
        },
        what);
}

// An integer >= lo, with no upper limit but the type's.
inline CLI::Validator at_least(int64_t lo) { return count_in(lo, std::numeric_limits<int64_t>::max()); }

// The names of the options given on the command line that are not in `allowed`.
inline std::vector<std::string> given_except(const CLI::App& app, const std::vector<std::string>& allowed) {
    std::vector<std::string> out;
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->count() == 0 || opt->get_name() == "--help") continue;
        bool ok = false;
        for (const std::string& a : allowed) ok = ok || opt->get_name() == a;
        if (!ok) out.push_back(opt->get_name());
    }
    return out;
}

}  // namespace vq::cli
