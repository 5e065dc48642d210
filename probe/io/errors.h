#pragma once
/// Start-up failures of the I/O layer, with messages a person can act on.

#include <stdexcept>
#include <string>

namespace portpath::io {

/// The process lacks a Linux capability it needs. what() says which one and how
/// to grant it.
class MissingCapability : public std::runtime_error {
 public:
  MissingCapability(const std::string& capability, const std::string& needed_for);
  const std::string& capability() const { return capability_; }

 private:
  std::string capability_;
};

class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace portpath::io
