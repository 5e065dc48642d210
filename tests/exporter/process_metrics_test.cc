#include "exporter/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

namespace portpath::exporter {
namespace {

// A real /proc/<pid>/stat line whose command name holds ") (" and spaces, the
// case that breaks a naive split on spaces.
constexpr const char* kStat =
    "4242 (evil) (name x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 5 0 "
    "123400 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
constexpr const char* kProcStat = "cpu  1 2 3 4\nintr 99\nctxt 1\nbtime 1700000000\nprocesses 7\n";

TEST(ProcessMetricsTest, ParsesStatPastParenthesesInTheCommandName) {
  auto s = ParseProcStat(kStat, kProcStat, 100, 4096);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);                // (250 + 150) ticks / 100 Hz
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700001234);  // btime + 123400 / 100
  EXPECT_DOUBLE_EQ(s->virtual_memory_bytes, 104857600);
  EXPECT_DOUBLE_EQ(s->resident_memory_bytes, 2560.0 * 4096);
}

TEST(ProcessMetricsTest, RejectsTruncatedStatOrMissingBtime) {
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2 3", kProcStat, 100, 4096));
  EXPECT_FALSE(ParseProcStat(kStat, "cpu 1 2 3\n", 100, 4096));
  EXPECT_FALSE(ParseProcStat("no parenthesis", kProcStat, 100, 4096));
}

TEST(ProcessMetricsTest, CollectsBuildInfoAndOwnProcessMetrics) {
  ProcessCollector collector("1.2.3", "deadbeef");
  std::map<std::string, prometheus::MetricFamily> by_name;
  for (auto& f : collector.Collect()) by_name[f.name] = f;

  ASSERT_TRUE(by_name.count("portpath_build_info"));
  const auto& build = by_name["portpath_build_info"].metric.at(0);
  EXPECT_EQ(build.gauge.value, 1);
  ASSERT_EQ(build.label.size(), 2u);
  EXPECT_EQ(build.label[0].name, "version");
  EXPECT_EQ(build.label[0].value, "1.2.3");
  EXPECT_EQ(build.label[1].value, "deadbeef");

  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_TRUE(by_name.count(name)) << name;
  }
  EXPECT_GT(by_name["process_resident_memory_bytes"].metric.at(0).gauge.value, 0);
  EXPECT_GE(by_name["process_open_fds"].metric.at(0).gauge.value, 3);  // stdin, stdout, stderr
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double started = by_name["process_start_time_seconds"].metric.at(0).gauge.value;
  EXPECT_LE(started, now + 1);
  EXPECT_GT(started, now - 3600);  // this test process started moments ago
}

TEST(ProcessMetricsTest, OmitsRevisionLabelWhenUnknown) {
  ProcessCollector collector("1.2.3");
  auto families = collector.Collect();
  ASSERT_FALSE(families.empty());
  EXPECT_EQ(families[0].name, "portpath_build_info");
  EXPECT_EQ(families[0].metric.at(0).label.size(), 1u);
}

}  // namespace
}  // namespace portpath::exporter
