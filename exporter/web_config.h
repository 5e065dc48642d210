#pragma once
/// The exporter's web configuration file (--web.config.file), in the format of
/// the Prometheus exporter-toolkit, so one file serves every exporter of a host:
///
///   tls_server_config:
///     cert_file: server.crt   # PEM certificate, optionally followed by its chain
///     key_file: server.key    # PEM private key of that certificate
///     min_version: TLS12      # or TLS13 (default TLS12)
///   basic_auth_users:
///     prometheus: $2y$10$...  # bcrypt hash (htpasswd -nBC 10 prometheus)
///
/// Both sections are optional; TLS and basic auth then apply to every endpoint.
/// Relative file names are relative to the web config file's directory, as in
/// the exporter-toolkit. Settings of the exporter-toolkit that portpath does not
/// implement (client certificates, cipher and curve lists, http_server_config)
/// are refused by name rather than ignored: a security setting that silently
/// does nothing is worse than an error.
///
/// The module is pure apart from reading the files it names, and thread-safe:
/// every function is reentrant.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace portpath::exporter {

/// An invalid web config. what() reads "FILE:LINE:COLUMN: MESSAGE" when the
/// problem has a place in the file, "FILE: MESSAGE" otherwise.
class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TlsServerConfig {
  /// Paths as given, made absolute against the web config file's directory.
  std::string cert_file;
  std::string key_file;
  /// Their contents, read by LoadWebConfig: the files are read once, at
  /// start-up, before the exporter gives up its privileges, so the key may stay
  /// readable by root only. Empty after ParseWebConfig.
  std::string cert_pem;
  std::string key_pem;
  /// The lowest TLS version accepted: 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3).
  int min_version = 0x0303;
};

struct WebConfig {
  /// The file it was read from (empty for a default, plain-HTTP config).
  std::string file;
  /// Serve HTTPS only, with this certificate; nullopt = plain HTTP.
  std::optional<TlsServerConfig> tls;
  /// User name -> bcrypt hash; empty = no authentication.
  std::map<std::string, std::string, std::less<>> basic_auth_users;
};

/// Parses the YAML text of a web config. `file_name` names it in errors and
/// anchors relative paths. Checks the structure and every bcrypt hash's form;
/// does not open the certificate or key (see LoadWebConfig). Throws
/// WebConfigError.
WebConfig ParseWebConfig(std::string_view yaml_text, const std::string& file_name);

/// Reads the file at `path` (a regular file, at most 1 MiB), parses it as
/// ParseWebConfig does, reads the certificate and key files (regular files,
/// at most 1 MiB each) and checks that they load and belong together. Throws
/// WebConfigError naming the file (and line and column for errors inside it).
WebConfig LoadWebConfig(const std::string& path);

/// True when `hash` has the form of a bcrypt hash ($2a$, $2b$ or $2y$, cost
/// 04-31, 53 characters of salt and digest).
bool IsBcryptHash(std::string_view hash);

}  // namespace portpath::exporter
