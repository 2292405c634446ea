#pragma once
// Integers stored in file formats, read byte by byte (no alignment or host order assumed).
#include <cstdint>

namespace segkit {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

// A TIFF structure (a TIFF file, or EXIF data): "II" little-endian or "MM" big-endian, offsets
// from its first byte. The caller checks bounds.
struct TiffBytes {
  const uint8_t* data;
  bool little;
  uint32_t u16(uint64_t at) const { return little ? le16(data + at) : be16(data + at); }
  uint32_t u32(uint64_t at) const { return little ? le32(data + at) : be32(data + at); }
};

}  // namespace segkit
