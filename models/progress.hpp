// A one-line progress bar on stderr: step/total, named values, images/s and
// ETA. When stderr is not a terminal it prints a plain line every few
// seconds instead of redrawing.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace vq::models {

class ProgressBar {
public:
    ProgressBar(std::string label, int64_t total, int64_t start = 0);
    // Marks `done` units complete (of `total`), `items` images processed since the last call.
    void update(int64_t done, int64_t items, const std::vector<std::pair<std::string, double>>& values = {});
    void finish();
    double items_per_second() const { return rate_; }

private:
    std::string label_;
    int64_t total_, start_;
    bool tty_;
    std::chrono::steady_clock::time_point begin_, last_draw_;
    int64_t items_ = 0;
    double rate_ = 0;
    bool drawn_ = false;
};

std::string format_duration(double seconds);

// Process-wide: false hides every progress bar (the ranks other than 0 of a
// distributed run), which still count items for their rates.
void show_progress(bool shown);

}  // namespace vq::models
