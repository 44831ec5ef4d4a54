// A progress line on stderr for long commands: redrawn at most 10 times a
// second on a terminal; when stderr is a file or pipe, a line every 10 %.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace slimlm::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total)
      : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr)) != 0),
        t0_(std::chrono::steady_clock::now()), last_(t0_) {}

  // done of total finished; `info` is shown after the counts (e.g. running PPL).
  void update(int64_t done, const std::string& info = "") {
    const auto now = std::chrono::steady_clock::now();
    const double el = std::chrono::duration<double>(now - t0_).count();
    const bool end = done >= total_;
    if (tty_) {
      if (!end && now - last_ < std::chrono::milliseconds(100)) return;
    } else {
      const int64_t step = total_ >= 10 ? total_ / 10 : 1;
      if (!end && done / step == last_decile_) return;
      last_decile_ = done / step;
    }
    last_ = now;
    const double eta = done > 0 ? el * static_cast<double>(total_ - done) / static_cast<double>(done) : 0.0;
    fmt::print(stderr, "{}{} [{}/{}] {:3.0f}% {} | {:.1f} s, ETA {:.1f} s{}", tty_ ? "\r" : "", label_, done, total_,
               total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, info, el, eta,
               tty_ ? "\x1b[K" : "\n");
    if (end && tty_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_;
  int64_t last_decile_ = -1;
};

}  // namespace slimlm::cli
