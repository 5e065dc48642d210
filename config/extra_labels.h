#pragma once
/// Labels given on the command line (`portpath serve --labels node=N,pod=P`),
/// added to every target's series: how a DaemonSet's pods name the node and pod
/// they probe from (Kubernetes' downward API fills in the values). Same rules as
/// a target's `labels:` in the config. Pure functions; thread-safe.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace portpath::config {

/// Parses "NAME=VALUE[,NAME=VALUE...]": names match [a-zA-Z_][a-zA-Z0-9_]*, do
/// not start with "__", are not in kReservedLabels and appear once; values are
/// non-empty and hold no ','. nullopt with `error` set otherwise.
std::optional<std::map<std::string, std::string>> ParseExtraLabels(std::string_view text,
                                                                   std::string& error);

/// Adds `labels` to every target; on a name clash the command line wins (the
/// node a pod runs on is a fact, a file's value for it is a mistake).
void AddExtraLabels(Config& config, const std::map<std::string, std::string>& labels);

}  // namespace portpath::config
