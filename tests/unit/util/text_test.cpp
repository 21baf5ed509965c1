// util/text.hpp: counting and cutting UTF-8 on character boundaries.
#include "util/text.hpp"

#include <gtest/gtest.h>

namespace valtronics::util {
namespace {

TEST(CutUtf8, KeepsShortTextWhole) {
  EXPECT_EQ(cut_utf8("abc", 3), "abc");
  EXPECT_EQ(cut_utf8("abc", 10), "abc");
  EXPECT_EQ(cut_utf8("", 0), "");
}

TEST(CutUtf8, CutsAtMaxCharacters) {
  EXPECT_EQ(cut_utf8("abcdef", 4), "abcd");
  EXPECT_EQ(cut_utf8("abc", 0), "");
}

TEST(CutUtf8, CountsCharactersNotBytesAndNeverSplitsOne) {
  // "°C" is 3 bytes, 2 characters; "€" 3 bytes, 1 character; "😀" 4 bytes, 1 character.
  EXPECT_EQ(cut_utf8("°C°C", 2), "°C");
  EXPECT_EQ(cut_utf8("€€€", 2), "€€");
  EXPECT_EQ(cut_utf8("a😀b", 2), "a😀");
  EXPECT_EQ(cut_utf8("😀😀", 1), "😀");
  EXPECT_EQ(code_points("a😀b€"), 4u);
  EXPECT_EQ(code_points(cut_utf8(std::string(1000, 'x') + "€", 1000)), 1000u);
}

TEST(QuotedEcho, CutsWithAnEllipsis) {
  EXPECT_EQ(quoted_echo("temp", 64), "'temp'");
  EXPECT_EQ(quoted_echo("aaaaaa", 4), "'aaaa...'");
  EXPECT_EQ(quoted_echo("aaa€", 4), "'aaa...'");
}

}  // namespace
}  // namespace valtronics::util
