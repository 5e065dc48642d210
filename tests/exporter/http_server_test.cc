#include "exporter/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

namespace portpath::exporter {
namespace {

/// Owns a socket descriptor (-1 = none).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

struct Response {
  int status = 0;
  std::string headers;  // the raw header block, status line included
  std::string body;
  std::string Header(const std::string& name) const {
    auto at = headers.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return headers.substr(at, headers.find("\r\n", at) - at);
  }
};

/// A minimal HTTP/1.1 client: one request per connection, reads until the
/// server closes. No curl dependency.
Response Request(std::uint16_t port, const std::string& method, const std::string& target) {
  Fd sock(socket(AF_INET, SOCK_STREAM, 0));
  if (sock.get() < 0) throw std::runtime_error("socket failed");
  // Bound every read so a server bug fails the test instead of hanging it.
  timeval tv{5, 0};
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect failed");
  }
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n";
  if (send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = recv(sock.get(), buf, sizeof buf, 0)) > 0;) raw.append(buf, n);

  Response r;
  auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || split == std::string::npos) {
    throw std::runtime_error("malformed response: " + raw);
  }
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, split + 2);
  r.body = raw.substr(split + 4);
  return r;
}

Response Get(std::uint16_t port, const std::string& target) { return Request(port, "GET", target); }

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    HttpHandlers h;
    h.metrics_text = [] { return std::string("portpath_up 1\n"); };
    h.probe = [this](const std::string& target) -> std::pair<int, std::string> {
      {
        std::lock_guard lock(mu_);
        probed_ = target;
      }
      if (target == "boom:1") throw std::runtime_error("probe exploded");
      if (target == "bad") return {400, "Bad request: target \"bad\" has no port\n"};
      return {200, "portpath_port_open{target=\"" + target + "\"} 1\n"};
    };
    h.ready = [this] { return ready_.load(); };
    h.reload = [this]() -> std::pair<bool, std::string> {
      if (reload_fails_) return {false, "config.yaml:3:5: labels: invalid label name \"1x\""};
      return {true, "Reloaded 4 targets"};
    };
    HttpServerOptions options;
    options.log = [](const std::string&) {};  // keep CivetWeb quiet in test output
    server_ = std::make_unique<HttpServer>("127.0.0.1:0", std::move(h), options);
  }

  std::uint16_t port() const { return server_->port(); }

  std::mutex mu_;
  std::string probed_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> reload_fails_{false};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, BindsAnEphemeralPortAndReportsIt) {
  EXPECT_NE(port(), 0);
  EXPECT_EQ(server_->listen_address(), "127.0.0.1:0");
}

TEST_F(HttpServerTest, MetricsUseTheExpositionContentType) {
  Response r = Get(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "portpath_up 1\n");
  EXPECT_EQ(r.Header("Content-Length"), "14");
}

TEST_F(HttpServerTest, HeadSendsHeadersWithoutBody) {
  Response r = Request(port(), "HEAD", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Length"), "14");
  EXPECT_EQ(r.body, "");
}

TEST_F(HttpServerTest, ProbeDelegatesTheDecodedTarget) {
  Response r = Get(port(), "/probe?target=%5B2001%3Adb8%3A%3A1%5D%3A443&module=x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "portpath_port_open{target=\"[2001:db8::1]:443\"} 1\n");
  std::lock_guard lock(mu_);
  EXPECT_EQ(probed_, "[2001:db8::1]:443");
}

TEST_F(HttpServerTest, ProbePassesTheHandlersStatusAndBody) {
  Response r = Get(port(), "/probe?target=bad");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Bad request: target \"bad\" has no port\n");
}

TEST_F(HttpServerTest, ProbeWithoutTargetIsBadRequest) {
  for (const char* path : {"/probe", "/probe?target=", "/probe?module=tcp"}) {
    Response r = Get(port(), path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find("missing target parameter"), std::string::npos) << path << r.body;
    EXPECT_NE(r.body.find("/probe?target=HOST:PORT"), std::string::npos) << path;
  }
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500WithItsMessage) {
  Response r = Get(port(), "/probe?target=boom:1");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("probe exploded"), std::string::npos) << r.body;
  // The server survives it.
  EXPECT_EQ(Get(port(), "/-/healthy").status, 200);
}

TEST_F(HttpServerTest, HealthyAlwaysReadyAfterFirstRound) {
  Response healthy = Get(port(), "/-/healthy");
  EXPECT_EQ(healthy.status, 200);
  EXPECT_EQ(healthy.body, "Healthy\n");

  Response before = Get(port(), "/-/ready");
  EXPECT_EQ(before.status, 503);
  EXPECT_EQ(before.body, "Not ready: first round not completed\n");

  ready_ = true;
  Response after = Get(port(), "/-/ready");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "Ready\n");
}

TEST_F(HttpServerTest, ReloadAcceptsPostAndPut) {
  for (const char* method : {"POST", "PUT"}) {
    Response r = Request(port(), method, "/-/reload");
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_EQ(r.body, "Reloaded 4 targets\n") << method;
  }
}

TEST_F(HttpServerTest, FailedReloadIs500WithTheReason) {
  reload_fails_ = true;
  Response r = Request(port(), "POST", "/-/reload");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "config.yaml:3:5: labels: invalid label name \"1x\"\n");
}

TEST_F(HttpServerTest, ReloadByGetIs405) {
  Response r = Get(port(), "/-/reload");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "POST, PUT");
  EXPECT_NE(r.body.find("use POST or PUT"), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, WritingToReadOnlyEndpointsIs405) {
  for (const char* path : {"/metrics", "/-/healthy", "/probe?target=a:1", "/"}) {
    Response r = Request(port(), "POST", path);
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD") << path;
  }
}

TEST_F(HttpServerTest, IndexLinksToTheEndpoints) {
  Response r = Get(port(), "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8");
  for (const char* link : {"href=\"/metrics\"", "href=\"/probe?target=", "href=\"/-/healthy\"",
                           "href=\"/-/ready\"", "/-/reload"}) {
    EXPECT_NE(r.body.find(link), std::string::npos) << link;
  }
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  for (const char* path : {"/nope", "/metrics/extra", "/-/", "/index.html"}) {
    Response r = Get(port(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("Not found"), std::string::npos) << path;
  }
}

TEST_F(HttpServerTest, SecondServerOnTheSamePortFailsClearly) {
  const std::string address = "127.0.0.1:" + std::to_string(port());
  HttpServerOptions quiet;
  quiet.log = [](const std::string&) {};
  try {
    HttpServer second(address, {}, quiet);
    FAIL() << "bound a port that is in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on \"" + address + "\""), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("already listening"), std::string::npos) << e.what();
  }
}

TEST(HttpServerStandaloneTest, EmptyHandlersHaveDocumentedDefaults) {
  HttpServerOptions quiet;
  quiet.log = [](const std::string&) {};
  HttpServer server("127.0.0.1:0", {}, quiet);
  EXPECT_EQ(Get(server.port(), "/metrics").status, 200);
  EXPECT_EQ(Get(server.port(), "/-/ready").status, 200);
  EXPECT_EQ(Get(server.port(), "/probe?target=a:1").status, 404);
  EXPECT_EQ(Request(server.port(), "POST", "/-/reload").status, 500);
}

TEST(HttpServerStandaloneTest, ColonPortListensOnAllAddresses) {
  HttpServerOptions quiet;
  quiet.log = [](const std::string&) {};
  HttpServer server(":0", {}, quiet);
  EXPECT_NE(server.port(), 0);
  EXPECT_EQ(Get(server.port(), "/-/healthy").status, 200);  // reachable over loopback
}

TEST(ListenAddressTest, ParsesThePrometheusSpellings) {
  ListenAddress a = ParseListenAddress("127.0.0.1:9750");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9750);
  EXPECT_FALSE(a.ipv6);

  ListenAddress all = ParseListenAddress(":9750");
  EXPECT_EQ(all.host, "");
  EXPECT_EQ(all.port, 9750);

  ListenAddress v6 = ParseListenAddress("[::1]:9750");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_TRUE(v6.ipv6);

  EXPECT_EQ(ParseListenAddress("127.0.0.1:0").port, 0);
  ListenAddress named = ParseListenAddress("localhost:9750");
  EXPECT_FALSE(named.host.empty());
}

TEST(ListenAddressTest, RejectsMalformedAddressesWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"9750", "expected HOST:PORT"},
      {"127.0.0.1:", "is not a number"},
      {"127.0.0.1:http", "is not a number"},
      {"127.0.0.1:65536", "is not a number from 0 to 65535"},
      {"::1:9750", "must be written in brackets"},
      {"[::1:9750", "must be written in brackets"},
      {"[not-v6]:9750", "is not an IPv6 address"},
      {"no-such-host.invalid:9750", "cannot resolve"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      ParseListenAddress(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << text << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
}

TEST(ListenAddressTest, Ipv6EitherServesOrSaysWhyNot) {
  HttpServerOptions quiet;
  quiet.log = [](const std::string&) {};
  try {
    HttpServer server("[::1]:0", {}, quiet);
    EXPECT_NE(server.port(), 0);
  } catch (const std::invalid_argument& e) {
    // Debian 12's CivetWeb is built without USE_IPV6.
    EXPECT_NE(std::string(e.what()).find("no IPv6 support"), std::string::npos) << e.what();
  } catch (const std::runtime_error& e) {
    // IPv6 compiled in but disabled on this host.
    EXPECT_NE(std::string(e.what()).find("cannot listen"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace portpath::exporter
