// text/unicode.h: strict UTF-8, the character classes and lowercase of CLIP's tokenizer, NFC.
// Expected values are Python 3.11's unicodedata (Unicode 14), which the tables come from.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "segkit/error.h"
#include "test_util.h"
#include "text/unicode.h"

using namespace segkit::text;
using segkit::test::error_of;

namespace {

std::vector<char32_t> nfc_of(const std::u32string& s) { return nfc(std::vector<char32_t>(s.begin(), s.end())); }
std::vector<char32_t> cps(const std::u32string& s) { return std::vector<char32_t>(s.begin(), s.end()); }

}  // namespace

TEST(Unicode, DecodesUtf8AndRefusesWhatIsNot) {
  EXPECT_EQ(decode_utf8("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x9a\x9a", "t"), cps(U"a\u00e9\u65e5\U0001F69A"));
  EXPECT_EQ(encode_utf8(cps(U"a\u00e9\u65e5\U0001F69A")), "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x9a\x9a");
  EXPECT_EQ(error_of([] { decode_utf8("ab\xff", "t"); }), "t: invalid UTF-8 at byte 2 (0xFF)");
  EXPECT_EQ(error_of([] { decode_utf8("\x80", "t"); }), "t: invalid UTF-8 at byte 0 (0x80)");
  EXPECT_EQ(error_of([] { decode_utf8("abc\xc3", "t"); }), "t: invalid UTF-8 at byte 3 (0xC3)");       // cut short
  EXPECT_EQ(error_of([] { decode_utf8("\xc3(", "t"); }), "t: invalid UTF-8 at byte 1 (0x28)");         // no continuation
  EXPECT_EQ(error_of([] { decode_utf8("\xc0\xaf", "t"); }), "t: invalid UTF-8 at byte 0 (0xC0)");      // overlong
  EXPECT_EQ(error_of([] { decode_utf8("\xe0\x80\xaf", "t"); }), "t: invalid UTF-8 at byte 0 (0xE0)");  // overlong
  EXPECT_EQ(error_of([] { decode_utf8("\xed\xa0\x80", "t"); }), "t: invalid UTF-8 at byte 0 (0xED)");  // surrogate
  EXPECT_EQ(error_of([] { decode_utf8("\xf4\x90\x80\x80", "t"); }), "t: invalid UTF-8 at byte 0 (0xF4)");  // > U+10FFFF
  EXPECT_EQ(decode_utf8(std::string("a\0b", 3), "t"), (std::vector<char32_t>{U'a', 0, U'b'}));
}

TEST(Unicode, ClassesMatchTheGeneralCategories) {
  for (char32_t c : U"aZ\u00e9\u65e5\u0416\u05d0\u3042\u02b0") EXPECT_TRUE(c == 0 || is_letter(c)) << std::hex << c;
  for (char32_t c : U"09\u00bd\u0663\u2167\u00b2") EXPECT_TRUE(c == 0 || is_number(c)) << std::hex << c;
  for (char32_t c : U"!'_\u0301\U0001F69A\u00a0\u200b") EXPECT_FALSE(is_letter(c) || is_number(c)) << std::hex << c;
  for (char32_t c : U" \t\n\r\u000b\u000c\u0085\u00a0\u1680\u2003\u2028\u2029\u202f\u3000") EXPECT_TRUE(c == 0 || is_whitespace(c)) << std::hex << c;
  for (char32_t c : {char32_t(0x200B), char32_t(0x1C), char32_t(0xFEFF), char32_t('a')}) EXPECT_FALSE(is_whitespace(c)) << std::hex << c;
}

TEST(Unicode, LowercasesCharacterByCharacter) {
  std::vector<char32_t> out;
  for (char32_t c : std::u32string(U"A\u00c4\u03a3\u0130\u0416\u0100\u0101z1")) append_lowercase(out, c);
  EXPECT_EQ(out, cps(U"a\u00e4\u03c3i\u0307\u0436\u0101\u0101z1"));
}

TEST(Unicode, NfcComposesReordersAndKeepsExclusions) {
  EXPECT_EQ(nfc_of(U"cafe\u0301"), cps(U"caf\u00e9"));
  EXPECT_EQ(nfc_of(U"a\u0307\u0323"), cps(U"\u1ea1\u0307"));  // dot below sorts first and composes
  EXPECT_EQ(nfc_of(U"\u212b"), cps(U"\u00c5"));               // a singleton decomposition
  EXPECT_EQ(nfc_of(U"\u0958"), cps(U"\u0915\u093c"));         // a composition exclusion
  EXPECT_EQ(nfc_of(U"\u1100\u1161\u11a8"), cps(U"\uac01"));   // Hangul jamo
  EXPECT_EQ(nfc_of(U"\uac01"), cps(U"\uac01"));
  EXPECT_EQ(nfc_of(U"\u1e9b\u0323"), cps(U"\u1e9b\u0323"));
  EXPECT_EQ(nfc_of(U"\u0301e"), cps(U"\u0301e"));             // nothing to attach a leading mark to
  EXPECT_EQ(nfc_of(U""), cps(U""));
}
