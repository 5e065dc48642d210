#include "probe/io/privileges.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace portpath::io {
namespace {

// Capabilities are per thread and a drop cannot be undone: each case runs in a
// forked child (gtest's own threads are not copied) and reports by exit code,
// with what went wrong on stderr.
int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool IsRoot() { return geteuid() == 0; }

TEST(PrivilegesTest, DropLeavesNoCapabilityAndNoNewPrivileges) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to start with capabilities";
  int code = InChild([] {
    if (std::string e = NarrowPrivileges(false); !e.empty())
      return fprintf(stderr, "%s\n", e.c_str()), 1;
    PrivilegeState narrowed = ReadPrivilegeState();
    if (narrowed.permitted_caps != (std::uint64_t{1} << CAP_NET_RAW)) return 2;
    if (!narrowed.no_new_privs) return 3;
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (raw < 0) return 4;
    if (std::string e = DropPrivileges(""); !e.empty())
      return fprintf(stderr, "%s\n", e.c_str()), 5;
    PrivilegeState dropped = ReadPrivilegeState();
    if (dropped.effective_caps != 0 || dropped.permitted_caps != 0) return 6;
    if (dropped.Describe() != "uid 0, no capabilities, no-new-privileges") return 7;
    // No new raw socket can be opened any more (the open one is used by the
    // lab tests, which run the exporter and the CLI after their drop).
    if (socket(AF_INET, SOCK_RAW, IPPROTO_RAW) >= 0) return 8;
    close(raw);
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(PrivilegesTest, SwitchesToAnUnprivilegedUser) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch users";
  int code = InChild([] {
    if (std::string e = NarrowPrivileges(true); !e.empty())
      return fprintf(stderr, "%s\n", e.c_str()), 1;
    if (std::string e = DropPrivileges("65534"); !e.empty())
      return fprintf(stderr, "%s\n", e.c_str()), 2;
    PrivilegeState s = ReadPrivilegeState();
    if (s.uid != 65534 || s.euid != 65534 || s.effective_caps != 0 || s.permitted_caps != 0)
      return 3;
    // And there is no way back.
    if (setuid(0) == 0) return 4;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(PrivilegesTest, NamesAnUnknownUser) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch users";
  int code = InChild([] {
    std::string e = DropPrivileges("no-such-user-portpath");
    return e == "cannot switch to user 'no-such-user-portpath': no such user" ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace portpath::io
