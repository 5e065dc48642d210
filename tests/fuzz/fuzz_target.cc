// libFuzzer harness: target parsing as the CLI and the config see it. The input is parsed as
// one HOST:PORT argument (ParseTarget, with and without --port), as a targets file
// (ReadTargetsFile, through a memfd: it takes a path), and its host part is classified
// (config::CheckHost, HostIdentity, IsIpLiteral) and parsed as an address (IpAddress::Parse).
//
// Input: one byte (bit 0: a default port is given; the next byte is its low half), then text.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/target_spec.h"
#include "config/scalars.h"
#include "probe/packet/ip_address.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using portpath::packet::IpAddress;

void CheckHostOf(const std::string& host) {
  auto check = portpath::config::CheckHost(host);
  FUZZ_CHECK(check.kind.has_value() == check.problem.empty());
  if (!check.kind) return;
  // Identity ignores case (names and IPv6 hex digits alike), so the same host in capitals is
  // accepted as the same kind and is the same target.
  std::string upper = host;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  FUZZ_CHECK(portpath::config::CheckHost(upper).kind == check.kind);
  FUZZ_CHECK(portpath::config::HostIdentity(upper) == portpath::config::HostIdentity(host));
  FUZZ_CHECK(portpath::config::IsIpLiteral(host) ==
             (*check.kind != portpath::config::HostKind::kHostName));
}

void CheckAddress(const std::string& text) {
  auto address = IpAddress::Parse(text);
  if (!address) return;
  // A literal never hides bytes inet_pton would stop at, and prints back to itself.
  FUZZ_CHECK(text.find('\0') == std::string::npos);
  auto again = IpAddress::Parse(address->ToString());
  FUZZ_CHECK(again && *again == *address);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::optional<std::uint16_t> default_port;
  if (data[0] & 1) default_port = static_cast<std::uint16_t>(443 + data[1]);
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::string error;
  auto spec = portpath::app::ParseTarget(text, default_port, error);
  FUZZ_CHECK(spec.has_value() == error.empty());
  if (spec) {
    FUZZ_CHECK(!spec->host.empty());
    FUZZ_CHECK(spec->port != 0);
    FUZZ_CHECK(spec->text == text);
    if (!default_port) {  // a target complete without --port reads the same with it
      std::string ignored;
      auto with_port = portpath::app::ParseTarget(text, 80, ignored);
      FUZZ_CHECK(with_port && with_port->host == spec->host && with_port->port == spec->port);
    }
    CheckHostOf(spec->host);
    CheckAddress(spec->host);
  }
  CheckHostOf(text);
  CheckAddress(text);

  // The same text as a targets file.
  const int fd = memfd_create("targets", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  std::vector<std::string> errors;
  auto targets =
      portpath::app::ReadTargetsFile("/proc/self/fd/" + std::to_string(fd), default_port, errors);
  close(fd);
  for (const auto& target : targets) {
    FUZZ_CHECK(!target.host.empty());
    FUZZ_CHECK(target.port != 0);
    // Comments and surrounding blanks are gone from what is kept.
    FUZZ_CHECK(target.text.find('#') == std::string::npos);
    FUZZ_CHECK(target.text.find('\n') == std::string::npos);
  }
  return 0;
}
