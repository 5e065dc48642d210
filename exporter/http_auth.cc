#include "exporter/http_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <array>
#include <memory>

namespace portpath::exporter {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string Sha256(std::string_view a, std::string_view b, std::string_view c) {
  std::string data;
  data.append(a).append(1, '\0').append(b).append(1, '\0').append(c);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  OPENSSL_cleanse(data.data(), data.size());
  return std::string(reinterpret_cast<const char*>(digest.data()), size);
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<std::size_t>(k)];
      // '=' only at the end: "xx==" or "xxx=".
      if (c == '=' && i + 4 == text.size() && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        v[k] = 0;
        ++padding;
        continue;
      }
      if (padding > 0 || (v[k] = Base64Value(c)) < 0) return std::nullopt;
    }
    const unsigned bits =
        (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out.push_back(static_cast<char>(bits >> 16));
    if (padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  // crypt_data is about 32 KiB: too large for a worker thread's stack frame.
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof *data);
  return result != nullptr && std::string_view(result).size() == hash.size() &&
         CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
}

BasicAuth::BasicAuth(std::map<std::string, std::string, std::less<>> users)
    : users_(std::move(users)) {}

bool BasicAuth::Check(const char* authorization) {
  if (!enabled()) return true;
  if (authorization == nullptr) return false;
  std::string_view header(authorization);
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() ||
      strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) {
    return false;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  std::optional<std::string> decoded = DecodeBase64(header);
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  std::string& credentials = *decoded;
  bool ok = Verify(std::string_view(credentials).substr(0, colon),
                   std::string_view(credentials).substr(colon + 1));
  OPENSSL_cleanse(credentials.data(), credentials.size());
  return ok;
}

bool BasicAuth::Verify(std::string_view user, std::string_view password) {
  auto it = users_.find(user);
  const bool known = it != users_.end();
  // An unknown user is checked against a configured hash (same cost, so the
  // same time) and refused whatever the outcome.
  const std::string& hash = known ? it->second : users_.begin()->second;
  const std::string key = Sha256(user, password, hash);
  if (known && !key.empty()) {
    std::lock_guard lock(mutex_);
    if (verified_.count(key)) return true;
  }
  const bool match = BcryptMatches(password, hash);
  if (!known || !match) return false;
  if (!key.empty()) {
    std::lock_guard lock(mutex_);
    if (verified_.size() >= kCacheSize) verified_.clear();
    verified_.insert(key);
  }
  return true;
}

}  // namespace portpath::exporter
