// Client text echoed back in error messages: quoted and cut, so that a reply stays small and
// valid UTF-8 whatever was sent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace valtronics::util {

// `text` in single quotes, cut at `max_bytes` (on a UTF-8 character boundary) with "..." when
// longer: "'temp'", "'aaaa...'".
// (Callers pass limits::kMaxEchoChars.)
inline std::string quoted_echo(std::string_view text, std::size_t max_bytes) {
  std::string out = "'";
  if (text.size() <= max_bytes) {
    out.append(text);
  } else {
    std::size_t n = max_bytes;
    // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    out.append(text.substr(0, n));
    out.append("...");
  }
  out.push_back('\'');
  return out;
}

}  // namespace valtronics::util
