#include "app/cli.h"

#include <algorithm>

#include "app/terminal_text.h"
#include "app/trace_command.h"
#include "config/scalars.h"

namespace portpath::app::cli {
namespace {

// "-m,--max-hops" -> "--max-hops": the name errors speak of.
std::string LongName(const std::string& names) { return names.substr(names.rfind(',') + 1); }

}  // namespace

CLI::Option* AddValue(CLI::App& app, const std::string& names, const std::string& expected,
                      std::function<bool(const std::string&)> accept, const std::string& help) {
  return app.add_option_function<std::string>(
      names,
      [accept = std::move(accept), expected, name = LongName(names)](const std::string& value) {
        if (!accept(value))
          throw CLI::ValidationError(
              name, "expects " + expected + ", got '" + config::EscapeForDisplay(value) + "'");
      },
      help);
}

CLI::Option* AddInt(CLI::App& app, const std::string& names, int& out, int lo, int hi,
                    const std::string& help) {
  return AddValue(
             app, names, "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
             [&out, lo, hi](const std::string& value) {
               auto v = config::ParseInteger(value);
               if (!v || *v < lo || *v > hi) return false;
               out = static_cast<int>(*v);
               return true;
             },
             help)
      ->type_name("N");
}

CLI::Option* AddDuration(CLI::App& app, const std::string& names, std::chrono::milliseconds& out,
                         std::chrono::milliseconds min, std::chrono::milliseconds max,
                         const std::string& help) {
  return AddValue(
             app, names,
             "a duration from " + config::FormatDuration(min) + " to " +
                 config::FormatDuration(max) + ", e.g. 500ms or 2s",
             [&out, min, max](const std::string& value) {
               auto d = config::ParseDuration(value);
               if (!d || *d < min || *d > max) return false;
               out = *d;
               return true;
             },
             help)
      ->type_name("DUR");
}

void Format(CLI::App& app) {
  app.get_formatter()->column_width(30);
  app.get_formatter()->label("OPTIONS", "options");
  // Like the hand-written parsers before: a repeated option's last value wins.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_help_flag("-h,--help", "this text");
}

std::optional<int> Parse(CLI::App& app, const std::vector<std::string>& args,
                         const std::string& command, std::ostream& out, std::ostream& err) {
  // CLI11 takes a vector of arguments last first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    // CLI11 quotes unexpected arguments as they are: a terminal escape in one
    // must not reach the screen.
    err << "portpath " << command << ": " << TerminalSafe(e.what()) << " (see portpath " << command
        << " --help)\n";
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace portpath::app::cli
