// /probe end to end inside the process: the real HTTP server, the real
// endpoint and prober service, and a fake network that records where every
// packet would have gone. /probe must never make the exporter send a packet to
// a target the configuration does not list.
#include "exporter/http_probe.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "config/config.h"
#include "exporter/http_server.h"
#include "probe/io/system.h"
#include "probe/packet_transport.h"
#include "tests/exporter/http_test_client.h"

namespace portpath::exporter {
namespace {

/// Records each destination; answers nothing.
class RecordingNetwork : public probe::PacketSender, public probe::PacketSource {
 public:
  int Send(const packet::IpAddress& destination, packet::Bytes) override {
    std::lock_guard lock(mu_);
    destinations_.insert(destination.ToString());
    return 0;
  }
  void Poll(probe::Duration max_wait, const Handler&) override {
    std::this_thread::sleep_for(std::min<probe::Duration>(max_wait, std::chrono::milliseconds(2)));
  }
  std::set<std::string> destinations() {
    std::lock_guard lock(mu_);
    return destinations_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> destinations_;
};

/// IP literals only; records every name it is asked for.
class RecordingResolver : public Resolver {
 public:
  std::optional<packet::IpAddress> Resolve(const std::string& host, config::Family,
                                           std::string& error) override {
    std::lock_guard lock(mu_);
    asked_.insert(host);
    error = "no DNS in this test";
    return std::nullopt;
  }
  std::optional<packet::IpAddress> SourceFor(const packet::IpAddress& destination,
                                             std::string&) override {
    return packet::IpAddress::Parse(destination.is_v6() ? "2001:db8::2" : "192.0.2.2");
  }
  std::set<std::string> asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> asked_;
};

int GetStatus(std::uint16_t port, const std::string& target, std::string* body = nullptr) {
  http_test::Response r = http_test::Request(port, "GET", target);
  if (body) *body = r.body;
  return r.status;
}

class HttpProbeTest : public ::testing::Test {
 protected:
  HttpProbeTest()
      : config_(config::ParseConfig("defaults:\n  interval: 1h\n  timeout: 50ms\n  max_hops: 3\n"
                                    "targets:\n  - host: 192.0.2.10\n    port: 443\n"
                                    "  - host: db.example\n    port: 5432\n",
                                    "test.yaml")),
        transport_(network_, network_, 0x5eed),
        service_(Options(), config_, transport_, clock_, resolver_),
        endpoint_(service_, 2, std::chrono::milliseconds(300)) {
    HttpHandlers handlers;
    handlers.probe = [this](const std::string& target) { return endpoint_(target); };
    HttpServerOptions options;
    options.log = [](const std::string&) {};
    http_ = std::make_unique<HttpServer>("127.0.0.1:0", handlers, options);
    loop_ = std::thread([this] { service_.Run(stop_); });
  }

 public:
  ~HttpProbeTest() override {
    stop_ = true;
    loop_.join();
  }

 protected:
  static ServiceOptions Options() {
    ServiceOptions o;
    o.ping = false;
    return o;
  }

  config::Config config_;
  RecordingNetwork network_;
  RecordingResolver resolver_;
  io::SystemClock clock_;
  probe::PacketTransport transport_;
  ProberService service_;
  ProbeEndpoint endpoint_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

TEST_F(HttpProbeTest, UnconfiguredTargetsAreRefusedAndNeverTraced) {
  const char* refused[] = {"192.0.2.11:443",   "192.0.2.10:22",   "192.0.2.10",
                           "[192.0.2.10]:443", "192.0.2.10:443 ", "evil.example:443",
                           "db.example:22",    "127.0.0.1:9750"};
  for (const char* target : refused) {
    std::string body;
    std::string escaped;
    for (char c : std::string(target)) escaped += c == ' ' ? std::string("%20") : std::string(1, c);
    EXPECT_EQ(GetStatus(http_->port(), "/probe?target=" + escaped, &body), 400) << target;
    EXPECT_NE(body.find("not in the configuration"), std::string::npos) << body;
  }
  // Give a wrongly started trace time to send.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (const std::string& destination : network_.destinations()) {
    EXPECT_EQ(destination, "192.0.2.10") << "a packet went to an address the config does not list";
  }
  EXPECT_EQ(resolver_.asked().count("evil.example"), 0u);
}

TEST_F(HttpProbeTest, AConfiguredTargetIsTraced) {
  int status = GetStatus(http_->port(), "/probe?target=192.0.2.10:443");
  EXPECT_TRUE(status == 200 || status == 504) << status;  // the fake network never answers
  EXPECT_EQ(network_.destinations(), std::set<std::string>{"192.0.2.10"});
}

TEST_F(HttpProbeTest, ATargetRemovedByAReloadIsRefused) {
  service_.ApplyReload(
      config::ParseConfig("targets:\n  - host: 192.0.2.20\n    port: 80\n", "test.yaml"), true, 0);
  // The reload takes effect at the loop's next turn.
  for (int i = 0; i < 100 && service_.IsConfigured("192.0.2.10:443"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(GetStatus(http_->port(), "/probe?target=192.0.2.10:443"), 400);
}

}  // namespace
}  // namespace portpath::exporter
