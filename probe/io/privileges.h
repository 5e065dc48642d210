#pragma once
/// Least privilege for a process that needs raw sockets only to open them.
///
/// Linux keeps capabilities per thread, so both steps must run in the main
/// thread before any other thread exists (CivetWeb's workers, the probe loop,
/// DNS helpers): threads created later inherit the reduced sets.
///
///   NarrowPrivileges  at start-up: keeps only CAP_NET_RAW (and CAP_SETUID /
///                     CAP_SETGID when a user switch is coming) in every set,
///                     bounding set included, and sets no-new-privileges, so the
///                     config is parsed with nothing else.
///   DropPrivileges    once the raw sockets and the capture are open: switches
///                     to `user` if given, and clears every capability. Open
///                     sockets keep working without CAP_NET_RAW.

#include <cstdint>
#include <string>

namespace portpath::io {

/// What the kernel says about this process (from /proc/self/status and prctl).
struct PrivilegeState {
  std::uint32_t uid = 0;   // real
  std::uint32_t euid = 0;  // effective
  std::uint32_t gid = 0;
  std::uint64_t effective_caps = 0;
  std::uint64_t permitted_caps = 0;
  std::uint64_t bounding_caps = 0;
  bool no_new_privs = false;
  /// e.g. "uid 65534, no capabilities, no-new-privileges".
  std::string Describe() const;
};
PrivilegeState ReadPrivilegeState();

/// Empty on success, else why not (errno text). `will_switch_user` keeps the
/// capabilities a later DropPrivileges(user) needs.
std::string NarrowPrivileges(bool will_switch_user);

/// Empty on success, else why not. `user` is a name or a numeric uid; empty
/// keeps the current user. After this the process holds no capability.
std::string DropPrivileges(const std::string& user);

}  // namespace portpath::io
