// What reaches the terminal: control sequences escaped, readable UTF-8 kept.
#include "app/terminal_text.h"

#include <gtest/gtest.h>

namespace portpath::app {
namespace {

TEST(TerminalSafeTest, EscapesWhatCouldDriveATerminal) {
  EXPECT_EQ(TerminalSafe("hop 1\n"), "hop 1\n");
  EXPECT_EQ(TerminalSafe("\x1b[2J\x1b]0;t\x07"), "\\x1b[2J\\x1b]0;t\\x07");
  EXPECT_EQ(TerminalSafe(std::string("a\0b\x7f\r\t", 6)), "a\\x00b\\x7f\\x0d\\x09");
  // C1 controls: U+009B is CSI in UTF-8 form; a lone 0x9b byte is CSI in 8-bit terminals.
  EXPECT_EQ(TerminalSafe("\xc2\x9b"
                         "31m"),
            "\\xc2\\x9b31m");
  EXPECT_EQ(TerminalSafe("\x9b"
                         "31m"),
            "\\x9b31m");
  // Not UTF-8: overlong, surrogate, truncated, beyond U+10FFFF.
  EXPECT_EQ(TerminalSafe("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(TerminalSafe("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(TerminalSafe("\xe4\xb8"), "\\xe4\\xb8");
  EXPECT_EQ(TerminalSafe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  // Already escaped text passes unchanged.
  EXPECT_EQ(TerminalSafe("'\\x1b'"), "'\\x1b'");
}

TEST(TerminalSafeTest, KeepsReadableUtf8) {
  // An AS organisation's name as the ASN data spells it.
  EXPECT_EQ(
      TerminalSafe("AS9808 \xe4\xb8\xad\xe5\x9b\xbd\xe7\xa7\xbb\xe5\x8a\xa8 M\xc3\xbcnchen "
                   "\xf0\x9f\x99\x82"),
      "AS9808 \xe4\xb8\xad\xe5\x9b\xbd\xe7\xa7\xbb\xe5\x8a\xa8 M\xc3\xbcnchen \xf0\x9f\x99\x82");
  EXPECT_EQ(TerminalSafe("\xc2\xa0"), "\xc2\xa0");  // U+00A0, first code point after C1
}

}  // namespace
}  // namespace portpath::app
