#include "image/png_check.h"

#include <array>
#include <cctype>
#include <cstring>

#include "image/byte_order.h"

namespace segkit {

namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[n] = c;
  }
  return t;
}

uint32_t crc32(const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace

std::string png_structure_problem(const uint8_t* data, size_t size) {
  if (size < 8 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) return "not a PNG file";
  size_t pos = 8;
  bool first = true;
  while (true) {
    if (size - pos < 12) return "truncated PNG (no IEND chunk)";
    const uint32_t len = be32(data + pos);
    if (len > size - pos - 12) return "truncated PNG (chunk runs past the end of the file)";
    const uint8_t* type = data + pos + 4;
    std::string name(reinterpret_cast<const char*>(type), 4);
    for (char& c : name)  // a damaged type must not put raw bytes into the one-line message
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    if (first && name != "IHDR") return "corrupt PNG (first chunk is not IHDR)";
    first = false;
    if (crc32(type, len + 4) != be32(type + 4 + len)) return "corrupt PNG (chunk " + name + ": CRC mismatch)";
    pos += 12 + len;
    if (name == "IEND") return {};
  }
}

}  // namespace segkit
