#include "exporter/http_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace portpath::exporter {
namespace {

TEST(AcceptsGzipTest, ReadsTheCodingsAndTheirQValues) {
  for (const char* yes : {"gzip", "GZIP", "x-gzip", "deflate, gzip", "gzip;q=0.5", "gzip ; q=1",
                          "*", "br;q=1, *;q=0.1", "gzip, deflate, br, zstd", " gzip "}) {
    EXPECT_TRUE(AcceptsGzip(yes)) << yes;
  }
  for (const char* no : {"", "identity", "deflate", "br", "gzip;q=0", "gzip;q=0.000", "*;q=0",
                         "gzip;q=0, *", "gzip;q=x", "gzip;q=2", "gzipped", "x"}) {
    EXPECT_FALSE(AcceptsGzip(no)) << no;
  }
}

TEST(GzipTest, ProducesAGzipStreamThatInflatesToTheInput) {
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "portpath_port_open{target=\"192.0.2." + std::to_string(i % 250) + ":443\"} 1\n";
  std::string gz = Gzip(text);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // RFC 1952 magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_LT(gz.size() * 5, text.size());

  std::string out(text.size(), '\0');
  z_stream s{};
  ASSERT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  s.next_in = reinterpret_cast<Bytef*>(gz.data());
  s.avail_in = static_cast<uInt>(gz.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  inflateEnd(&s);
  EXPECT_EQ(out, text);
}

TEST(GzipTest, EmptyInputIsAValidEmptyStream) {
  std::string gz = Gzip("");
  EXPECT_GE(gz.size(), 18u);
}

}  // namespace
}  // namespace portpath::exporter
