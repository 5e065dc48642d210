#pragma once
/// Bounds-checked big-endian readers and writers over byte spans.
/// Every read checks the remaining length first, so a truncated or hostile packet
/// can never make a decoder read past its buffer. Not thread-safe (value types).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace portpath::packet {

using Bytes = std::span<const std::uint8_t>;

/// Reads big-endian integers from a byte span; every read returns nullopt when
/// fewer bytes remain than requested, and leaves the position unchanged.
class ByteReader {
 public:
  explicit ByteReader(Bytes data) : data_(data) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  bool can_read(std::size_t n) const { return n <= remaining(); }

  std::optional<std::uint8_t> u8() {
    if (!can_read(1)) return std::nullopt;
    return data_[pos_++];
  }
  std::optional<std::uint16_t> u16() {
    if (!can_read(2)) return std::nullopt;
    std::uint16_t v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::optional<std::uint32_t> u32() {
    if (!can_read(4)) return std::nullopt;
    std::uint32_t v = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
                      (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  /// A view of the next n bytes, advancing past them.
  std::optional<Bytes> bytes(std::size_t n) {
    if (!can_read(n)) return std::nullopt;
    Bytes v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  bool skip(std::size_t n) {
    if (!can_read(n)) return false;
    pos_ += n;
    return true;
  }
  /// Everything not read yet.
  Bytes rest() const { return data_.subspan(pos_); }

 private:
  Bytes data_;
  std::size_t pos_ = 0;
};

/// Appends big-endian integers to a growing buffer; put_u16_at patches a field
/// (a checksum or length) after the rest of the header is known.
class ByteWriter {
 public:
  void u8(std::uint8_t v) { buf_.push_back(v); }
  void u16(std::uint16_t v) {
    buf_.push_back(static_cast<std::uint8_t>(v >> 8));
    buf_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void bytes(Bytes b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void put_u16_at(std::size_t offset, std::uint16_t v) {
    buf_.at(offset) = static_cast<std::uint8_t>(v >> 8);
    buf_.at(offset + 1) = static_cast<std::uint8_t>(v);
  }
  std::size_t size() const { return buf_.size(); }
  const std::vector<std::uint8_t>& data() const { return buf_; }
  std::vector<std::uint8_t> take() { return std::move(buf_); }

 private:
  std::vector<std::uint8_t> buf_;
};

/// The Internet checksum (RFC 1071) as a running one's-complement sum, so that a
/// pseudo-header and a segment can be summed without copying them together.
class InternetChecksum {
 public:
  void add(Bytes data) {
    std::size_t i = 0;
    if (odd_) {  // finish the 16-bit word the previous chunk started
      sum_ += data.empty() ? 0 : data[i++];
      odd_ = false;
    }
    for (; i + 1 < data.size(); i += 2) sum_ += (std::uint32_t{data[i]} << 8) | data[i + 1];
    if (i < data.size()) {
      sum_ += std::uint32_t{data[i]} << 8;
      odd_ = true;
    }
  }
  void add_u16(std::uint16_t v) { sum_ += v; }
  void add_u32(std::uint32_t v) { sum_ += (v >> 16) + (v & 0xffff); }
  std::uint16_t finish() const {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xffff);
  }

 private:
  std::uint64_t sum_ = 0;
  bool odd_ = false;
};

}  // namespace portpath::packet
