#pragma once
/// CLI11 glue shared by `portpath trace` and `portpath serve`: option values
/// parsed by the config's own parsers (config/scalars.h), so the command line
/// accepts what a config file accepts, and a parse that turns --help and bad
/// usage into exit codes (never std::exit) with the problem on stderr.

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace portpath::app::cli {

/// An option whose value `accept` checks and stores; when it returns false the
/// parse fails with "NAME: expects EXPECTED, got 'VALUE'" (the value escaped).
CLI::Option* AddValue(CLI::App& app, const std::string& names, const std::string& expected,
                      std::function<bool(const std::string&)> accept, const std::string& help);

/// A whole number from lo to hi (config::ParseInteger: no sign, hex or spaces).
CLI::Option* AddInt(CLI::App& app, const std::string& names, int& out, int lo, int hi,
                    const std::string& help);

/// A duration from min to max (config::ParseDuration: 500ms, 2s, 1m30s, 30).
CLI::Option* AddDuration(CLI::App& app, const std::string& names, std::chrono::milliseconds& out,
                         std::chrono::milliseconds min, std::chrono::milliseconds max,
                         const std::string& help);

/// Parses `args` (the command's arguments, without the program and command
/// names). Returns nullopt when the command should run; otherwise the exit
/// code: 0 after printing the help to `out`, 2 after printing the problem to
/// `err` as "portpath COMMAND: ...".
std::optional<int> Parse(CLI::App& app, const std::vector<std::string>& args,
                         const std::string& command, std::ostream& out, std::ostream& err);

/// The help layout and option defaults both commands share (a repeated
/// option's last value wins). Call before adding options.
void Format(CLI::App& app);

}  // namespace portpath::app::cli
