#pragma once
/// Text from outside (a host name, a reverse-DNS name, an AS organisation, a
/// file path, an option's value) made safe for a terminal before it is printed.

#include <string>
#include <string_view>

namespace portpath::app {

/// Escapes as `\xNN` every byte that could drive a terminal: C0 controls (ESC
/// included) but the newline, DEL, the C1 controls (U+0080-U+009F, which some
/// terminals obey as CSI and friends) and bytes that are not valid UTF-8. Other
/// UTF-8 text (an AS organisation's name) stays readable. Backslashes are kept
/// as they are, so text already escaped by config::EscapeForDisplay is unchanged.
std::string TerminalSafe(std::string_view text);

}  // namespace portpath::app
