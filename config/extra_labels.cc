#include "config/extra_labels.h"

#include <algorithm>

namespace portpath::config {
namespace {

bool ValidName(std::string_view name) {
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return !name.empty() && first(name[0]) && std::all_of(name.begin() + 1, name.end(), rest) &&
         !name.starts_with("__");
}

}  // namespace

std::optional<std::map<std::string, std::string>> ParseExtraLabels(std::string_view text,
                                                                   std::string& error) {
  std::map<std::string, std::string> labels;
  while (true) {
    std::string_view item = text.substr(0, text.find(','));
    auto eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    if (eq == std::string_view::npos || !ValidName(name)) {
      error = "'" + std::string(name) + "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __...)";
      return std::nullopt;
    }
    if (std::find(std::begin(kReservedLabels), std::end(kReservedLabels), name) !=
        std::end(kReservedLabels)) {
      error = "'" + std::string(name) + "' is a reserved label name";
      return std::nullopt;
    }
    std::string_view value = item.substr(eq + 1);
    if (value.empty()) {
      error = "the value of '" + std::string(name) + "' is empty";
      return std::nullopt;
    }
    if (!labels.emplace(name, value).second) {
      error = "'" + std::string(name) + "' is given twice";
      return std::nullopt;
    }
    if (item.size() == text.size()) return labels;
    text.remove_prefix(item.size() + 1);
  }
}

void AddExtraLabels(Config& config, const std::map<std::string, std::string>& labels) {
  for (Target& target : config.targets)
    for (const auto& [name, value] : labels) target.labels[name] = value;
}

}  // namespace portpath::config
