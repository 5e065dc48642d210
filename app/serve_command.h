#pragma once
/// `portpath serve --config FILE`: the Prometheus exporter sidecar.

namespace portpath::app {

int RunServeCommand(int argc, char** argv, const char* version);

}  // namespace portpath::app
