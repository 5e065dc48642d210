#include "exporter/web_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <regex>
#include <set>
#include <system_error>

#include "exporter/http_tls.h"
#include "probe/io/fd.h"

namespace portpath::exporter {
namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

// Settings of the exporter-toolkit's format that portpath does not implement.
const std::set<std::string, std::less<>> kUnsupportedTls = {"cert",
                                                            "key",
                                                            "client_auth_type",
                                                            "client_ca_file",
                                                            "client_allowed_sans",
                                                            "cipher_suites",
                                                            "curve_preferences",
                                                            "max_version",
                                                            "prefer_server_cipher_suites"};

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  WebConfig Run(std::string_view text) {
    WebConfig config;
    config.file = file_;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      Fail(e.mark, e.msg);
    }
    // A file without content is the default config; anything else (a stray
    // "," parses as null too) must be a mapping.
    if (root.IsNull() && root.Mark().is_null()) return config;
    if (!root.IsMap()) {
      Fail(root.Mark(), "expected a mapping with tls_server_config and/or basic_auth_users, got " +
                            (root.IsNull() ? LineAt(text, root.Mark()) : Describe(root)));
    }
    for (const Entry& entry : Entries(root)) {
      if (entry.key == "tls_server_config") {
        config.tls = Tls(entry);
      } else if (entry.key == "basic_auth_users") {
        Users(entry, config);
      } else if (entry.key == "http_server_config") {
        Fail(entry.at, "http_server_config is not supported by portpath (it serves HTTP/1.1 only)");
      } else {
        Fail(entry.at,
             "unknown key '" + entry.key + "' (expected tls_server_config or basic_auth_users)");
      }
    }
    return config;
  }

 private:
  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& message) const {
    if (mark.is_null()) throw WebConfigError(file_ + ": " + message);
    // yaml-cpp counts from 0; editors and compilers from 1.
    throw WebConfigError(file_ + ":" + std::to_string(mark.line + 1) + ":" +
                         std::to_string(mark.column + 1) + ": " + message);
  }
  [[noreturn]] void Fail(const YAML::Node& node, const std::string& message) const {
    Fail(node.Mark(), message);
  }

  /// The text where `mark` points, up to the end of its line (what a stray
  /// "," that yaml-cpp reads as null looks like).
  static std::string LineAt(std::string_view text, const YAML::Mark& mark) {
    std::string_view rest = text.substr(std::min<std::size_t>(mark.pos, text.size()));
    rest = rest.substr(0, std::min<std::size_t>(rest.find('\n'), 60));
    return "'" + std::string(rest) + "'";
  }

  static std::string Describe(const YAML::Node& node) {
    if (node.IsMap()) return "a mapping";
    if (node.IsSequence()) return "a list";
    if (node.IsScalar()) return "'" + node.Scalar().substr(0, 60) + "'";
    return "nothing";
  }

  struct Entry {
    std::string key;
    YAML::Node value;
    YAML::Mark at;  // of the value; of the key when the value is empty
  };

  /// The mapping's entries with string keys, refusing duplicates (yaml-cpp
  /// keeps both and the later one would win silently).
  std::vector<Entry> Entries(const YAML::Node& map) const {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (const auto& entry : map) {
      if (!entry.first.IsScalar())
        Fail(entry.first, "expected a name, got " + Describe(entry.first));
      const std::string& key = entry.first.Scalar();
      if (!seen.insert(key).second) Fail(entry.first, "duplicate key '" + key + "'");
      out.push_back(
          {key, entry.second, entry.second.IsNull() ? entry.first.Mark() : entry.second.Mark()});
    }
    return out;
  }

  std::string String(const Entry& entry, const std::string& what) const {
    if (!entry.value.IsScalar() || entry.value.Scalar().empty()) {
      Fail(entry.at, what + ": expected a non-empty string, got " + Describe(entry.value));
    }
    return entry.value.Scalar();
  }

  std::string Path(const Entry& entry) const {
    std::string path = String(entry, entry.key);
    if (path.front() == '/') return path;
    auto slash = file_.rfind('/');
    return slash == std::string::npos ? path : file_.substr(0, slash + 1) + path;
  }

  TlsServerConfig Tls(const Entry& section) {
    if (!section.value.IsMap()) {
      Fail(section.at, "tls_server_config: expected a mapping with cert_file and key_file, got " +
                           Describe(section.value));
    }
    TlsServerConfig tls;
    for (const Entry& entry : Entries(section.value)) {
      if (entry.key == "cert_file") {
        tls.cert_file = Path(entry);
      } else if (entry.key == "key_file") {
        tls.key_file = Path(entry);
      } else if (entry.key == "min_version") {
        std::string v = String(entry, "min_version");
        if (v == "TLS12") {
          tls.min_version = 0x0303;
        } else if (v == "TLS13") {
          tls.min_version = 0x0304;
        } else {
          Fail(entry.at, "min_version: expected TLS12 or TLS13, got '" + v + "'");
        }
      } else if (kUnsupportedTls.count(entry.key)) {
        Fail(entry.at, "tls_server_config." + entry.key +
                           " is not supported by portpath (only cert_file, key_file and "
                           "min_version are)");
      } else {
        Fail(entry.at, "tls_server_config: unknown key '" + entry.key + "'");
      }
    }
    if (tls.cert_file.empty()) Fail(section.value, "tls_server_config: cert_file is required");
    if (tls.key_file.empty()) Fail(section.value, "tls_server_config: key_file is required");
    return tls;
  }

  void Users(const Entry& section, WebConfig& config) {
    if (section.value.IsNull()) return;
    if (!section.value.IsMap()) {
      Fail(section.at, "basic_auth_users: expected a mapping of user names to bcrypt hashes, got " +
                           Describe(section.value));
    }
    for (const auto& map_entry : section.value) {
      const std::string user = map_entry.first.IsScalar() ? map_entry.first.Scalar() : "";
      if (user.empty() || user.find(':') != std::string::npos) {
        Fail(map_entry.first, "basic_auth_users: user name '" + user +
                                  "' must be non-empty and must not contain ':'");
      }
    }
    for (const Entry& entry : Entries(section.value)) {
      std::string hash = String(entry, "basic_auth_users." + entry.key);
      if (!IsBcryptHash(hash)) {
        Fail(entry.at, "basic_auth_users." + entry.key +
                           ": not a bcrypt hash (expected $2y$, $2b$ or $2a$, a cost of 04-31 and "
                           "53 characters, as `htpasswd -nBC 10 USER` prints)");
      }
      config.basic_auth_users.emplace(entry.key, std::move(hash));
    }
  }

  std::string file_;
};

/// The content of the regular file at `path`, at most kMaxFileBytes; throws
/// WebConfigError "PREFIX: cannot read: WHY".
std::string ReadSmallFile(const std::string& path, const std::string& prefix) {
  auto fail = [&](const std::string& why) {
    return WebConfigError(prefix + ": cannot read: " + why);
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  io::Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat info {};
  if (!fd.valid() || ::fstat(fd.get(), &info) != 0)
    throw fail(std::generic_category().message(errno));
  if (!S_ISREG(info.st_mode)) throw fail("not a regular file");
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw fail(std::generic_category().message(errno));
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) throw fail("larger than 1 MiB");
  }
  return text;
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  static const std::regex kBcrypt(R"(\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53})");
  return std::regex_match(hash.begin(), hash.end(), kBcrypt);
}

WebConfig ParseWebConfig(std::string_view yaml_text, const std::string& file_name) {
  return Parser(file_name).Run(yaml_text);
}

WebConfig LoadWebConfig(const std::string& path) {
  WebConfig config = ParseWebConfig(ReadSmallFile(path, path), path);
  if (config.tls) {
    TlsServerConfig& tls = *config.tls;
    const std::string where = path + ": tls_server_config: ";
    tls.cert_pem = ReadSmallFile(tls.cert_file, where + "cert_file " + tls.cert_file);
    tls.key_pem = ReadSmallFile(tls.key_file, where + "key_file " + tls.key_file);
    std::string error = CheckCertificate(tls);
    if (!error.empty()) throw WebConfigError(where + error);
  }
  return config;
}

}  // namespace portpath::exporter
