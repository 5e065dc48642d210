#pragma once
// Reads the Prometheus text exposition back into metric families, so tests
// can ask for a series by name and labels. Strict about what the exporter
// writes: a line it cannot read fails the test that parses it.

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <sstream>
#include <string>
#include <vector>

namespace portpath::exporter::test_data {

inline std::vector<prometheus::MetricFamily> ParseExposition(const std::string& text) {
  std::vector<prometheus::MetricFamily> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      prometheus::MetricFamily f;
      std::string rest = line.substr(7);
      f.name = rest.substr(0, rest.find(' '));
      f.help = rest.substr(f.name.size() + 1);
      out.push_back(f);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      std::string type = rest.substr(name.size() + 1);
      if (out.empty() || out.back().name != name) {
        prometheus::MetricFamily f;
        f.name = name;
        out.push_back(f);
      }
      out.back().type =
          type == "counter" ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      continue;
    }
    std::size_t brace = line.find('{');
    std::size_t space = line.rfind(' ');
    std::string name = line.substr(0, std::min(brace, space));
    prometheus::ClientMetric m;
    if (brace != std::string::npos && brace < space) {
      std::size_t i = brace + 1;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find("=\"", i);
        EXPECT_NE(eq, std::string::npos) << line;
        if (eq == std::string::npos) return out;
        prometheus::ClientMetric::Label l;
        l.name = line.substr(i, eq - i);
        i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            l.value += line[i] == 'n' ? '\n' : line[i];
          } else {
            l.value += line[i];
          }
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        m.label.push_back(l);
      }
      space = line.find(' ', i);
    }
    double value = std::stod(line.substr(space + 1));
    if (out.empty() || out.back().name != name) {
      // A family without HELP/TYPE (or the serializer's _total counters).
      prometheus::MetricFamily f;
      f.name = name;
      f.type = prometheus::MetricType::Untyped;
      out.push_back(f);
    }
    if (out.back().type == prometheus::MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    m.untyped.value = value;
    out.back().metric.push_back(m);
  }
  return out;
}

}  // namespace portpath::exporter::test_data
