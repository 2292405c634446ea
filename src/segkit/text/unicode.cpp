#include "text/unicode.h"

#include <algorithm>
#include <cstdio>

#include "segkit/error.h"

namespace segkit::text {

namespace {

struct CodeRange {
  char32_t first, last;
};
struct LowerRun {
  char32_t first, last;
  int step;   // 1: every code point of the run; 2: every other one
  int delta;  // lowercase = cp + delta
};
struct CodeMapMulti {
  char32_t cp;
  char32_t lower[3];
};
struct CombiningRange {
  char32_t first, last;
  uint8_t ccc;
};
struct Decomposition {
  char32_t cp, first, second;  // second is 0 for a singleton
};
struct Composition {
  char32_t first, second, composite;
};

#include "text/unicode_tables.inc"

// Hangul syllables are composed and decomposed arithmetically (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t cp) {
  const CodeRange* it =
      std::upper_bound(table, table + N, cp, [](char32_t c, const CodeRange& r) { return c < r.first; });
  return it != table && cp <= (it - 1)->last;
}

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;  // nothing below U+0300 combines
  const auto* end = kCombining + sizeof(kCombining) / sizeof(kCombining[0]);
  const auto* it = std::upper_bound(kCombining, end, cp, [](char32_t c, const CombiningRange& r) { return c < r.first; });
  return it != kCombining && cp <= (it - 1)->last ? (it - 1)->ccc : 0;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto* end = kDecompositions + sizeof(kDecompositions) / sizeof(kDecompositions[0]);
  const auto* it = std::lower_bound(kDecompositions, end, cp, [](const Decomposition& d, char32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->first, out);
  if (it->second) decompose(it->second, out);
}

// The primary composite of (a, b), or 0.
char32_t compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto* end = kCompositions + sizeof(kCompositions) / sizeof(kCompositions[0]);
  const auto* it = std::lower_bound(kCompositions, end, std::make_pair(a, b), [](const Composition& c, const auto& key) {
    return c.first != key.first ? c.first < key.first : c.second < key.second;
  });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}

[[noreturn]] void invalid_utf8(const std::string& context, const std::string& bytes, size_t at) {
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(bytes[at]));
  fail(context, "invalid UTF-8 at byte " + std::to_string(at) + " (" + hex + ")");
}

}  // namespace

std::vector<char32_t> decode_utf8(const std::string& bytes, const std::string& context) {
  std::vector<char32_t> out;
  out.reserve(bytes.size());
  const size_t n = bytes.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len;
    char32_t cp, min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      invalid_utf8(context, bytes, i);  // a continuation byte, an overlong lead (C0, C1) or F5..FF
    }
    for (int k = 1; k < len; ++k) {
      if (i + k >= n) invalid_utf8(context, bytes, i);
      const unsigned char b = static_cast<unsigned char>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) invalid_utf8(context, bytes, i + k);
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) invalid_utf8(context, bytes, i);
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode_utf8(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(kLetters, cp);
}

bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kNumbers, cp);
}

bool is_whitespace(char32_t cp) {
  // White_Space is small and stable (PropList.txt); it is not in unicodedata, so it is listed here.
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

void append_lowercase(std::vector<char32_t>& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  for (const CodeMapMulti& m : kLowerMulti)
    if (m.cp == cp) {
      for (char32_t c : m.lower)
        if (c) out.push_back(c);
      return;
    }
  const auto* end = kLower + sizeof(kLower) / sizeof(kLower[0]);
  const auto* it = std::upper_bound(kLower, end, cp, [](char32_t c, const LowerRun& r) { return c < r.first; });
  if (it != kLower) {
    const LowerRun& r = *(it - 1);
    if (cp <= r.last && (cp - r.first) % r.step == 0) {
      out.push_back(static_cast<char32_t>(static_cast<int64_t>(cp) + r.delta));
      return;
    }
  }
  out.push_back(cp);
}

std::vector<char32_t> nfc(const std::vector<char32_t>& cps) {
  // Below U+0300 every character is its own NFC and none is the second of a composition (the
  // table script checks both), so such text, the common case, is already composed.
  if (std::all_of(cps.begin(), cps.end(), [](char32_t c) { return c < 0x300; })) return cps;
  // Full canonical decomposition, then canonical order (a stable sort of each run of
  // non-starters by combining class), then composition of unblocked pairs.
  std::vector<char32_t> d;
  d.reserve(cps.size());
  for (char32_t cp : cps) decompose(cp, d);
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  std::vector<char32_t> out;
  out.reserve(d.size());
  size_t starter = SIZE_MAX;
  for (char32_t c : d) {
    const uint8_t cc = combining_class(c);
    if (starter != SIZE_MAX) {
      // Unblocked: adjacent to the starter, or every character between has a lower class
      // (those in between are in canonical order, so the last one has the highest).
      const bool adjacent = out.size() - 1 == starter;
      if (adjacent || combining_class(out.back()) < cc) {
        if (char32_t composite = compose(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = out.size();
    out.push_back(c);
  }
  return out;
}

const char* unicode_version() { return kUnicodeVersion; }

}  // namespace segkit::text
