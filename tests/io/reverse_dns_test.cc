#include "probe/io/reverse_dns.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace portpath::io {
namespace {

using packet::IpAddress;
using namespace std::chrono_literals;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// A scripted LookupFn. Held by shared_ptr and captured by value, so a worker
// the destructor detached can still use it after the test body moves on.
class FakeResolver {
 public:
  void SetName(const IpAddress& address, std::optional<std::string> name) {
    std::lock_guard lock(mu_);
    names_[address] = std::move(name);
  }
  void CloseGate() {
    std::lock_guard lock(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  /// Waits until at least n calls have started; false after 5 s.
  bool WaitStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return started_ >= n; });
  }
  /// Waits until at least n calls have returned; false after 5 s.
  bool WaitFinished(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return finished_ >= n; });
  }
  int calls() {
    std::lock_guard lock(mu_);
    return started_;
  }
  int calls_for(const IpAddress& address) {
    std::lock_guard lock(mu_);
    return per_address_[address];
  }
  int running() {
    std::lock_guard lock(mu_);
    return running_;
  }
  int max_running() {
    std::lock_guard lock(mu_);
    return max_running_;
  }

  std::optional<std::string> Lookup(const IpAddress& address) {
    std::unique_lock lock(mu_);
    ++started_;
    ++per_address_[address];
    ++running_;
    max_running_ = std::max(max_running_, running_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return gate_open_; });
    --running_;
    ++finished_;
    cv_.notify_all();
    auto it = names_.find(address);
    if (it == names_.end()) return std::nullopt;
    return it->second;
  }

  static ReverseDns::LookupFn Fn(const std::shared_ptr<FakeResolver>& fake) {
    return [fake](const IpAddress& address) { return fake->Lookup(address); };
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<IpAddress, std::optional<std::string>> names_;
  std::map<IpAddress, int> per_address_;
  bool gate_open_ = true;
  int started_ = 0;
  int finished_ = 0;
  int running_ = 0;
  int max_running_ = 0;
};

// A steady clock the test moves by hand.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> seconds =
      std::make_shared<std::atomic<std::int64_t>>(0);
  void Advance(std::chrono::seconds d) { *seconds += d.count(); }
  ReverseDns::Clock Fn() const {
    return
        [s = seconds] { return std::chrono::steady_clock::time_point(std::chrono::seconds(*s)); };
  }
};

ReverseDnsOptions Fast() {
  ReverseDnsOptions options;
  options.timeout = 5s;  // Only reached when a test is broken: answers come at once.
  options.max_in_flight = 4;
  return options;
}

TEST(ReverseDnsTest, ResolvesNamesInOrderWithNulloptForFailures) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "core1.example.net");
  fake->SetName(Ip("2001:db8::1"), "edge1.example.net");
  ReverseDns dns(Fast(), FakeResolver::Fn(fake));

  auto names = dns.Resolve({Ip("192.0.2.1"), Ip("198.51.100.7"), Ip("2001:db8::1")});

  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "core1.example.net");
  EXPECT_EQ(names[1], std::nullopt);
  EXPECT_EQ(names[2], "edge1.example.net");
}

TEST(ReverseDnsTest, CacheHitDoesNotCallLookupAgain) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "core1.example.net");
  ReverseDns dns(Fast(), FakeResolver::Fn(fake));

  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), std::nullopt);
  dns.Resolve({Ip("192.0.2.1")});
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.1")})[0], "core1.example.net");
  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), "core1.example.net");
  dns.Prefetch({Ip("192.0.2.1")});
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.1")})[0], "core1.example.net");

  EXPECT_EQ(fake->calls(), 1);
}

TEST(ReverseDnsTest, FailuresAreCachedNegatively) {
  auto fake = std::make_shared<FakeResolver>();
  ReverseDns dns(Fast(), FakeResolver::Fn(fake));

  EXPECT_EQ(dns.Resolve({Ip("198.51.100.7")})[0], std::nullopt);
  EXPECT_EQ(dns.Resolve({Ip("198.51.100.7")})[0], std::nullopt);

  EXPECT_EQ(fake->calls(), 1);
}

TEST(ReverseDnsTest, PositiveTtlExpiresOnTheInjectedClock) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "old.example.net");
  FakeClock clock;
  ReverseDnsOptions options = Fast();
  options.positive_ttl = 3600s;
  ReverseDns dns(options, FakeResolver::Fn(fake), clock.Fn());
  dns.Resolve({Ip("192.0.2.1")});
  fake->SetName(Ip("192.0.2.1"), "new.example.net");

  clock.Advance(3599s);
  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), "old.example.net");
  clock.Advance(1s);
  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), std::nullopt);
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.1")})[0], "new.example.net");
  EXPECT_EQ(fake->calls(), 2);
}

TEST(ReverseDnsTest, NegativeTtlIsShorterAndExpires) {
  auto fake = std::make_shared<FakeResolver>();
  FakeClock clock;
  ReverseDnsOptions options = Fast();
  options.negative_ttl = 300s;
  ReverseDns dns(options, FakeResolver::Fn(fake), clock.Fn());
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.9")})[0], std::nullopt);
  fake->SetName(Ip("192.0.2.9"), "fixed.example.net");

  clock.Advance(299s);
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.9")})[0], std::nullopt);
  EXPECT_EQ(fake->calls(), 1);
  clock.Advance(1s);
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.9")})[0], "fixed.example.net");
  EXPECT_EQ(fake->calls(), 2);
}

TEST(ReverseDnsTest, TimeoutReturnsNulloptAndTheSlowLookupFillsTheCacheLater) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "fast.example.net");
  fake->SetName(Ip("192.0.2.2"), "slow.example.net");
  ReverseDnsOptions options = Fast();
  options.timeout = 30ms;
  ReverseDns dns(options, FakeResolver::Fn(fake));
  dns.Resolve({Ip("192.0.2.1")});
  fake->CloseGate();

  auto start = std::chrono::steady_clock::now();
  auto names = dns.Resolve({Ip("192.0.2.1"), Ip("192.0.2.2")});
  auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(names[0], "fast.example.net");
  EXPECT_EQ(names[1], std::nullopt);
  EXPECT_GE(elapsed, 30ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(dns.Cached(Ip("192.0.2.2")), std::nullopt);

  fake->OpenGate();
  // Each Resolve waits at most 30 ms for the pending answer; retry rather than
  // sleep so a loaded machine does not make this flaky.
  std::optional<std::string> later;
  for (int i = 0; i < 300 && !later; ++i) later = dns.Resolve({Ip("192.0.2.2")})[0];
  EXPECT_EQ(later, "slow.example.net");
  EXPECT_EQ(dns.Cached(Ip("192.0.2.2")), "slow.example.net");
  EXPECT_EQ(fake->calls_for(Ip("192.0.2.2")), 1);
}

TEST(ReverseDnsTest, NeverRunsMoreThanMaxInFlightLookups) {
  auto fake = std::make_shared<FakeResolver>();
  std::vector<IpAddress> addresses;
  for (int i = 1; i <= 10; ++i) {
    IpAddress a = IpAddress::V4(0xC0000200u + i);  // 192.0.2.i
    fake->SetName(a, "hop" + std::to_string(i) + ".example.net");
    addresses.push_back(a);
  }
  ReverseDnsOptions options = Fast();
  options.max_in_flight = 3;
  ReverseDns dns(options, FakeResolver::Fn(fake));
  fake->CloseGate();

  dns.Prefetch(addresses);
  ASSERT_TRUE(fake->WaitStarted(3));
  EXPECT_EQ(fake->running(), 3);
  fake->OpenGate();
  auto names = dns.Resolve(addresses);

  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(names[i], "hop" + std::to_string(i + 1) + ".example.net") << i;
  EXPECT_EQ(fake->max_running(), 3);
  EXPECT_EQ(fake->calls(), 10);
}

TEST(ReverseDnsTest, DuplicateAddressesAreLookedUpOnce) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "core1.example.net");
  ReverseDns dns(Fast(), FakeResolver::Fn(fake));
  fake->CloseGate();

  dns.Prefetch({Ip("192.0.2.1"), Ip("192.0.2.1"), Ip("192.0.2.1")});
  ASSERT_TRUE(fake->WaitStarted(1));
  dns.Prefetch({Ip("192.0.2.1")});  // in flight: not queued again
  fake->OpenGate();
  auto names = dns.Resolve({Ip("192.0.2.1"), Ip("192.0.2.1")});

  EXPECT_EQ(names[0], "core1.example.net");
  EXPECT_EQ(names[1], "core1.example.net");
  EXPECT_EQ(fake->calls(), 1);
}

TEST(ReverseDnsTest, DestructorReturnsPromptlyWhileALookupIsBlocked) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "hung.example.net");
  fake->CloseGate();
  ReverseDnsOptions options = Fast();
  options.timeout = 30ms;
  auto dns = std::make_unique<ReverseDns>(options, FakeResolver::Fn(fake));
  dns->Prefetch({Ip("192.0.2.1"), Ip("192.0.2.2"), Ip("192.0.2.3"), Ip("192.0.2.4"),
                 Ip("192.0.2.5"), Ip("192.0.2.6")});
  ASSERT_TRUE(fake->WaitStarted(4));

  auto start = std::chrono::steady_clock::now();
  dns.reset();
  auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_LT(elapsed, 2s);
  // The detached workers finish their lookups against state that outlived the
  // object, and the two queued addresses are never looked up.
  fake->OpenGate();
  EXPECT_TRUE(fake->WaitFinished(4));
  EXPECT_EQ(fake->calls(), 4);
}

TEST(ReverseDnsTest, DestructorJoinsIdleWorkers) {
  auto fake = std::make_shared<FakeResolver>();
  ReverseDnsOptions options = Fast();
  options.timeout = 10s;  // would show up as a slow test if the destructor waited for it
  auto start = std::chrono::steady_clock::now();
  { ReverseDns dns(options, FakeResolver::Fn(fake)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ReverseDnsTest, CacheEvictsTheLeastRecentlyUsed) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "a.example.net");
  fake->SetName(Ip("192.0.2.2"), "b.example.net");
  fake->SetName(Ip("192.0.2.3"), "c.example.net");
  ReverseDnsOptions options = Fast();
  options.cache_size = 2;
  ReverseDns dns(options, FakeResolver::Fn(fake));

  dns.Resolve({Ip("192.0.2.1")});
  dns.Resolve({Ip("192.0.2.2")});
  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), "a.example.net");  // a is now the most recent
  dns.Resolve({Ip("192.0.2.3")});

  EXPECT_EQ(dns.Cached(Ip("192.0.2.1")), "a.example.net");
  EXPECT_EQ(dns.Cached(Ip("192.0.2.2")), std::nullopt);
  EXPECT_EQ(dns.Cached(Ip("192.0.2.3")), "c.example.net");
}

TEST(ReverseDnsTest, ThrowingLookupCountsAsFailure) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  ReverseDns dns(Fast(), [calls](const IpAddress&) -> std::optional<std::string> {
    ++*calls;
    throw std::runtime_error("resolver exploded");
  });

  EXPECT_EQ(dns.Resolve({Ip("192.0.2.1")})[0], std::nullopt);
  EXPECT_EQ(dns.Resolve({Ip("192.0.2.1")})[0], std::nullopt);
  EXPECT_EQ(*calls, 1);
}

TEST(ReverseDnsTest, RejectsNamesThatAreNotHostNames) {
  auto fake = std::make_shared<FakeResolver>();
  fake->SetName(Ip("192.0.2.1"), "<script>alert(1)</script>");
  fake->SetName(Ip("192.0.2.2"), "has space.example.net");
  fake->SetName(Ip("192.0.2.3"), std::string(300, 'a'));
  fake->SetName(Ip("192.0.2.4"), "ok-host_1.example.net.");
  ReverseDns dns(Fast(), FakeResolver::Fn(fake));

  auto names = dns.Resolve({Ip("192.0.2.1"), Ip("192.0.2.2"), Ip("192.0.2.3"), Ip("192.0.2.4")});

  EXPECT_EQ(names[0], std::nullopt);
  EXPECT_EQ(names[1], std::nullopt);
  EXPECT_EQ(names[2], std::nullopt);
  EXPECT_EQ(names[3], "ok-host_1.example.net.");
}

TEST(ReverseDnsTest, SystemLookupNeverReturnsTheNumericForm) {
  // 127.0.0.1 is answered from /etc/hosts on any sane system, so this needs no
  // network; NI_NAMEREQD must keep "127.0.0.1" from passing for a name.
  auto name = ReverseDns::SystemLookup(Ip("127.0.0.1"));
  EXPECT_NE(name, "127.0.0.1");
}

}  // namespace
}  // namespace portpath::io
