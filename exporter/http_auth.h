#pragma once
/// HTTP basic authentication against the web config's bcrypt hashes
/// (basic_auth_users), checked with crypt_rn() from libxcrypt.
///
/// Thread-safety: BasicAuth::Check may run on every HTTP worker at once.

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace portpath::exporter {

/// Standard base64 (RFC 4648 section 4, padding required); nullopt when `text`
/// is not that.
std::optional<std::string> DecodeBase64(std::string_view text);

/// True when crypt(password, hash) reproduces the bcrypt `hash`, compared in
/// constant time. A password holding a NUL byte never matches (crypt would
/// stop reading at it).
bool BcryptMatches(std::string_view password, const std::string& hash);

class BasicAuth {
 public:
  /// `users`: user name -> bcrypt hash. Empty = no authentication required.
  explicit BasicAuth(std::map<std::string, std::string, std::less<>> users);

  bool enabled() const { return !users_.empty(); }

  /// True when authentication is off, or `authorization` (the Authorization
  /// header's value; null when absent) names a configured user with the right
  /// password. An unknown user costs one bcrypt check too, so the time taken
  /// does not tell which user names exist. Successes are remembered (as a
  /// SHA-256 of user, password and hash, at most kCacheSize of them), so a
  /// scraper does not pay a bcrypt check at every scrape.
  bool Check(const char* authorization);

  static constexpr std::size_t kCacheSize = 64;

 private:
  bool Verify(std::string_view user, std::string_view password);

  std::map<std::string, std::string, std::less<>> users_;
  std::mutex mutex_;
  std::set<std::string> verified_;  // guarded by mutex_
};

}  // namespace portpath::exporter
