#pragma once
/// Global probe-rate limit: a token bucket over an injected time. Not thread-safe.

#include <algorithm>

#include "probe/trace.h"

namespace portpath::probe {

class Pacer {
 public:
  /// rate in packets per second; the burst is 10 ms worth (at least one packet),
  /// so a loop that wakes late can catch up without flooding.
  explicit Pacer(double rate) : rate_(std::max(rate, 0.001)), burst_(std::max(1.0, rate_ / 100)) {}

  bool TryTake(TimePoint now) {
    Refill(now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  /// Takes a token even when none is left (the debt delays later probes).
  void TakeOnCredit(TimePoint now) {
    Refill(now);
    tokens_ -= 1;
  }
  /// How long until a token is available.
  Duration WaitTime(TimePoint now) {
    Refill(now);
    if (tokens_ >= 1) return Duration::zero();
    return std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>((1 - tokens_) / rate_));
  }

 private:
  void Refill(TimePoint now) {
    if (!started_) {
      started_ = true;
      last_ = now;
      tokens_ = burst_;
      return;
    }
    if (now > last_) {
      tokens_ =
          std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
      last_ = now;
    }
  }

  double rate_;
  double burst_;
  double tokens_ = 0;
  bool started_ = false;
  TimePoint last_{};
};

}  // namespace portpath::probe
