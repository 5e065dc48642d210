#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "config/scalars.h"
#include "config/yaml_tree.h"
#include "probe/io/fd.h"

namespace portpath::config {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Limits. README-config.md documents the same numbers; keep the two in step.

constexpr milliseconds kMinInterval = 1s;
constexpr milliseconds kMaxInterval = 24h;
constexpr milliseconds kMinTimeout = 10ms;
constexpr milliseconds kMaxTimeout = 60s;
constexpr int64_t kMaxJitterHundredths =
    50'00;  // 50%: traces of one target stay >= interval/2 apart
constexpr double kMinRate = 1;
constexpr double kMaxRate = 1'000'000;
// Linux interface names are at most IFNAMSIZ - 1 = 15 bytes; spelt out to avoid <net/if.h>.
constexpr size_t kMaxInterfaceName = 15;
// A config is a few kilobytes; refusing huge inputs keeps `--config /dev/zero` from eating memory.
constexpr size_t kMaxFileBytes = 16 << 20;
// Errors reported at most; a file that has more is not worth reading further.
constexpr size_t kMaxErrors = 1000;

struct IntRange {
  int64_t min;
  int64_t max;
};
constexpr IntRange kMaxHopsRange{1, 255};
constexpr IntRange kFirstHopRange{1, 255};  // further bounded by max_hops
constexpr IntRange kProbesPerHopRange{1, 10};
constexpr IntRange kGapLimitRange{1, 255};
constexpr IntRange kFlowsRange{1, 16};
constexpr IntRange kFullRoundEveryRange{1, 64};
constexpr IntRange kPortRange{1, 65535};

constexpr std::string_view kSettingsKeys[] = {
    "interval",  "timeout", "jitter", "max_hops",    "first_hop",       "probes_per_hop",
    "gap_limit", "family",  "flows",  "hop_metrics", "full_round_every"};
constexpr std::string_view kTopLevelKeys[] = {"defaults", "rate",        "source", "interface",
                                              "asn_db",   "reverse_dns", "targets"};
constexpr std::string_view kTargetOnlyKeys[] = {"host", "ports", "port", "labels"};

template <size_t N>
bool Contains(const std::string_view (&keys)[N], std::string_view key) {
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

// ---------------------------------------------------------------------------------------------
// Settings as written in one section (`defaults:` or one target), before merging. Keeping the
// mark of every value lets a conflict between two keys be reported where the user set them.

template <typename T>
struct Field {
  bool present = false;  // the key appears in this section
  bool valid = false;    // and its value passed its own checks
  T value{};
  YAML::Mark mark;  // of the value, or of the key when the value is empty
};

struct Jitter {
  bool is_percent = true;
  int64_t hundredths = 10'00;  // of a percent, when is_percent
  milliseconds duration{0};    // otherwise
};

struct SettingsSpec {
  Field<milliseconds> interval;
  Field<milliseconds> timeout;
  Field<Jitter> jitter;
  Field<int> max_hops;
  Field<int> first_hop;
  Field<int> probes_per_hop;
  Field<int> gap_limit;
  Field<int> flows;
  Field<Family> family;
  Field<HopMetrics> hop_metrics;
  Field<int> full_round_every;
};

// A setting's effective value and where it came from.
template <typename T>
struct Resolved {
  T value;
  bool valid;         // false when the value it came from was rejected: skip checks that use it
  bool from_section;  // set in the section being resolved, rather than inherited
  YAML::Mark mark;
};

template <typename T>
Resolved<T> Resolve(const Field<T>& section, const Field<T>& parent, const T& builtin) {
  if (section.present) return {section.value, section.valid, true, section.mark};
  if (parent.present) return {parent.value, parent.valid, false, parent.mark};
  return {builtin, true, false, YAML::Mark::null_mark()};
}

enum class Section { kTop, kDefaults, kTarget };

// yaml-cpp 0.7.0's LoadAll never returns on some inputs: a stray ',' at the top level
// yields empty documents forever without being consumed, and LoadAll collects them until
// memory runs out. So documents are walked with an event handler that stops when the parser
// makes no progress, and only the first one is built, in the same pass (YamlTreeBuilder: one
// parse of the text, not a scan and then YAML::Load).
class DocumentCounter : public YAML::EventHandler {
 public:
  // `builder`, if given, receives every event too.
  explicit DocumentCounter(YamlTreeBuilder* builder = nullptr) : builder_(builder) {}

  void OnDocumentStart(const YAML::Mark& mark) override { Begin(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Note(mark, false);
    if (builder_) builder_->OnNull(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Note(mark, true);
    if (builder_) builder_->OnAlias(mark, anchor);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Note(mark, true);
    if (builder_) builder_->OnScalar(mark, tag, anchor, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    Note(mark, true);
    if (builder_) builder_->OnSequenceStart(mark, tag, anchor, style);
  }
  void OnSequenceEnd() override {
    if (builder_) builder_->OnSequenceEnd();
  }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    Note(mark, true);
    if (builder_) builder_->OnMapStart(mark, tag, anchor, style);
  }
  void OnMapEnd() override {
    if (builder_) builder_->OnMapEnd();
  }

  void Begin(const YAML::Mark& mark) {
    first_mark = mark;
    has_content = false;
    noted = false;
  }
  void Note(const YAML::Mark& mark, bool content) {
    if (!noted) first_mark = mark;
    noted = true;
    has_content = has_content || content;
  }
  YAML::Mark first_mark = YAML::Mark::null_mark();
  bool has_content = false;
  bool noted = false;

 private:
  YamlTreeBuilder* builder_;
};

struct DocumentScan {
  YamlTree first;                             // the first document (a null root if none)
  std::optional<YAML::Mark> second_document;  // where a second non-empty document starts
  std::optional<YAML::Mark> stuck;            // where the parser stopped making progress
};

DocumentScan ScanDocuments(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentScan scan;
  std::optional<YAML::Mark> previous;
  for (int document = 0;; ++document) {
    YamlTreeBuilder builder;
    DocumentCounter counter(document == 0 ? &builder : nullptr);
    const bool more = parser.HandleNextDocument(counter);
    if (document == 0) scan.first = builder.Finish();
    if (!more) return scan;
    const YAML::Mark& at = counter.first_mark;
    // An empty document at the very place the previous one was: nothing was consumed.
    if (!counter.has_content && previous && previous->pos == at.pos) {
      scan.stuck = at;
      return scan;
    }
    previous = at;
    if (document > 0 && counter.has_content && !scan.second_document) scan.second_document = at;
  }
}

// Values from the file are shown escaped: a control byte or terminal escape in a
// config must not reach the terminal or the log raw.
std::string Quote(std::string_view s) { return "'" + EscapeForDisplay(s) + "'"; }

// How a node appears in "expected X, got Y" messages.
std::string Describe(const YamlNode& node) {
  switch (node.kind()) {
    case YamlNode::Kind::kNull:
      return "nothing";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kMap:
      return "a mapping";
    case YamlNode::Kind::kScalar:
      break;
  }
  constexpr size_t kMaxShown = 60;  // enough to recognise a value, short enough for one line
  const std::string& s = node.Scalar();
  return s.size() <= kMaxShown ? Quote(s) : Quote(s.substr(0, kMaxShown) + "...");
}

bool IsLabelName(std::string_view name) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.empty() || !alpha(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || digit(c); });
}

// ---------------------------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  ParseResult Run(std::string_view text) {
    visit_budget_ = 4 * text.size() + 10'000;
    Config config;
    config.file = file_;
    ParseDocument(text, config);
    // Errors are found section by section; users read files top to bottom.
    std::stable_sort(errors_.begin(), errors_.end(), [](const Found& a, const Found& b) {
      return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
    });
    ParseResult result;
    if (errors_.empty()) {
      result.config = std::move(config);
    } else {
      result.errors.reserve(errors_.size() + 1);
      for (Found& found : errors_) {
        result.errors.emplace_back(file_, found.at.line, found.at.column, std::move(found.message));
      }
      if (errors_not_shown_ > 0)
        result.errors.emplace_back(file_, 0, 0,
                                   std::to_string(errors_not_shown_) + " more errors not shown");
    }
    return result;
  }

 private:
  // yaml-cpp marks are 0-based; editors and compilers count from 1.
  static Position PositionOf(const YAML::Mark& mark) {
    if (mark.is_null()) return {1, 1};
    return {mark.line + 1, mark.column + 1};
  }

  void Error(const YAML::Mark& mark, std::string message) {
    if (errors_.size() >= kMaxErrors) {
      ++errors_not_shown_;
      return;
    }
    errors_.push_back({PositionOf(mark), std::move(message)});
  }

  // Counts one more map entry, list item or target walked; false once the walk has gone past
  // what the text itself holds several times over. Without aliases every entry takes at least
  // a byte of text, so only aliases of aliases (`*a` standing for a list of `*b`...) get
  // there: a few kilobytes could otherwise expand into billions of entries and hold a reload.
  bool Visit(const YAML::Mark& mark) {
    if (++visited_ <= visit_budget_) return true;
    if (!over_budget_) {
      over_budget_ = true;
      // Past kMaxErrors too: it says why the rest of the file was not read.
      errors_.push_back({PositionOf(mark), "the configuration expands to more than " +
                                               std::to_string(visit_budget_) +
                                               " entries through aliases (*name); write the "
                                               "entries out, or use fewer aliases of aliases"});
    }
    return false;
  }

  // Calls f(key, key_mark, value, value_mark) for each entry of a mapping, after rejecting
  // non-scalar and repeated keys. yaml-cpp keeps both copies of a repeated key and lookups see
  // only the first, so without this check the second would be silently ignored.
  template <typename F>
  void ForEachEntry(const YamlNode& map, F&& f) {
    // Keys point into the tree, which outlives the walk.
    std::map<std::string_view, YAML::Mark> seen;
    for (std::size_t i = 0; i < map.size(); ++i) {
      const YamlNode key = map.Key(i);
      const YamlNode value = map.Value(i);
      YAML::Mark key_mark = key.Mark().is_null() ? map.Mark() : key.Mark();
      if (!Visit(key_mark)) return;
      if (!key.IsScalar()) {
        Error(key_mark, "expected a key name, got " + Describe(key));
        continue;
      }
      auto [first, inserted] = seen.emplace(key.Scalar(), key_mark);
      if (!inserted) {
        Error(key_mark, "duplicate key " + Quote(key.Scalar()) + " (first at line " +
                            std::to_string(first->second.line + 1) + ")");
        continue;
      }
      // yaml-cpp places an empty value at the start of the next token, often the next line;
      // the key is where the user will look.
      YAML::Mark value_mark = value.IsNull() || value.Mark().is_null() ? key_mark : value.Mark();
      f(key.Scalar(), key_mark, value, value_mark);
    }
  }

  void UnknownKey(const std::string& key, const YAML::Mark& mark, Section section) {
    std::string k = Quote(key);
    bool is_setting = Contains(kSettingsKeys, key);
    bool is_top = Contains(kTopLevelKeys, key);
    bool is_target_only = Contains(kTargetOnlyKeys, key);
    // A known key in the wrong section is a different mistake from a typo; say where it goes.
    switch (section) {
      case Section::kTop:
        if (is_setting) {
          return Error(mark, "key " + k +
                                 " is not allowed at the top level; put it under 'defaults' or "
                                 "in a target");
        }
        if (is_target_only) {
          return Error(mark, "key " + k +
                                 " is not allowed at the top level; it belongs in a target "
                                 "under 'targets'");
        }
        break;
      case Section::kDefaults:
        if (is_target_only) {
          return Error(mark,
                       "key " + k + " is not allowed under 'defaults'; it belongs in a target");
        }
        if (is_top) {
          return Error(
              mark, "key " + k + " is not allowed under 'defaults'; it belongs at the top level");
        }
        break;
      case Section::kTarget:
        if (is_top) {
          return Error(mark,
                       "key " + k + " is not allowed in a target; it belongs at the top level");
        }
        break;
    }

    std::vector<std::string_view> known;
    if (section == Section::kTop) known.assign(std::begin(kTopLevelKeys), std::end(kTopLevelKeys));
    if (section == Section::kTarget) {
      known.assign(std::begin(kTargetOnlyKeys), std::end(kTargetOnlyKeys));
    }
    if (section != Section::kTop) {
      known.insert(known.end(), std::begin(kSettingsKeys), std::end(kSettingsKeys));
    }
    std::string_view best;
    int best_distance = 3;  // suggest only within distance 2
    for (std::string_view candidate : known) {
      // The distance is at least the difference in length: a long key (a stray
      // paragraph, a fuzzer's input) costs no quadratic comparison.
      const auto length_gap = key.size() > candidate.size() ? key.size() - candidate.size()
                                                            : candidate.size() - key.size();
      if (length_gap >= static_cast<size_t>(best_distance)) continue;
      int d = EditDistance(key, candidate);
      // d < key.size() keeps a two-letter key from "matching" every other two-letter key.
      if (d < best_distance && static_cast<size_t>(d) < key.size()) {
        best = candidate;
        best_distance = d;
      }
    }
    std::string message = "unknown key " + k;
    if (!best.empty()) message += " (did you mean " + Quote(best) + "?)";
    Error(mark, message);
  }

  // --- scalar fields -------------------------------------------------------------------------

  std::optional<int64_t> ParseIntValue(std::string_view key, const YamlNode& value,
                                       const YAML::Mark& mark, IntRange range,
                                       std::string_view what = "an integer") {
    std::optional<int64_t> v;
    if (value.IsScalar()) v = ParseInteger(value.Scalar());
    if (!v) {
      Error(mark,
            std::string(key) + ": expected " + std::string(what) + ", got " + Describe(value));
      return std::nullopt;
    }
    if (*v < range.min || *v > range.max) {
      Error(mark, std::string(key) + ": must be between " + std::to_string(range.min) + " and " +
                      std::to_string(range.max) + ", got " + value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  void ParseIntField(std::string_view key, const YamlNode& value, const YAML::Mark& mark,
                     IntRange range, Field<int>& out) {
    out.present = true;
    out.mark = mark;
    if (auto v = ParseIntValue(key, value, mark, range)) {
      out.value = static_cast<int>(*v);
      out.valid = true;
    }
  }

  void ParseDurationField(std::string_view key, const YamlNode& value, const YAML::Mark& mark,
                          milliseconds min, milliseconds max, Field<milliseconds>& out) {
    out.present = true;
    out.mark = mark;
    std::optional<milliseconds> d;
    if (value.IsScalar()) d = ParseDuration(value.Scalar());
    if (!d) {
      Error(mark,
            std::string(key) + ": expected a duration like 30s or 500ms, got " + Describe(value));
      return;
    }
    if (*d < min || *d > max) {
      Error(mark, std::string(key) + ": must be between " + FormatDuration(min) + " and " +
                      FormatDuration(max) + ", got " + value.Scalar());
      return;
    }
    out.value = *d;
    out.valid = true;
  }

  void ParseJitterField(const YamlNode& value, const YAML::Mark& mark, Field<Jitter>& out) {
    out.present = true;
    out.mark = mark;
    auto fail = [&] {
      Error(mark, "jitter: expected a percentage like 10% or a duration like 500ms, got " +
                      Describe(value));
    };
    if (!value.IsScalar()) return fail();
    const std::string& text = value.Scalar();
    if (!text.empty() && text.back() == '%') {
      std::optional<int64_t> hundredths = ParsePercentHundredths(text);
      if (!hundredths) return fail();
      if (*hundredths > kMaxJitterHundredths) {
        return Error(mark, "jitter: must be between 0% and 50%, got " + text);
      }
      out.value = Jitter{true, *hundredths, 0ms};
    } else {
      std::optional<milliseconds> d = ParseDuration(text);
      if (!d) return fail();
      // The upper bound depends on the effective interval; ResolveSettings checks it.
      out.value = Jitter{false, 0, *d};
    }
    out.valid = true;
  }

  // One of the spellings of `choices` (an enum with a ToString).
  template <typename E>
  void ParseEnumField(const std::string& key, const YamlNode& value, const YAML::Mark& mark,
                      std::initializer_list<E> choices, Field<E>& out) {
    out.present = true;
    out.mark = mark;
    std::string spellings;
    for (E choice : choices) {
      if (value.IsScalar() && value.Scalar() == ToString(choice)) {
        out.value = choice;
        out.valid = true;
        return;
      }
      spellings += (spellings.empty() ? "" : ", ") + std::string(ToString(choice));
    }
    Error(mark, key + ": expected one of " + spellings + ", got " + Describe(value));
  }

  // Returns false when `key` is not a setting, leaving the caller to report it.
  bool ParseSetting(const std::string& key, const YamlNode& value, const YAML::Mark& mark,
                    SettingsSpec& spec) {
    if (key == "interval") {
      ParseDurationField(key, value, mark, kMinInterval, kMaxInterval, spec.interval);
    } else if (key == "timeout") {
      ParseDurationField(key, value, mark, kMinTimeout, kMaxTimeout, spec.timeout);
    } else if (key == "jitter") {
      ParseJitterField(value, mark, spec.jitter);
    } else if (key == "max_hops") {
      ParseIntField(key, value, mark, kMaxHopsRange, spec.max_hops);
    } else if (key == "first_hop") {
      ParseIntField(key, value, mark, kFirstHopRange, spec.first_hop);
    } else if (key == "probes_per_hop") {
      ParseIntField(key, value, mark, kProbesPerHopRange, spec.probes_per_hop);
    } else if (key == "gap_limit") {
      ParseIntField(key, value, mark, kGapLimitRange, spec.gap_limit);
    } else if (key == "flows") {
      ParseIntField(key, value, mark, kFlowsRange, spec.flows);
    } else if (key == "full_round_every") {
      ParseIntField(key, value, mark, kFullRoundEveryRange, spec.full_round_every);
    } else if (key == "family") {
      ParseEnumField(key, value, mark, {Family::kAny, Family::kIpv4, Family::kIpv6}, spec.family);
    } else if (key == "hop_metrics") {
      ParseEnumField(key, value, mark, {HopMetrics::kNone, HopMetrics::kBlocked, HopMetrics::kAll},
                     spec.hop_metrics);
    } else {
      return false;
    }
    return true;
  }

  // Merges `section` over `parent` over the built-in defaults and checks the constraints that
  // tie two settings together. A conflict is reported only if this section set one of the two
  // keys, so that a bad pair in `defaults:` is reported once, not once per target, and is
  // blamed on the key the section set (the constrained one when it set both).
  ProbeSettings ResolveSettings(const SettingsSpec& section, const SettingsSpec& parent) {
    const ProbeSettings builtin;
    auto interval = Resolve(section.interval, parent.interval, builtin.interval);
    auto timeout = Resolve(section.timeout, parent.timeout, builtin.timeout);
    auto jitter = Resolve(section.jitter, parent.jitter, Jitter{});
    auto max_hops = Resolve(section.max_hops, parent.max_hops, builtin.max_hops);
    auto first_hop = Resolve(section.first_hop, parent.first_hop, builtin.first_hop);
    auto probes = Resolve(section.probes_per_hop, parent.probes_per_hop, builtin.probes_per_hop);
    auto gap_limit = Resolve(section.gap_limit, parent.gap_limit, builtin.gap_limit);
    auto flows = Resolve(section.flows, parent.flows, builtin.flows);
    auto family = Resolve(section.family, parent.family, builtin.family);
    auto hop_metrics = Resolve(section.hop_metrics, parent.hop_metrics, builtin.hop_metrics);
    auto full_round_every =
        Resolve(section.full_round_every, parent.full_round_every, builtin.full_round_every);

    if (first_hop.valid && max_hops.valid && (first_hop.from_section || max_hops.from_section) &&
        first_hop.value > max_hops.value) {
      if (first_hop.from_section) {
        Error(first_hop.mark, "first_hop: must not exceed max_hops (" +
                                  std::to_string(max_hops.value) + "), got " +
                                  std::to_string(first_hop.value));
      } else {
        Error(max_hops.mark, "max_hops: must be at least first_hop (" +
                                 std::to_string(first_hop.value) + "), got " +
                                 std::to_string(max_hops.value));
      }
    }

    milliseconds jitter_duration = jitter.value.duration;
    if (jitter.value.is_percent) {
      // Integer arithmetic: 10% of 30s is exactly 3s, never 2999ms.
      jitter_duration = milliseconds(interval.value.count() * jitter.value.hundredths / 100'00);
    } else if (jitter.valid && interval.valid && (jitter.from_section || interval.from_section) &&
               jitter_duration >= interval.value) {
      if (jitter.from_section) {
        Error(jitter.mark, "jitter: must be less than the interval (" +
                               FormatDuration(interval.value) + "), got " +
                               FormatDuration(jitter_duration));
      } else {
        Error(interval.mark, "interval: must be greater than the jitter (" +
                                 FormatDuration(jitter_duration) + "), got " +
                                 FormatDuration(interval.value));
      }
    }

    ProbeSettings s;
    s.interval = interval.value;
    s.timeout = timeout.value;
    s.jitter = jitter_duration;
    s.max_hops = max_hops.value;
    s.first_hop = first_hop.value;
    s.probes_per_hop = probes.value;
    s.gap_limit = gap_limit.value;
    s.flows = flows.value;
    s.family = family.value;
    s.hop_metrics = hop_metrics.value;
    s.full_round_every = full_round_every.value;
    return s;
  }

  // --- document ------------------------------------------------------------------------------

  void ParseDocument(std::string_view text, Config& config) {
    DocumentScan scan;
    try {
      scan = ScanDocuments(text);
      if (scan.stuck) {
        Error(*scan.stuck, "invalid YAML: unexpected character (a stray ',' or flow indicator?)");
        return;
      }
    } catch (const YAML::Exception& e) {
      // ParserException and its DeepRecursion subclass carry the mark of the offending token.
      Error(e.mark, "invalid YAML: " + e.msg);
      return;
    }
    // A second document would be ignored by a naive loader; a stray '---' usually means two
    // files were concatenated.
    if (scan.second_document) {
      Error(*scan.second_document,
            "expected a single YAML document, found another one; remove the '---' separator");
    }
    const YamlNode root = scan.first.Root();
    if (root.IsNull()) {
      Error(root.Mark(), "expected a mapping at the top level, got an empty document");
      return;
    }
    if (!root.IsMap()) {
      Error(root.Mark(), "expected a mapping at the top level, got " + Describe(root));
      return;
    }

    // Collect first, then process: targets depend on `defaults:` wherever it appears.
    SettingsSpec defaults;
    std::optional<std::pair<YamlNode, YAML::Mark>> targets;
    ForEachEntry(root, [&](const std::string& key, const YAML::Mark& key_mark,
                           const YamlNode& value, const YAML::Mark& mark) {
      if (key == "defaults") {
        ParseDefaults(value, mark, defaults);
      } else if (key == "rate") {
        std::optional<double> rate;
        if (value.IsScalar()) rate = ParseNumber(value.Scalar());
        if (!rate) {
          Error(mark, "rate: expected a number of packets per second, got " + Describe(value));
        } else if (*rate < kMinRate || *rate > kMaxRate) {
          Error(mark, "rate: must be between 1 and 1000000, got " + value.Scalar());
        } else {
          config.rate = *rate;
        }
      } else if (key == "source") {
        if (value.IsScalar() && IsIpLiteral(value.Scalar())) {
          config.source = value.Scalar();
          config.source_position = PositionOf(mark);
        } else {
          Error(mark, "source: expected an IPv4 or IPv6 address, got " + Describe(value));
        }
      } else if (key == "interface") {
        ParseInterface(value, mark, config);
      } else if (key == "asn_db") {
        if (value.IsScalar() && !value.Scalar().empty()) {
          config.asn_db = value.Scalar();
        } else {
          Error(mark, "asn_db: expected a file path, got " + Describe(value));
        }
      } else if (key == "reverse_dns") {
        // YAML 1.2 core booleans only: "yes"/"on" are strings there, and a
        // config that means something else in another tool is a trap.
        if (value.IsScalar() && (value.Scalar() == "true" || value.Scalar() == "false")) {
          config.reverse_dns = value.Scalar() == "true";
        } else {
          Error(mark, "reverse_dns: expected true or false, got " + Describe(value));
        }
      } else if (key == "targets") {
        targets.emplace(value, mark);
      } else {
        UnknownKey(key, key_mark, Section::kTop);
      }
    });

    config.defaults = ResolveSettings(defaults, SettingsSpec{});

    if (!targets) {
      Error(root.Mark(), "missing required key 'targets'");
      return;
    }
    const auto& [list, list_mark] = *targets;
    if (!list.IsSequence() && !list.IsNull()) {
      Error(list_mark, "targets: expected a list of targets, got " + Describe(list));
      return;
    }
    if (list.size() == 0) {
      Error(list_mark, "targets: must list at least one target");
      return;
    }

    // (host identity, port) -> position of the target that claimed it first.
    std::map<std::pair<std::string, uint16_t>, Position> claimed;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YamlNode node = list.Item(i);
      if (!Visit(node.Mark().is_null() ? list_mark : node.Mark())) break;
      std::vector<std::pair<uint16_t, YAML::Mark>> port_marks;
      std::optional<Target> target = ParseTarget(node, list_mark, defaults, port_marks);
      if (!target) continue;
      std::string identity = HostIdentity(target->host);
      for (const auto& [port, mark] : port_marks) {
        auto [first, inserted] = claimed.emplace(std::pair(identity, port), target->position);
        if (!inserted) {
          Error(mark, "duplicate target: " + Quote(target->host) + " port " + std::to_string(port) +
                          " is already defined at line " + std::to_string(first->second.line));
        }
      }
      config.targets.push_back(std::move(*target));
    }
  }

  void ParseDefaults(const YamlNode& value, const YAML::Mark& mark, SettingsSpec& defaults) {
    if (value.IsNull()) return;  // an empty section is harmless: everything stays built-in
    if (!value.IsMap()) {
      Error(mark, "defaults: expected a mapping of settings, got " + Describe(value));
      return;
    }
    ForEachEntry(value, [&](const std::string& key, const YAML::Mark& key_mark, const YamlNode& v,
                            const YAML::Mark& v_mark) {
      if (!ParseSetting(key, v, v_mark, defaults)) UnknownKey(key, key_mark, Section::kDefaults);
    });
  }

  void ParseInterface(const YamlNode& value, const YAML::Mark& mark, Config& config) {
    if (!value.IsScalar() || value.Scalar().empty()) {
      Error(mark, "interface: expected an interface name like eth0, got " + Describe(value));
      return;
    }
    const std::string& name = value.Scalar();
    if (name.size() > kMaxInterfaceName) {
      Error(mark, "interface: " + Quote(name) + " is longer than 15 characters, the Linux limit");
      return;
    }
    if (name.find_first_of("/: \t") != std::string::npos) {
      Error(mark, "interface: " + Quote(name) +
                      " is not a valid interface name (it contains '/', ':' or a space)");
      return;
    }
    config.interface = name;
    config.interface_position = PositionOf(mark);
  }

  // Returns the target, or nothing when its host or ports are unusable (errors already
  // recorded). `port_marks` receives each port with its position, for duplicate detection.
  std::optional<Target> ParseTarget(const YamlNode& node, const YAML::Mark& list_mark,
                                    const SettingsSpec& defaults,
                                    std::vector<std::pair<uint16_t, YAML::Mark>>& port_marks) {
    YAML::Mark target_mark = node.Mark().is_null() ? list_mark : node.Mark();
    if (!node.IsMap()) {
      Error(target_mark, "targets: each target must be a mapping with 'host' and 'ports', got " +
                             Describe(node));
      return std::nullopt;
    }
    Target target;
    target.position = {target_mark.line + 1, target_mark.column + 1};
    SettingsSpec spec;
    bool ok = true;
    bool have_host = false;
    bool have_ports = false;
    std::optional<YAML::Mark> ports_key;  // of whichever of 'port' and 'ports' came first

    ForEachEntry(node, [&](const std::string& key, const YAML::Mark& key_mark,
                           const YamlNode& value, const YAML::Mark& mark) {
      if (key == "host") {
        have_host = true;
        ok = ParseHost(value, mark, target) && ok;
      } else if (key == "ports" || key == "port") {
        if (ports_key) {
          Error(key_mark, "use either 'port' or 'ports' in a target, not both");
          ok = false;
          return;
        }
        ports_key = key_mark;
        have_ports = true;
        ok = (key == "ports" ? ParsePortList(value, mark, target, port_marks)
                             : ParseSinglePort(value, mark, target, port_marks)) &&
             ok;
      } else if (key == "labels") {
        ParseLabels(value, mark, target);
      } else if (!ParseSetting(key, value, mark, spec)) {
        UnknownKey(key, key_mark, Section::kTarget);
      }
    });

    if (!have_host) {
      Error(target_mark, "target is missing required key 'host'");
      ok = false;
    }
    if (!have_ports) {
      Error(target_mark, "target is missing required key 'ports'");
      ok = false;
    }
    target.settings = ResolveSettings(spec, defaults);
    if (!ok) return std::nullopt;
    return target;
  }

  bool ParseHost(const YamlNode& value, const YAML::Mark& mark, Target& target) {
    if (!value.IsScalar()) {
      Error(mark, "host: expected a host name or an IP address, got " + Describe(value));
      return false;
    }
    HostCheck check = CheckHost(value.Scalar());
    if (!check.kind) {
      Error(mark, "host: " + check.problem);
      return false;
    }
    target.host = value.Scalar();
    return true;
  }

  // `listed` marks the ports listed so far (kept up to date here): a `ports` list's; a single
  // `port` (nullptr) has none before it, since a target takes either key, not both.
  bool AddPort(const YamlNode& value, const YAML::Mark& mark, std::string_view key, Target& target,
               std::vector<std::pair<uint16_t, YAML::Mark>>& port_marks,
               std::vector<bool>* listed = nullptr) {
    std::optional<int64_t> v = ParseIntValue(key, value, mark, kPortRange, "a port number");
    if (!v) return false;
    auto port = static_cast<uint16_t>(*v);
    if (listed && (*listed)[port]) {
      Error(mark, std::string(key) + ": port " + std::to_string(port) + " is listed twice");
      return false;
    }
    if (listed) (*listed)[port] = true;
    target.ports.push_back(port);
    port_marks.emplace_back(port, mark);
    return true;
  }

  bool ParsePortList(const YamlNode& value, const YAML::Mark& mark, Target& target,
                     std::vector<std::pair<uint16_t, YAML::Mark>>& port_marks) {
    if (value.IsScalar()) {
      // Accepting a scalar here would make `ports: 80,443` mean something odd; point to `port`.
      Error(mark, "ports: expected a list like [443], got " + Describe(value) +
                      "; use 'port: " + value.Scalar() + "' for a single port");
      return false;
    }
    if (!value.IsSequence()) {
      Error(mark, "ports: expected a list like [443], got " + Describe(value));
      return false;
    }
    if (value.size() == 0) {
      Error(mark, "ports: must list at least one port");
      return false;
    }
    bool ok = true;
    // Ports already listed: a list may hold a million items, too many to search each time.
    std::vector<bool> listed(65536);
    for (std::size_t i = 0; i < value.size(); ++i) {
      const YamlNode item = value.Item(i);
      YAML::Mark item_mark = item.Mark().is_null() ? mark : item.Mark();
      if (!Visit(item_mark)) return false;
      // A duplicate port is reported but does not make the target unusable.
      ok = AddPort(item, item_mark, "ports", target, port_marks, &listed) && ok;
    }
    return !target.ports.empty() && ok;
  }

  bool ParseSinglePort(const YamlNode& value, const YAML::Mark& mark, Target& target,
                       std::vector<std::pair<uint16_t, YAML::Mark>>& port_marks) {
    if (value.IsSequence()) {
      Error(mark, "port: expected a single port number, got a list; use 'ports:' for a list");
      return false;
    }
    return AddPort(value, mark, "port", target, port_marks);
  }

  void ParseLabels(const YamlNode& value, const YAML::Mark& mark, Target& target) {
    if (value.IsNull()) return;
    if (!value.IsMap()) {
      Error(mark,
            "labels: expected a mapping of label names to values, like {team: storage}, "
            "got " +
                Describe(value));
      return;
    }
    ForEachEntry(value, [&](const std::string& name, const YAML::Mark& name_mark, const YamlNode& v,
                            const YAML::Mark& v_mark) {
      if (!IsLabelName(name)) {
        return Error(name_mark, "labels: invalid label name " + Quote(name) +
                                    ": use letters, digits and '_', not starting with a digit");
      }
      if (name.starts_with("__")) {
        return Error(name_mark,
                     "labels: label names starting with '__' are reserved for "
                     "Prometheus; got " +
                         Quote(name));
      }
      if (std::find(std::begin(kReservedLabels), std::end(kReservedLabels), name) !=
          std::end(kReservedLabels)) {
        return Error(name_mark,
                     "labels: " + Quote(name) + " is a reserved label name; choose another name");
      }
      if (!v.IsScalar()) {
        return Error(v_mark,
                     "labels: value of " + Quote(name) + " must be a string, got " + Describe(v));
      }
      // Prometheus treats an empty label value as an absent label, which would be surprising.
      if (v.Scalar().empty()) {
        return Error(v_mark, "labels: value of " + Quote(name) + " must not be empty");
      }
      target.labels.emplace(name, v.Scalar());
    });
  }

  // An error as found: sorted by position first, made a ConfigError (with its what() text)
  // only at the end. Broken input can hold thousands.
  struct Found {
    Position at;
    std::string message;
  };

  std::string file_;
  std::vector<Found> errors_;
  /// Errors past kMaxErrors are counted, not kept (Run says how many).
  std::size_t errors_not_shown_ = 0;
  /// Map entries, list items and targets walked so far, against the budget
  /// set from the text's size (Visit).
  std::size_t visited_ = 0;
  std::size_t visit_budget_ = 0;
  bool over_budget_ = false;
};

// FILE:LINE:COLUMN: MESSAGE, or FILE: MESSAGE, built in one buffer: a broken file can give
// thousands of errors.
std::string ErrorText(const std::string& file, int line, int column, const std::string& message) {
  std::string text;
  text.reserve(file.size() + message.size() + 26);
  text += file;
  if (line != 0) {
    text += ':';
    text += std::to_string(line);
    text += ':';
    text += std::to_string(column);
  }
  text += ": ";
  text += message;
  return text;
}

}  // namespace

std::string_view ToString(Family family) {
  switch (family) {
    case Family::kAny:
      return "any";
    case Family::kIpv4:
      return "ipv4";
    case Family::kIpv6:
      return "ipv6";
  }
  return "any";
}

std::string_view ToString(HopMetrics hop_metrics) {
  switch (hop_metrics) {
    case HopMetrics::kNone:
      return "none";
    case HopMetrics::kBlocked:
      return "blocked";
    case HopMetrics::kAll:
      return "all";
  }
  return "none";
}

ConfigError::ConfigError(std::string file, int line, int column, std::string message)
    : std::runtime_error(ErrorText(file, line, column, message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      message_(std::move(message)) {}

ParseResult TryParseConfig(std::string_view yaml_text, const std::string& file_name) {
  return Parser(file_name).Run(yaml_text);
}

ParseResult TryLoadConfigFile(const std::string& path) {
  auto fail = [&](const std::string& message) {
    ParseResult result;
    result.errors.emplace_back(path, 0, 0, message);
    return result;
  };
  // O_NONBLOCK: open() on a FIFO would wait for a writer (and a reload with it); only a
  // regular file is read. A Kubernetes ConfigMap's symlinks lead to regular files.
  io::Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  // std::generic_category().message() is strerror's text without strerror's shared buffer.
  if (!fd.valid()) return fail("cannot read: " + std::generic_category().message(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0)
    return fail("cannot read: " + std::generic_category().message(errno));
  if (S_ISDIR(info.st_mode)) return fail("cannot read: " + std::generic_category().message(EISDIR));
  if (!S_ISREG(info.st_mode))
    return fail("cannot read: not a regular file (a FIFO, socket or device)");
  if (static_cast<std::uint64_t>(info.st_size) > kMaxFileBytes)
    return fail("cannot read: file is larger than 16 MiB");
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read: " + std::generic_category().message(errno));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) return fail("cannot read: file is larger than 16 MiB");
  }
  return TryParseConfig(text, path);
}

Config ParseConfig(std::string_view yaml_text, const std::string& file_name) {
  ParseResult result = TryParseConfig(yaml_text, file_name);
  if (!result.ok()) throw ConfigError(result.errors.front());
  return std::move(*result.config);
}

Config LoadConfigFile(const std::string& path) {
  ParseResult result = TryLoadConfigFile(path);
  if (!result.ok()) throw ConfigError(result.errors.front());
  return std::move(*result.config);
}

}  // namespace portpath::config
