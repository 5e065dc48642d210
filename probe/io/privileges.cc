#include "probe/io/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <vector>

namespace portpath::io {
namespace {

std::string ErrnoText(const std::string& what) {
  return what + ": " + std::generic_category().message(errno);
}

// capset(2) without libcap: version 3 carries two 32-bit words per set.
int SetCapabilities(std::uint64_t effective, std::uint64_t permitted, std::uint64_t inheritable) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2]{};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<std::uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<std::uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<std::uint32_t>(inheritable >> (32 * i));
  }
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

std::uint64_t Bit(int cap) { return std::uint64_t{1} << cap; }

int LastCap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (!(in >> last) || last < 0 || last > 63) last = CAP_LAST_CAP;
  return last;
}

// Removes every capability not in `keep` from the bounding set (needs
// CAP_SETPCAP, so it is done while we still have it) and the ambient set.
std::string NarrowBoundingSet(std::uint64_t keep) {
  for (int cap = 0; cap <= LastCap(); ++cap) {
    if (keep & Bit(cap)) continue;
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0) continue;
    // Without CAP_SETPCAP (an unprivileged start) the bounding set cannot
    // shrink; the permitted set, which is what counts, still can.
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EPERM)
      return ErrnoText("cannot drop capability " + std::to_string(cap) + " from the bounding set");
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return {};
}

std::uint64_t ParseHex(const std::string& text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

}  // namespace

PrivilegeState ReadPrivilegeState() {
  PrivilegeState s;
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "Uid:") {
      in >> s.uid >> s.euid;
    } else if (key == "Gid:") {
      in >> s.gid;
    } else if (key == "CapEff:" || key == "CapPrm:" || key == "CapBnd:") {
      std::string hex;
      in >> hex;
      (key == "CapEff:"   ? s.effective_caps
       : key == "CapPrm:" ? s.permitted_caps
                          : s.bounding_caps) = ParseHex(hex);
    }
    in.ignore(1 << 16, '\n');
  }
  s.no_new_privs = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  return s;
}

std::string PrivilegeState::Describe() const {
  std::string out = "uid " + std::to_string(euid) + ", ";
  if (effective_caps == 0 && permitted_caps == 0) {
    out += "no capabilities";
  } else if (permitted_caps == Bit(CAP_NET_RAW)) {
    out += "CAP_NET_RAW only";
  } else {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(permitted_caps));
    out += std::string("capabilities ") + hex;
  }
  if (no_new_privs) out += ", no-new-privileges";
  return out;
}

std::string NarrowPrivileges(bool will_switch_user) {
  std::uint64_t keep = Bit(CAP_NET_RAW);
  if (will_switch_user) keep |= Bit(CAP_SETUID) | Bit(CAP_SETGID);
  if (std::string error = NarrowBoundingSet(keep); !error.empty()) return error;
  PrivilegeState now = ReadPrivilegeState();
  std::uint64_t permitted = now.permitted_caps & keep;
  if (SetCapabilities(permitted, permitted, 0) != 0) return ErrnoText("cannot narrow capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return ErrnoText("cannot set no-new-privileges");
  return {};
}

std::string DropPrivileges(const std::string& user) {
  if (!user.empty()) {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    unsigned long numeric = 0;
    auto [end, ec] = std::from_chars(user.data(), user.data() + user.size(), numeric);
    if (ec == std::errc() && end == user.data() + user.size()) {
      ::getpwuid_r(static_cast<uid_t>(numeric), &entry, buffer.data(), buffer.size(), &found);
      uid = static_cast<uid_t>(numeric);
      gid = found ? found->pw_gid : static_cast<gid_t>(numeric);
    } else {
      ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
      if (!found) return "cannot switch to user '" + user + "': no such user";
      uid = found->pw_uid;
      gid = found->pw_gid;
    }
    // Groups first (they need CAP_SETGID), the uid last: after it, nothing.
    if (::setgroups(0, nullptr) != 0) return ErrnoText("cannot clear supplementary groups");
    if (::setresgid(gid, gid, gid) != 0)
      return ErrnoText("cannot switch to group " + std::to_string(gid));
    if (::setresuid(uid, uid, uid) != 0)
      return ErrnoText("cannot switch to user " + std::to_string(uid));
  }
  if (SetCapabilities(0, 0, 0) != 0) return ErrnoText("cannot drop capabilities");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return ErrnoText("cannot set no-new-privileges");
  PrivilegeState after = ReadPrivilegeState();
  if (after.effective_caps != 0 || after.permitted_caps != 0)
    return "capabilities are still held after dropping them: " + after.Describe();
  if (!user.empty() && after.euid == 0 && user != "0" && user != "root")
    return "still uid 0 after switching to '" + user + "'";
  return {};
}

}  // namespace portpath::io
