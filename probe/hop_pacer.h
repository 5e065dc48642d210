#pragma once
/// Paces the probes that expire at one hop distance (TTL) so that the routers
/// there are not asked for more ICMP answers than they give. Routers police
/// their ICMP errors (Linux: 1000/s with bursts of 50 overall, one per second
/// per destination after a burst of 6; real routers at least as hard), and an
/// answer our own burst starved is evidence lost. Unlimited until a control
/// group shows a router at this TTL starved; then the rate becomes the
/// answers per second the routers there gave lately (at least kMinRate, at
/// most what was sent) and creeps back up by a quarter each second without
/// starvation. Pure: time is a parameter.
/// Not thread-safe (owned by the probe loop).

#include <algorithm>
#include <cmath>

#include "probe/trace.h"

namespace portpath::probe {

class HopPacer {
 public:
  /// Linux refills one ICMP token a second per destination: pacing below that
  /// would only waste the routers' budget.
  static constexpr double kMinRate = 1.0;  // probes per second
  static constexpr double kUnlimitedAbove = 1e5;

  bool limited() const { return rate_ > 0; }
  double rate() const { return rate_; }

  bool TryTake(TimePoint now) {
    MaybeRaise(now);
    if (!limited()) return true;
    Refill(now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  /// For a probe that must leave now (the rest of a control group).
  void TakeOnCredit(TimePoint now) {
    if (!limited()) return;
    Refill(now);
    tokens_ -= 1;
  }
  /// Gives back a token taken for a probe that did not leave after all.
  void Refund() {
    if (limited()) tokens_ = std::min(burst(), tokens_ + 1);
  }
  /// Probes that may leave now (large when unlimited).
  int Available(TimePoint now) {
    if (!limited()) return 1 << 20;
    Refill(now);
    return tokens_ < 1 ? 0 : static_cast<int>(tokens_);
  }
  Duration WaitTime(TimePoint now) {
    if (!limited()) return Duration::zero();
    Refill(now);
    if (tokens_ >= 1) return Duration::zero();
    // Rounded up: a wait that rounds down to zero would spin the loop.
    return Duration(static_cast<Duration::rep>(std::ceil((1 - tokens_) / rate_ * 1e9)));
  }

  /// Counts a probe sent at this TTL (for the rate being sent here).
  void OnSent(TimePoint now) {
    Roll(now);
    ++sent_now_;
  }
  /// A router at this TTL answered time-exceeded.
  void OnAnswered(TimePoint now) {
    Roll(now);
    ++answered_now_;
  }
  /// A control sent at `sent` found a router at this TTL with an empty budget:
  /// what was asked of it exceeds what it gives, so the answers that came
  /// lately are its budget. The rate becomes that (at least kMinRate, never
  /// above what was being sent nor above the rate already set), and not a
  /// fraction of the previous rate: controls given up on after a few round
  /// trips report starvation many times a second, and compounding cuts would
  /// fall far below the budget. Controls sent before the last slow-down say
  /// nothing about the new rate.
  void Starved(TimePoint now, TimePoint sent) {
    if (started_starving_ && sent <= last_starved_) return;
    Roll(now);
    // Answers per second of wall time since the window before began, lulls
    // included: it rolls at the first event a second or more after it began, so it
    // spans 1 to 2 s of which only the first second holds events. This reads below
    // what the router gives while asked (dividing by the active second alone gave
    // that), on purpose: the time-exceeded counted at one TTL are not all of its
    // router's answers (its unreachables and its answers at other TTLs draw on the
    // same budget), and the lower reading left room for them: 1,000 targets under
    // the global budget took 2.4-2.6 s with it against 3.1-3.5 s without
    // (bench/peers/RESULTS.md). Pacing lower costs time, never a verdict. A span
    // under a second is read as one (a rate from a few milliseconds is noise).
    double span =
        std::max(1.0, before_span_ + std::chrono::duration<double>(now - window_start_).count());
    double sending = (sent_before_ + sent_now_) / span;
    double answering = (answered_before_ + answered_now_) / span;
    double base = std::min(sending, answering);
    // A report never speeds a paced TTL up: `answering` counts every router at
    // this TTL, and `sending` the probes that rode on another's token.
    if (limited()) base = std::min(base, rate_);
    rate_ = std::max(kMinRate, base);
    Refill(now);
    tokens_ = std::min(tokens_, burst());
    started_starving_ = true;
    last_starved_ = last_raise_ = now;
  }

 private:
  double burst() const { return std::max(1.0, rate_ / 20); }
  void Refill(TimePoint now) {
    if (now > last_refill_) {
      tokens_ = std::min(
          burst(), tokens_ + std::chrono::duration<double>(now - last_refill_).count() * rate_);
      last_refill_ = now;
    }
  }
  void MaybeRaise(TimePoint now) {
    if (!limited() || now - last_starved_ < std::chrono::seconds(2) ||
        now - last_raise_ < std::chrono::seconds(1))
      return;
    Refill(now);
    rate_ *= 1.25;
    last_raise_ = now;
    if (rate_ > kUnlimitedAbove) rate_ = 0;
  }
  // Probes sent and answered in the current window (a second or more) and the
  // one before it, and how long that one lasted.
  void Roll(TimePoint now) {
    if (now - window_start_ < std::chrono::seconds(1)) return;
    bool adjacent = now - window_start_ < std::chrono::seconds(2);
    sent_before_ = adjacent ? sent_now_ : 0;
    answered_before_ = adjacent ? answered_now_ : 0;
    before_span_ = adjacent ? std::chrono::duration<double>(now - window_start_).count() : 0;
    sent_now_ = 0;
    answered_now_ = 0;
    window_start_ = now;
  }

  double rate_ = 0;  // probes per second; 0 = unlimited
  double tokens_ = 0;
  TimePoint last_refill_{};
  TimePoint last_starved_{};
  TimePoint last_raise_{};
  bool started_starving_ = false;
  TimePoint window_start_{};
  int sent_now_ = 0;
  int sent_before_ = 0;
  int answered_now_ = 0;
  int answered_before_ = 0;
  double before_span_ = 0;  // seconds
};

}  // namespace portpath::probe
