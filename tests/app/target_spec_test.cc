// CLI targets and -s/-i, checked as the config checks them (config::CheckHost,
// ParsePort), with every bad byte shown escaped, never raw.
#include "app/target_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "app/trace_command.h"

namespace portpath::app {
namespace {

bool HasControlBytes(const std::string& s) {
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7f) return true;
  }
  return false;
}

TEST(ParseTargetTest, AcceptsHostsAndLiterals) {
  struct Case {
    std::string text;
    std::optional<std::uint16_t> default_port;
    std::string host;
    std::uint16_t port;
  };
  const Case cases[] = {
      {"example.com:443", std::nullopt, "example.com", 443},
      {"db.example.com.:80", std::nullopt, "db.example.com.", 80},
      {"192.0.2.1:22", std::nullopt, "192.0.2.1", 22},
      {"[2001:db8::1]:443", std::nullopt, "2001:db8::1", 443},
      {"[2001:db8::1]", 8443, "2001:db8::1", 8443},
      {"2001:db8::1", 8443, "2001:db8::1", 8443},
      {"example.com", 80, "example.com", 80},
      {"3com.example:80", std::nullopt, "3com.example", 80},
  };
  for (const Case& c : cases) {
    std::string error;
    auto spec = ParseTarget(c.text, c.default_port, error);
    ASSERT_TRUE(spec) << c.text << ": " << error;
    EXPECT_EQ(error, "");
    EXPECT_EQ(spec->text, c.text);
    EXPECT_EQ(spec->host, c.host);
    EXPECT_EQ(spec->port, c.port);
  }
}

TEST(ParseTargetTest, RefusesWhatTheConfigRefuses) {
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      // getaddrinfo would trace 127.0.0.1 for this one.
      {"2130706433:80", "'2130706433:80': '2130706433' is not a valid IPv4 address"},
      {"127.1:80", "'127.1:80': '127.1' is not a valid IPv4 address"},
      {"db_1.example:80",
       "'db_1.example:80': 'db_1.example' is not a valid host name or IP address: label 'db_1' "
       "contains '_'"},
      {"example.123:80", "its last label '123' is all digits"},
      {"-x.example:80", "starts with a hyphen"},
      {"example.com:0", "'example.com:0': port must be a number from 1 to 65535"},
      {"example.com:65536", "port must be a number from 1 to 65535"},
      {"example.com:+80", "port must be a number from 1 to 65535"},
      {"example.com:", "port must be a number from 1 to 65535"},
      {"example.com", "missing port; write HOST:PORT (or give --port)"},
      {":80", "empty host"},
      {"[example.com]:80", "'example.com' is not an IPv6 address"},
      {"[2001:db8::1]443", "expected ':PORT' after ']'"},
      {"[2001:db8::1:443", "missing ']'"},
      {"2001:db8::1:443", "write IPv6 targets in brackets"},
      {"[fe80::1%eth0]:443", "IPv6 zone index"},
      {"b\xc3\xbc"
       "cher.example:80",
       "'b\\xc3\\xbccher.example:80': 'b\\xc3\\xbccher.example' is "
       "not a valid host name or IP address: label "
       "'b\\xc3\\xbccher' contains a non-ASCII character"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseTarget(c.text, std::nullopt, error)) << c.text;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.text << " -> " << error;
  }
}

TEST(ParseTargetTest, ShowsTerminalEscapesEscaped) {
  std::string error;
  const std::string evil = "\x1b]0;owned\x07\x1b[2Jexample.com:80";
  EXPECT_FALSE(ParseTarget(evil, std::nullopt, error));
  EXPECT_FALSE(HasControlBytes(error)) << error;
  EXPECT_NE(error.find("'\\x1b]0;owned\\x07\\x1b[2Jexample.com:80'"), std::string::npos) << error;
  EXPECT_NE(error.find("contains a control character '\\x1b'"), std::string::npos) << error;
}

class TargetsFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& content) {
    std::ofstream(path_, std::ios::binary) << content;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ = ::testing::TempDir() + "portpath_targets_" + std::to_string(::getpid());
};

TEST_F(TargetsFileTest, ReadsTargetsCommentsAndBlankLines) {
  std::vector<std::string> errors;
  auto specs = ReadTargetsFile(Write("# lab\n\nexample.com:443  # web\r\n  [2001:db8::1]:22\n"),
                               std::nullopt, errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].host, "example.com");
  EXPECT_EQ(specs[1].port, 22);
}

TEST_F(TargetsFileTest, NamesFileAndLineOfEachBadTarget) {
  std::vector<std::string> errors;
  auto specs = ReadTargetsFile(Write("ok.example:1\n2130706433:80\nok.example:99999\n"),
                               std::nullopt, errors);
  EXPECT_EQ(specs.size(), 1u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], path_ + ":2: '2130706433:80': '2130706433' is not a valid IPv4 address");
  EXPECT_EQ(errors[1].rfind(path_ + ":3: ", 0), 0u) << errors[1];
}

TEST_F(TargetsFileTest, BinaryFileGivesEscapedErrorsNeverRawBytes) {
  std::string binary(
      "\x7f"
      "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0\x1b[2J\n",
      29);
  for (int i = 0; i < 40; ++i) binary += std::string("\x9b\0\xff\x1b]0;x\x07\n", 10);
  std::vector<std::string> errors;
  auto specs = ReadTargetsFile(Write(binary), std::nullopt, errors);
  EXPECT_TRUE(specs.empty());
  // Ten lines are shown, then a count of the rest.
  ASSERT_EQ(errors.size(), kMaxErrorsPerTargetsFile + 1);
  EXPECT_EQ(errors[0], path_ +
                           ":1: not a line of text (control byte \\x7f at column 1; is this a "
                           "binary file?): '\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
                           "\\x00\\x00\\x00\\x03\\x00>\\x00\\x01\\x00\\x00\\x00\\x1b[2J'");
  EXPECT_EQ(errors.back(), path_ + ": 31 more lines with errors not shown");
  for (const std::string& e : errors) EXPECT_FALSE(HasControlBytes(e)) << e;
}

TEST_F(TargetsFileTest, RefusesDirectoriesMissingAndEndlessFiles) {
  std::vector<std::string> errors;
  EXPECT_TRUE(ReadTargetsFile("/", std::nullopt, errors).empty());
  EXPECT_TRUE(ReadTargetsFile("/nonexistent/targets", std::nullopt, errors).empty());
  EXPECT_TRUE(ReadTargetsFile("/dev/zero", std::nullopt, errors).empty());
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "/: cannot read the targets file: it is a directory");
  EXPECT_EQ(errors[1],
            "/nonexistent/targets: cannot read the targets file: No such file or directory");
  EXPECT_EQ(errors[2], "/dev/zero: the targets file is larger than 16 MiB");
}

TEST_F(TargetsFileTest, LongLineIsShownShortened) {
  std::vector<std::string> errors;
  ReadTargetsFile(Write(std::string(5000, 'a') + ".example:80\n"), std::nullopt, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_LT(errors[0].size(), 200u);
  EXPECT_NE(errors[0].find(":1: a line of 5011 characters is no HOST:PORT target"),
            std::string::npos)
      << errors[0];
}

TEST(CollectTargetsTest, ChecksCommandLineAndFilesAlike) {
  TraceOptions o;
  o.targets = {"ok.example:80", "2130706433:80", "\x1b[31m:80"};
  o.port = 443;
  std::vector<std::string> errors;
  auto specs = CollectTargets(o, errors);
  ASSERT_EQ(specs.size(), 1u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_FALSE(HasControlBytes(errors[1])) << errors[1];
}

TEST(ParseSecondsTest, ReadsDurationsAsTheConfigDoes) {
  EXPECT_EQ(ParseSeconds("500ms"), 0.5);
  EXPECT_EQ(ParseSeconds("2m"), 120);
  EXPECT_EQ(ParseSeconds("1m30s"), 90);
  EXPECT_EQ(ParseSeconds("30"), 30);
  EXPECT_EQ(ParseSeconds("inf"), std::nullopt);
  EXPECT_EQ(ParseSeconds("-1s"), std::nullopt);
}

}  // namespace
}  // namespace portpath::app
