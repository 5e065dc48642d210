// A stand-alone exporter HTTP server for the shell tests (idle clients, TLS and
// basic auth, gzip): the real HttpServer with canned handlers, so the tests need
// neither raw sockets nor a probe loop. Prints "port N" once listening and runs
// until standard input closes.
//
// usage: portpath-http-test-server LISTEN_ADDRESS [WEB_CONFIG_FILE]
//   /metrics            a few thousand series of exposition text
//   /probe?target=T     200 for "configured:1", 400 otherwise
//   /-/ready, /-/reload always succeed

#include <iostream>
#include <string>

#include "exporter/http_server.h"

int main(int argc, char** argv) {
  using namespace portpath::exporter;
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: portpath-http-test-server LISTEN_ADDRESS [WEB_CONFIG_FILE]\n";
    return 2;
  }
  std::string metrics;
  for (int i = 0; i < 2000; ++i) {
    metrics += "portpath_port_open{target=\"192.0.2." + std::to_string(i % 250) + ":" +
               std::to_string(1000 + i) + "\"} 1\n";
  }
  HttpHandlers handlers;
  handlers.metrics = [&metrics](const HttpRequest&) {
    HttpResponse r;
    r.content_type = std::string(kMetricsContentType);
    r.body = metrics;
    r.compressible = true;
    return r;
  };
  handlers.probe = [](const std::string& target) -> std::pair<int, std::string> {
    if (target != "configured:1")
      return {400, "target '" + target + "' is not in the configuration\n"};
    return {200, "portpath_port_open{target=\"configured:1\"} 1\n"};
  };
  handlers.ready = [] { return true; };
  handlers.reload = [] { return std::pair<bool, std::string>{true, "config reloaded"}; };
  try {
    HttpServerOptions options;
    if (argc == 3) options.web = LoadWebConfig(argv[2]);
    HttpServer server(argv[1], handlers, options);
    std::cout << "port " << server.port() << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
    }
  } catch (const std::exception& e) {
    std::cerr << "portpath-http-test-server: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
