#include "exporter/http_server.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "tests/exporter/http_test_client.h"

namespace portpath::exporter {
namespace {

using http_test::Request;
using http_test::Response;

Response Get(std::uint16_t port, const std::string& target) { return Request(port, "GET", target); }

/// Inflates a gzip stream (what a client that asked for gzip does).
std::string Gunzip(const std::string& data) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buf);
    stream.avail_out = sizeof buf;
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buf, sizeof buf - stream.avail_out);
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("not a complete gzip stream");
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    HttpHandlers h;
    h.metrics = [](const HttpRequest&) {
      HttpResponse r;
      r.content_type = std::string(kMetricsContentType);
      r.body = "portpath_up 1\n";
      r.compressible = true;
      return r;
    };
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

TEST_F(HttpServerTest, MetricsAreGzippedWhenTheClientAcceptsIt) {
  Response r = Request(port(), "GET", "/metrics", "Accept-Encoding: deflate, gzip;q=0.8\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
  EXPECT_EQ(r.Header("Vary"), "Accept-Encoding");
  EXPECT_EQ(r.Header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(Gunzip(r.body), "portpath_up 1\n");
}

TEST_F(HttpServerTest, MetricsStayPlainWhenGzipIsRefused) {
  for (const char* header : {"", "Accept-Encoding: identity\r\n", "Accept-Encoding: gzip;q=0\r\n",
                             "Accept-Encoding: *;q=0\r\n"}) {
    Response r = Request(port(), "GET", "/metrics", header);
    EXPECT_EQ(r.status, 200) << header;
    EXPECT_EQ(r.Header("Content-Encoding"), "") << header;
    EXPECT_EQ(r.body, "portpath_up 1\n") << header;
  }
}

TEST_F(HttpServerTest, ProbeAnswersAreGzippedOnRequestToo) {
  Response r = Request(port(), "GET", "/probe?target=a:1", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
  EXPECT_EQ(Gunzip(r.body), "portpath_port_open{target=\"a:1\"} 1\n");
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

TEST_F(HttpServerTest, OtherMethodsOnKnownPathsAre405) {
  for (const char* method : {"DELETE", "PATCH", "OPTIONS"}) {
    Response r = Request(port(), method, "/metrics");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD") << method;
  }
}

TEST_F(HttpServerTest, NewPagesPlugIn) {
  server_->AddRoute("/status", {"GET"}, [](const HttpRequest& request) {
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = "<p>status of " + request.Param("target").value_or("all") + "</p>";
    return r;
  });
  Response r = Get(port(), "/status?target=db%3A5432");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<p>status of db:5432</p>");
  EXPECT_EQ(Get(port(), "/status/x").status, 404);
  EXPECT_EQ(Request(port(), "POST", "/status").status, 405);
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
  for (const char* path :
       {"/nope", "/metrics/extra", "/metricsx", "/-/", "/index.html", "/-/healthy/"}) {
    Response r = Get(port(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("Not found"), std::string::npos) << path;
  }
}

TEST_F(HttpServerTest, DotSegmentsAndEscapesReachTheSameRoute) {
  EXPECT_EQ(Get(port(), "/-/../metrics").body, "portpath_up 1\n");
  EXPECT_EQ(Get(port(), "/%6detrics").body, "portpath_up 1\n");
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
