// Checks of a configuration against the host it runs on: is the `source` address one of this
// host's, does the `interface` exist. The loader (config.h) checks only the form of these values,
// so that a file can be validated anywhere; these answer for this machine. They are shared by
// `portpath trace` (-s, -i) and `portpath serve` (the file's `source:` and `interface:`), so the
// command line and the file refuse the same things with the same words.
//
// Thread-safety: every function here is reentrant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace portpath::config {

/// Checks that the IP literal `address` is assigned to an interface of this host (getifaddrs):
/// probes from any other source would be spoofed, and their answers would go elsewhere. Returns an
/// empty string when it is, else why not.
std::string CheckLocalSource(std::string_view address);

/// Checks that an interface of that name exists on this host. Returns an empty string when it
/// does, else why not (the name escaped).
std::string CheckInterface(std::string_view name);

/// The configuration's `source` and `interface` checked against this host, each problem at its
/// key's place in the file. Empty when both are fine or unset.
std::vector<ConfigError> CheckAgainstHost(const Config& config);

}  // namespace portpath::config
