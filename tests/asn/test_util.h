#pragma once
// Helpers shared by the asn tests: fixture paths, address parsing, scratch directories.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "probe/packet/ip_address.h"

namespace portpath::asn::testing {

inline std::string Fixture(std::string_view name) {
  return std::string(PORTPATH_FIXTURES) + "/asn/" + std::string(name);
}

inline packet::IpAddress Ip(std::string_view text) {
  auto a = packet::IpAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(packet::IpAddress{});
}

/// A fresh directory under the system temp dir, removed when the object goes.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("portpath-asn-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string Write(std::string_view name, std::string_view content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string Copy(std::string_view fixture_name, std::string_view as) const {
    const auto p = path_ / as;
    std::filesystem::copy_file(Fixture(fixture_name), p);
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace portpath::asn::testing
