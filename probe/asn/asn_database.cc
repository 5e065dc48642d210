// OpenAsnDatabase: turns a path, a directory or a list of them into one database.

#include "probe/asn/asn_database.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace portpath::asn {
namespace {

namespace fs = std::filesystem;

// The MaxMind DB spec puts the metadata section, introduced by this marker, within the last
// 128 KiB of the file.
constexpr std::string_view kMmdbMarker = "\xAB\xCD\xEFMaxMind.com";
constexpr long kMmdbMetadataWindow = 128L * 1024;

class ChainAsnDatabase final : public AsnDatabase {
 public:
  explicit ChainAsnDatabase(std::vector<std::unique_ptr<AsnDatabase>> parts)
      : parts_(std::move(parts)) {
    format_ = parts_.front()->format();
    for (const auto& p : parts_) {
      if (p->format() != format_) format_ = "mixed";
    }
  }

  std::optional<AsInfo> Lookup(const packet::IpAddress& address) const override {
    for (const auto& p : parts_) {
      if (auto hit = p->Lookup(address)) return hit;
    }
    return std::nullopt;
  }

  std::size_t size() const override {
    std::size_t n = 0;
    for (const auto& p : parts_) n += p->size();
    return n;
  }

  std::string_view format() const override { return format_; }

 private:
  std::vector<std::unique_ptr<AsnDatabase>> parts_;
  std::string_view format_;
};

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void ExpandDirectory(const std::string& dir, std::vector<std::string>* files) {
  const std::size_t before = files->size();
  for (const char* name : {"asn-ipv4.csv", "asn-ipv6.csv"}) {
    std::error_code ec;
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec)) files->push_back(p.string());
  }
  std::vector<std::string> mmdbs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->path().extension() == ".mmdb" && it->is_regular_file(ec2)) {
      mmdbs.push_back(it->path().string());
    }
  }
  if (ec) throw std::runtime_error(dir + ": " + ec.message());
  std::sort(mmdbs.begin(), mmdbs.end());
  files->insert(files->end(), mmdbs.begin(), mmdbs.end());
  if (files->size() == before) {
    throw std::runtime_error(dir + ": directory holds no asn-ipv4.csv, asn-ipv6.csv or *.mmdb");
  }
}

}  // namespace

bool IsMmdbFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw std::runtime_error(path + ": " + std::strerror(errno));
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return false;
  const long size = std::ftell(f.get());
  if (size <= 0) return false;
  const long window = std::min(size, kMmdbMetadataWindow);
  if (std::fseek(f.get(), size - window, SEEK_SET) != 0) return false;
  std::string tail(static_cast<std::size_t>(window), '\0');
  const std::size_t n = std::fread(tail.data(), 1, tail.size(), f.get());
  if (std::ferror(f.get())) throw std::runtime_error(path + ": " + std::strerror(errno));
  tail.resize(n);
  return tail.find(kMmdbMarker) != std::string::npos;
}

std::unique_ptr<AsnDatabase> OpenAsnDatabase(const std::string& spec) {
  if (TrimSpaces(spec).empty()) throw std::runtime_error("empty ASN database path");
  std::vector<std::string> items;
  std::error_code ec;
  if (spec.find(',') != std::string::npos && !fs::exists(spec, ec)) {
    std::string_view rest = spec;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = TrimSpaces(rest.substr(0, comma));
      if (item.empty()) throw std::runtime_error(spec + ": empty path in the list");
      items.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  } else {
    items.push_back(spec);
  }

  std::vector<std::string> files;
  for (const std::string& item : items) {
    std::error_code sec;
    const fs::file_status st = fs::status(item, sec);
    if (!fs::exists(st)) {
      throw std::runtime_error(item + ": " +
                               (sec ? sec.message() : std::string("No such file or directory")));
    }
    if (fs::is_directory(st)) {
      ExpandDirectory(item, &files);
    } else {
      files.push_back(item);
    }
  }

  std::vector<std::string> csv_files;
  std::vector<std::unique_ptr<AsnDatabase>> parts;
  for (const std::string& f : files) {
    if (IsMmdbFile(f)) {
      parts.push_back(OpenMmdbAsnDatabase(f));
    } else {
      csv_files.push_back(f);
    }
  }
  if (!csv_files.empty()) parts.insert(parts.begin(), LoadCsvAsnDatabase(csv_files));
  if (parts.size() == 1) return std::move(parts.front());
  return std::make_unique<ChainAsnDatabase>(std::move(parts));
}

}  // namespace portpath::asn
