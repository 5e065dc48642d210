#include "app/target_spec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/scalars.h"
#include "probe/io/system.h"

namespace portpath::app {
namespace {

using config::EscapeForDisplay;

std::string Shown(std::string_view text) { return "'" + EscapeForDisplay(text) + "'"; }

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Longer than any target (a 253-character name in brackets and a port): what is
// left after the comment is cut is no target, and showing it whole would flood.
constexpr std::size_t kMaxTargetLine = 300;
constexpr std::size_t kShownBytes = 60;

std::string ShownPrefix(std::string_view text) {
  if (text.size() <= kShownBytes) return Shown(text);
  return "'" + EscapeForDisplay(text.substr(0, kShownBytes)) + "'...";
}

// A byte no text line holds (tab and the CR of CRLF files aside): the file is
// binary, or not what the user meant to give.
std::optional<std::size_t> FirstControlByte(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) return i;
  }
  return std::nullopt;
}

// Reads at most `limit` + 1 bytes, so the caller can tell "too large" apart.
// A FIFO or /dev/stdin works; a directory or an unreadable file says why.
std::optional<std::string> ReadBounded(const std::string& path, std::size_t limit,
                                       std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    error = "it is a directory";
    return std::nullopt;
  }
  std::string data;
  char buffer[65536];
  while (data.size() <= limit) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

}  // namespace

std::optional<TargetSpec> ParseTarget(const std::string& text,
                                      std::optional<std::uint16_t> default_port,
                                      std::string& error) {
  TargetSpec spec;
  spec.text = text;
  std::optional<std::string> port_text;
  const bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    auto close = text.find(']');
    if (close == std::string::npos) {
      error = Shown(text) + ": missing ']' after an IPv6 address";
      return std::nullopt;
    }
    spec.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        error = Shown(text) + ": expected ':PORT' after ']'";
        return std::nullopt;
      }
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    // A bare IPv6 literal: only valid with a default port, else ambiguous.
    if (!default_port || config::CheckHost(text).kind != config::HostKind::kIpv6) {
      error = Shown(text) + ": write IPv6 targets in brackets, e.g. [2001:db8::1]:443";
      return std::nullopt;
    }
    spec.host = text;
  } else if (auto colon = text.find(':'); colon != std::string::npos) {
    spec.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  } else {
    spec.host = text;
  }
  if (spec.host.empty()) {
    error = Shown(text) + ": empty host";
    return std::nullopt;
  }
  // The config's own check: what a config file would refuse is refused here too.
  config::HostCheck check = config::CheckHost(spec.host);
  if (!check.kind) {
    error = Shown(text) + ": " + check.problem;
    return std::nullopt;
  }
  if (bracketed && check.kind != config::HostKind::kIpv6) {
    error = Shown(text) + ": " + Shown(spec.host) + " is not an IPv6 address";
    return std::nullopt;
  }
  if (port_text) {
    auto port = config::ParsePort(*port_text);
    if (!port) {
      error = Shown(text) + ": port must be a number from 1 to 65535";
      return std::nullopt;
    }
    spec.port = *port;
  } else if (default_port) {
    spec.port = *default_port;
  } else {
    error = Shown(text) + ": missing port; write HOST:PORT (or give --port)";
    return std::nullopt;
  }
  return spec;
}

std::vector<TargetSpec> ReadTargetsFile(const std::string& path,
                                        std::optional<std::uint16_t> default_port,
                                        std::vector<std::string>& errors) {
  std::vector<TargetSpec> out;
  const std::string where = EscapeForDisplay(path);
  std::string why;
  auto data = ReadBounded(path, kMaxTargetsFileBytes, why);
  if (!data) {
    errors.push_back(where + ": cannot read the targets file: " + why);
    return out;
  }
  if (data->size() > kMaxTargetsFileBytes) {
    errors.push_back(where + ": the targets file is larger than " +
                     std::to_string(kMaxTargetsFileBytes >> 20) + " MiB");
    return out;
  }
  std::size_t bad_lines = 0;
  auto fail = [&](int number, const std::string& message) {
    if (++bad_lines <= kMaxErrorsPerTargetsFile)
      errors.push_back(where + ":" + std::to_string(number) + ": " + message);
  };
  std::string_view rest = *data;
  for (int number = 1; !rest.empty(); ++number) {
    auto newline = rest.find('\n');
    std::string_view raw = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (auto at = FirstControlByte(raw)) {
      fail(number, "not a line of text (control byte " + EscapeForDisplay(raw.substr(*at, 1)) +
                       " at column " + std::to_string(*at + 1) +
                       "; is this a binary file?): " + ShownPrefix(raw));
      continue;
    }
    std::string line(raw.substr(0, raw.find('#')));
    line = Trim(line);
    if (line.empty()) continue;
    if (line.size() > kMaxTargetLine) {
      fail(number, "a line of " + std::to_string(line.size()) +
                       " characters is no HOST:PORT target: " + ShownPrefix(line));
      continue;
    }
    std::string error;
    if (auto spec = ParseTarget(line, default_port, error))
      out.push_back(*spec);
    else
      fail(number, error);
  }
  if (bad_lines > kMaxErrorsPerTargetsFile)
    errors.push_back(where + ": " + std::to_string(bad_lines - kMaxErrorsPerTargetsFile) +
                     " more lines with errors not shown");
  return out;
}

std::optional<packet::IpAddress> Resolve(const std::string& host, FamilyPreference family,
                                         std::string& error) {
  return io::ResolveHost(host,
                         family == FamilyPreference::kIpv4   ? io::FamilyFilter::kIpv4
                         : family == FamilyPreference::kIpv6 ? io::FamilyFilter::kIpv6
                                                             : io::FamilyFilter::kAny,
                         error);
}

std::optional<double> ParseSeconds(const std::string& text) {
  auto d = config::ParseDuration(text);
  if (!d) return std::nullopt;
  return std::chrono::duration<double>(*d).count();
}

}  // namespace portpath::app
