// Text that must stay bounded: counting and cutting UTF-8 on character boundaries (alert text
// built from stored parts, engine/alert_text), and client text echoed back in error messages,
// quoted and cut, so that a reply stays small and valid UTF-8 whatever was sent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace valtronics::util {

// Characters (UTF-8 code points: every byte but continuation bytes 10xxxxxx) in `text`.
// `s` without the blanks (spaces and tabs, HTTP's optional whitespace) at either end.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// The longest prefix of `text` of at most `max_chars` characters, cut at the start of a
// character, so a valid UTF-8 text stays valid (a multi-byte character is never split).
inline std::string_view cut_utf8(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // inside a character
    if (chars == max_chars) return text.substr(0, i);
    ++chars;
  }
  return text;
}

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
