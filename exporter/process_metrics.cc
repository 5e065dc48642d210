#include "exporter/process_metrics.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace portpath::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

std::optional<std::string> Slurp(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<ProcessStats> ParseProcStat(const std::string& pid_stat, const std::string& proc_stat,
                                          long ticks_per_second, long page_size) {
  if (ticks_per_second <= 0 || page_size <= 0) return std::nullopt;
  // comm (field 2) is free text in parentheses and may itself contain ") ";
  // only the last ')' reliably ends it.
  auto close = pid_stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(pid_stat.substr(close + 1));
  std::vector<std::string> f;
  for (std::string token; fields >> token;) f.push_back(token);
  // f[0] is field 3 (state), so field N of proc(5) is f[N - 3].
  constexpr std::size_t kUtime = 14 - 3, kStime = 15 - 3, kStart = 22 - 3, kVsize = 23 - 3,
                        kRss = 24 - 3;
  if (f.size() <= kRss) return std::nullopt;

  std::optional<double> btime;
  std::istringstream lines(proc_stat);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("btime ", 0) == 0) {
      try {
        btime = std::stod(line.substr(6));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  if (!btime) return std::nullopt;

  try {
    ProcessStats s;
    const double ticks = static_cast<double>(ticks_per_second);
    s.cpu_seconds = (std::stod(f[kUtime]) + std::stod(f[kStime])) / ticks;
    s.start_time_seconds = *btime + std::stod(f[kStart]) / ticks;
    s.virtual_memory_bytes = std::stod(f[kVsize]);
    s.resident_memory_bytes = std::stod(f[kRss]) * static_cast<double>(page_size);
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<ProcessStats> ReadSelfProcessStats() {
  auto pid_stat = Slurp("/proc/self/stat");
  auto proc_stat = Slurp("/proc/stat");
  if (!pid_stat || !proc_stat) return std::nullopt;
  auto stats = ParseProcStat(*pid_stat, *proc_stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  if (!stats) return std::nullopt;

  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  // The iterator's own descriptor is listed too; the Go client counts it as
  // well, so the numbers stay comparable.
  if (!ec) stats->open_fds = fds;

  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    stats->max_fds = static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

void TuneAllocatorForServe() {
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

ProcessCollector::ProcessCollector(std::string version, std::string revision)
    : version_(std::move(version)), revision_(std::move(revision)) {}

std::vector<MetricFamily> ProcessCollector::Collect() const {
  std::vector<MetricFamily> out;

  MetricFamily build = Single(
      "portpath_build_info",
      "A metric with a constant '1' value labeled by version and revision from which portpath "
      "was built.",
      MetricType::Gauge, 1);
  build.metric[0].label.push_back({"version", version_});
  if (!revision_.empty()) build.metric[0].label.push_back({"revision", revision_});
  out.push_back(std::move(build));

  auto s = ReadSelfProcessStats();
  if (!s) return out;  // not Linux, or /proc not mounted: no process_* rather than zeros
  out.push_back(Single("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", MetricType::Counter,
                       s->cpu_seconds));
  if (s->open_fds) {
    out.push_back(Single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                         *s->open_fds));
  }
  if (s->max_fds) {
    out.push_back(Single("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, *s->max_fds));
  }
  out.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       MetricType::Gauge, s->virtual_memory_bytes));
  out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                       MetricType::Gauge, s->resident_memory_bytes));
  out.push_back(Single("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                       s->start_time_seconds));
  return out;
}

}  // namespace portpath::exporter
