#include "exporter/http_auth.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace portpath::exporter {
namespace {

// Made with Python's crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH,
// rounds=16)): cost 04, so each check takes about a millisecond.
constexpr const char* kAliceHash =
    "$2b$04$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK";  // pw
constexpr const char* kBobHash =
    "$2b$04$T8UYlTuFHrd9R4FdRRz.PeCDm1VZMTk1/jXKj9bmZO7Dg/o3K1RpS";  // s3cret:with:colons
constexpr const char* kCarolHash =
    "$2b$04$I0MFInF/.hdK7QR93zgBa.HD0cuIpbdwMqoKtX6vuwxc6ELQEvrzS";  // pässwörd (UTF-8)

std::string Basic(const std::string& user_colon_password) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  const std::string& in = user_colon_password;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

BasicAuth Users() {
  return BasicAuth({{"alice", kAliceHash}, {"bob", kBobHash}, {"carol", kCarolHash}});
}

TEST(Base64Test, DecodesStandardBase64WithPadding) {
  EXPECT_EQ(DecodeBase64("YWxpY2U6cHc="), "alice:pw");
  EXPECT_EQ(DecodeBase64("YQ=="), "a");
  EXPECT_EQ(DecodeBase64("YWI="), "ab");
  EXPECT_EQ(DecodeBase64("YWJj"), "abc");
  EXPECT_EQ(DecodeBase64(""), "");
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  for (const char* bad : {"YWxpY2U6cHc", "YQ=", "Y===", "YQ==YQ==", "YW=j", "YW*j", "YWJj\n"}) {
    EXPECT_FALSE(DecodeBase64(bad).has_value()) << bad;
  }
}

TEST(BcryptTest, MatchesTheRightPasswordOnly) {
  EXPECT_TRUE(BcryptMatches("pw", kAliceHash));
  EXPECT_FALSE(BcryptMatches("pW", kAliceHash));
  EXPECT_FALSE(BcryptMatches("", kAliceHash));
  EXPECT_FALSE(BcryptMatches("pw ", kAliceHash));
}

TEST(BcryptTest, AcceptsTheHtpasswdAndOlderPrefixes) {
  // $2y$ (htpasswd, PHP) and $2a$ are the same algorithm for ASCII passwords.
  std::string y = kAliceHash, a = kAliceHash;
  y[2] = 'y';
  a[2] = 'a';
  EXPECT_TRUE(BcryptMatches("pw", y));
  EXPECT_TRUE(BcryptMatches("pw", a));
}

TEST(BcryptTest, APasswordWithANulByteNeverMatches) {
  EXPECT_FALSE(BcryptMatches(std::string("pw\0tail", 7), kAliceHash));
}

TEST(BcryptTest, AMalformedHashNeverMatches) {
  EXPECT_FALSE(BcryptMatches("pw", "$2b$04$short"));
  EXPECT_FALSE(BcryptMatches("pw", "*0"));
  EXPECT_FALSE(BcryptMatches("pw", ""));
}

TEST(BasicAuthTest, AcceptsConfiguredUsersWithTheirPasswords) {
  BasicAuth auth = Users();
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.Check(Basic("alice:pw").c_str()));
  EXPECT_TRUE(auth.Check(Basic("bob:s3cret:with:colons").c_str()));  // split at the first ':'
  EXPECT_TRUE(auth.Check(Basic("carol:pässwörd").c_str()));
  EXPECT_TRUE(auth.Check(("basic  " + Basic("alice:pw").substr(6) + " ").c_str()));
}

TEST(BasicAuthTest, RefusesWrongOrMissingCredentials) {
  BasicAuth auth = Users();
  EXPECT_FALSE(auth.Check(nullptr));
  EXPECT_FALSE(auth.Check(""));
  EXPECT_FALSE(auth.Check(Basic("alice:wrong").c_str()));
  EXPECT_FALSE(auth.Check(Basic("alice:").c_str()));
  EXPECT_FALSE(auth.Check(Basic("alice").c_str()));
  EXPECT_FALSE(auth.Check(Basic("mallory:pw").c_str()));  // unknown user
  EXPECT_FALSE(auth.Check(Basic("bob:pw").c_str()));      // another user's password
  EXPECT_FALSE(auth.Check(Basic("Alice:pw").c_str()));    // user names are case-sensitive
  EXPECT_FALSE(auth.Check(("Bearer " + Basic("alice:pw").substr(6)).c_str()));
  EXPECT_FALSE(auth.Check("Basic !!!!"));
  EXPECT_FALSE(auth.Check("Basic"));
}

TEST(BasicAuthTest, ARememberedSuccessIsNotASuccessForAnotherPassword) {
  BasicAuth auth = Users();
  ASSERT_TRUE(auth.Check(Basic("alice:pw").c_str()));
  ASSERT_TRUE(auth.Check(Basic("alice:pw").c_str()));  // from the cache
  EXPECT_FALSE(auth.Check(Basic("alice:pw2").c_str()));
  EXPECT_FALSE(auth.Check(Basic("bob:pw").c_str()));
}

TEST(BasicAuthTest, RemembersBeyondTheCacheSizeCorrectly) {
  std::map<std::string, std::string, std::less<>> users;
  const std::size_t n = BasicAuth::kCacheSize + 6;
  for (std::size_t i = 0; i < n; ++i) users.emplace("user" + std::to_string(i), kAliceHash);
  BasicAuth auth(users);
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string user = "user" + std::to_string(i);
      EXPECT_TRUE(auth.Check(Basic(user + ":pw").c_str())) << user;
      EXPECT_FALSE(auth.Check(Basic(user + ":px").c_str())) << user;
    }
  }
}

TEST(BasicAuthTest, NoUsersMeansNoAuthentication) {
  BasicAuth auth({});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Check(nullptr));
}

}  // namespace
}  // namespace portpath::exporter
