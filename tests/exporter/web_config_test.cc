#include "exporter/web_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace portpath::exporter {
namespace {

constexpr const char* kHash = "$2b$04$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK";

/// The error ParseWebConfig throws for `yaml`, or "" when it accepts it.
std::string ErrorOf(const std::string& yaml, const std::string& file = "/etc/portpath/web.yml") {
  try {
    ParseWebConfig(yaml, file);
    return "";
  } catch (const WebConfigError& e) {
    return e.what();
  }
}

TEST(WebConfigTest, ReadsTheExporterToolkitFormat) {
  WebConfig c = ParseWebConfig(std::string("tls_server_config:\n"
                                           "  cert_file: tls/server.crt\n"
                                           "  key_file: /keys/server.key\n"
                                           "  min_version: TLS13\n"
                                           "basic_auth_users:\n"
                                           "  prometheus: ") +
                                   kHash +
                                   "\n"
                                   "  'alice smith': '" +
                                   kHash + "'\n",
                               "/etc/portpath/web.yml");
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->cert_file, "/etc/portpath/tls/server.crt");  // relative to the file
  EXPECT_EQ(c.tls->key_file, "/keys/server.key");
  EXPECT_EQ(c.tls->min_version, 0x0304);
  ASSERT_EQ(c.basic_auth_users.size(), 2u);
  EXPECT_EQ(c.basic_auth_users.at("prometheus"), kHash);
  EXPECT_EQ(c.basic_auth_users.at("alice smith"), kHash);
  EXPECT_EQ(c.file, "/etc/portpath/web.yml");
}

TEST(WebConfigTest, EitherSectionAlone) {
  WebConfig auth_only =
      ParseWebConfig(std::string("basic_auth_users:\n  u: ") + kHash + "\n", "w.yml");
  EXPECT_FALSE(auth_only.tls);
  EXPECT_EQ(auth_only.basic_auth_users.size(), 1u);

  WebConfig tls_only =
      ParseWebConfig("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n", "w.yml");
  ASSERT_TRUE(tls_only.tls);
  EXPECT_EQ(tls_only.tls->cert_file, "c.pem");  // file in the working directory: as written
  EXPECT_EQ(tls_only.tls->min_version, 0x0303);
  EXPECT_TRUE(tls_only.basic_auth_users.empty());
}

TEST(WebConfigTest, AnEmptyFileIsPlainHttpWithoutAuth) {
  for (const char* text : {"", "# nothing yet\n", "\n\n"}) {
    WebConfig c = ParseWebConfig(text, "w.yml");
    EXPECT_FALSE(c.tls) << text;
    EXPECT_TRUE(c.basic_auth_users.empty()) << text;
  }
  EXPECT_TRUE(ParseWebConfig("basic_auth_users:\n", "w.yml").basic_auth_users.empty());
}

TEST(WebConfigTest, ErrorsNameFileLineAndColumn) {
  const std::pair<std::string, std::string> cases[] = {
      {"tls_server_config:\n  cert_file: [a\n",
       "/etc/portpath/web.yml:3:1: end of sequence flow not found"},
      {"basic_auth_users:\n  alice: notahash\n",
       "/etc/portpath/web.yml:2:10: basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice: $2b$03$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK\n",
       "web.yml:2:10: basic_auth_users.alice: not a bcrypt hash"},
      {"tls_server_config:\n  cert_file: a.crt\n",
       "web.yml:2:3: tls_server_config: key_file is required"},
      {"tls_server_config:\n  key_file: a.key\n",
       "web.yml:2:3: tls_server_config: cert_file is required"},
      {"tls_server_config:\n", "web.yml:1:1: tls_server_config: expected a mapping with cert_file"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
       "web.yml:4:16: min_version: expected TLS12 or TLS13, got 'TLS10'"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: "
       "RequireAndVerifyClientCert\n",
       "web.yml:4:21: tls_server_config.client_auth_type is not supported by portpath"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n",
       "web.yml:4:13: tls_server_config: unknown key 'certfile'"},
      {"http_server_config:\n  http2: false\n",
       "web.yml:2:3: http_server_config is not supported by portpath"},
      {"basic_auth_user:\n  a: b\n", "web.yml:2:3: unknown key 'basic_auth_user'"},
      {"basic_auth_users:\n  - alice\n",
       "web.yml:2:3: basic_auth_users: expected a mapping of user names"},
      {"basic_auth_users:\n  'a:b': x\n",
       "web.yml:2:3: basic_auth_users: user name 'a:b' must be non-empty and must not contain ':'"},
      {"basic_auth_users:\n  a: \n",
       "web.yml:2:3: basic_auth_users.a: expected a non-empty string, got nothing"},
      {"basic_auth_users: {}\nbasic_auth_users: {}\n",
       "web.yml:2:1: duplicate key 'basic_auth_users'"},
      {",",
       "web.yml:1:1: expected a mapping with tls_server_config and/or basic_auth_users, got ','"},
      {"- a\n", "web.yml:1:1: expected a mapping"},
      {"tls_server_config:\n  cert_file: *nope\n",
       "web.yml:2:14: the referenced anchor is not defined"},
  };
  for (const auto& [yaml, expected] : cases) {
    std::string error =
        ErrorOf(yaml, expected.rfind("/etc", 0) == 0 ? "/etc/portpath/web.yml" : "web.yml");
    EXPECT_EQ(error.substr(0, expected.size()), expected) << yaml;
  }
}

TEST(WebConfigTest, BcryptHashForms) {
  EXPECT_TRUE(IsBcryptHash(kHash));
  std::string y = kHash;
  y[2] = 'y';
  EXPECT_TRUE(IsBcryptHash(y));
  EXPECT_TRUE(IsBcryptHash("$2a$31$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK"));
  EXPECT_FALSE(IsBcryptHash("$2x$04$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK"));
  EXPECT_FALSE(IsBcryptHash("$2b$32$2aOB853vbUwTZtkewaEBB.I2NH8HHgQhvk9avmHf3V7COtACwe5DK"));
  EXPECT_FALSE(IsBcryptHash(std::string(kHash) + "x"));
  EXPECT_FALSE(IsBcryptHash("$1$salt$hash"));
  EXPECT_FALSE(IsBcryptHash("pw"));
}

class WebConfigFileTest : public ::testing::Test {
 protected:
  WebConfigFileTest() {
    char dir[] = "/tmp/portpath-web-config-XXXXXX";
    dir_ = mkdtemp(dir);
  }

 public:
  ~WebConfigFileTest() override { std::system(("rm -rf " + dir_).c_str()); }

 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  std::string LoadError(const std::string& path) {
    try {
      LoadWebConfig(path);
      return "";
    } catch (const WebConfigError& e) {
      return e.what();
    }
  }
  std::string dir_;
};

TEST_F(WebConfigFileTest, UnreadableFilesAreNamed) {
  EXPECT_EQ(LoadError(dir_ + "/missing.yml"),
            dir_ + "/missing.yml: cannot read: No such file or directory");
  EXPECT_EQ(LoadError(dir_), dir_ + ": cannot read: not a regular file");
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  EXPECT_EQ(LoadError(dir_ + "/fifo"),
            dir_ + "/fifo: cannot read: not a regular file");  // and returns
}

TEST_F(WebConfigFileTest, CertificateProblemsStopTheLoad) {
  std::string web =
      Write("web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  EXPECT_EQ(LoadError(web), web + ": tls_server_config: cert_file " + dir_ +
                                "/server.crt: cannot read: No such file or directory");
  Write("server.crt", "not a certificate\n");
  ASSERT_EQ(mkfifo((dir_ + "/server.key").c_str(), 0600), 0);
  EXPECT_EQ(LoadError(web), web + ": tls_server_config: key_file " + dir_ +
                                "/server.key: cannot read: not a regular file");
  std::remove((dir_ + "/server.key").c_str());
  Write("server.key", "not a key\n");
  std::string error = LoadError(web);
  EXPECT_NE(error.find(web + ": tls_server_config: cert_file " + dir_ +
                       "/server.crt: not a usable PEM certificate"),
            std::string::npos)
      << error;
}

/// Certificates made by the openssl command: the server's (with a chain of one
/// CA), another key, and the server's key encrypted with a passphrase.
class CertificateTest : public WebConfigFileTest {
 protected:
  void SetUp() override {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 ";
    const std::string d = dir_ + "/";
    const std::string cmd =
        "cd " + d + " && openssl req -x509 " + ec + "-subj /CN=ca -keyout ca.key -out ca.crt" +
        " && openssl req " + ec + "-subj /CN=127.0.0.1 -keyout server.key -out server.csr" +
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 1 -out leaf.crt" +
        " && cat leaf.crt ca.crt > chain.crt" +
        " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key" +
        " && openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key";
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
      GTEST_SKIP() << "openssl command not available";
    }
  }
  std::string Tls(const std::string& cert, const std::string& key) {
    return Write("web.yml",
                 "tls_server_config:\n  cert_file: " + cert + "\n  key_file: " + key + "\n");
  }
};

TEST_F(CertificateTest, ACertificateWithItsChainAndKeyLoad) {
  for (const char* cert : {"leaf.crt", "chain.crt"}) {
    WebConfig c = LoadWebConfig(Tls(cert, "server.key"));
    ASSERT_TRUE(c.tls) << cert;
    EXPECT_EQ(c.tls->cert_file, dir_ + "/" + cert);
    EXPECT_NE(c.tls->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_NE(c.tls->key_pem.find("PRIVATE KEY"), std::string::npos);  // read now, used later
  }
}

TEST_F(CertificateTest, AKeyOfAnotherCertificateIsRefused) {
  std::string error = LoadError(Tls("chain.crt", "other.key"));
  EXPECT_NE(error.find("key_file " + dir_ + "/other.key is not the key of cert_file " + dir_ +
                       "/chain.crt"),
            std::string::npos)
      << error;
}

TEST_F(CertificateTest, AnEncryptedKeyIsRefusedWithoutAskingForItsPassphrase) {
  std::string error = LoadError(Tls("leaf.crt", "encrypted.key"));  // must not wait for a terminal
  EXPECT_NE(error.find("key_file " + dir_ +
                       "/encrypted.key: not a usable PEM private key without passphrase"),
            std::string::npos)
      << error;
}

TEST_F(CertificateTest, AKeyGivenAsCertificateIsRefused) {
  std::string error = LoadError(Tls("server.key", "server.key"));
  EXPECT_NE(error.find("cert_file " + dir_ + "/server.key: not a usable PEM certificate"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace portpath::exporter
