#include "models/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace vq::models {

std::string format_duration(double s) {
    if (!(s >= 0) || s > 1e7) return "--:--";
    int64_t t = int64_t(s + 0.5);
    if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
    return fmt::format("{}:{:02}", t / 60, t % 60);
}

namespace {
bool g_progress_shown = true;
}  // namespace

void show_progress(bool shown) { g_progress_shown = shown; }

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t start)
    : label_(std::move(label)), total_(total), start_(start), tty_(isatty(STDERR_FILENO)),
      begin_(std::chrono::steady_clock::now()), last_draw_(begin_ - std::chrono::hours(1)) {}

void ProgressBar::update(int64_t done, int64_t items, const std::vector<std::pair<std::string, double>>& values) {
    items_ += items;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - begin_).count();
    rate_ = elapsed > 0 ? double(items_) / elapsed : 0;
    bool last = done >= total_;
    double since = std::chrono::duration<double>(now - last_draw_).count();
    if (!g_progress_shown || (!last && since < (tty_ ? 0.2 : 10.0))) return;
    last_draw_ = now;
    double per_unit = done > start_ ? elapsed / double(done - start_) : 0;
    double eta = per_unit * double(total_ - done);
    std::string vals;
    for (auto& [k, v] : values) vals += fmt::format(" {} {:.4g}", k, v);
    std::string line;
    if (tty_) {
        const int width = 24;
        int filled = total_ > 0 ? int(width * done / total_) : width;
        line = fmt::format("\r{} [{}{}] {}/{}{} | {:.0f} img/s | ETA {}\033[K", label_, std::string(size_t(filled), '='),
                           std::string(size_t(width - filled), ' '), done, total_, vals, rate_, format_duration(eta));
    } else {
        line = fmt::format("{} {}/{}{} | {:.0f} img/s | ETA {}\n", label_, done, total_, vals, rate_, format_duration(eta));
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::finish() {
    if (tty_ && drawn_) std::fputs("\n", stderr);
    drawn_ = false;
}

}  // namespace vq::models
