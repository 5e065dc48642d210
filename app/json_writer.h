#pragma once
/// A minimal streaming JSON writer: enough for one object per line output,
/// with correct string escaping. Not thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace portpath::app {

class JsonWriter {
 public:
  JsonWriter& BeginObject() {
    Separator();
    out_ += '{';
    first_ = true;
    return *this;
  }
  JsonWriter& EndObject() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  JsonWriter& BeginArray() {
    Separator();
    out_ += '[';
    first_ = true;
    return *this;
  }
  JsonWriter& EndArray() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  JsonWriter& Key(std::string_view k) {
    Separator();
    String(k);
    out_ += ':';
    first_ = true;  // the value follows without a comma
    return *this;
  }
  JsonWriter& Value(std::string_view s) {
    Separator();
    String(s);
    return *this;
  }
  JsonWriter& Value(const char* s) { return Value(std::string_view(s)); }
  JsonWriter& Value(bool b) {
    Separator();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& Value(std::int64_t n) {
    Separator();
    out_ += std::to_string(n);
    return *this;
  }
  JsonWriter& Value(int n) { return Value(static_cast<std::int64_t>(n)); }
  JsonWriter& Value(double d, int decimals);
  JsonWriter& Null() {
    Separator();
    out_ += "null";
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void Separator() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void String(std::string_view s);

  std::string out_;
  bool first_ = true;
};

}  // namespace portpath::app
