#include "image/image_completeness.h"

#include <cstring>
#include <iostream>

#include "image/byte_order.h"
#include "image/png_check.h"
#include "segkit/error.h"

namespace segkit {

namespace {

const char* const kJpegCut = "truncated JPEG (the data ends before the image's end-of-image marker)";

// From one byte past an SOS segment's header to the marker that ends its entropy-coded data:
// there 0xFF is followed by 0x00 (a stuffed byte), a restart marker or fill bytes, never by
// another marker. Returns the marker's offset, or size when the data ends first.
size_t end_of_scan(const uint8_t* d, size_t i, size_t size) {
  while (i < size) {
    const void* ff = std::memchr(d + i, 0xFF, size - i);
    if (!ff) return size;
    i = static_cast<size_t>(static_cast<const uint8_t*>(ff) - d);
    if (i + 1 >= size) return size;
    const uint8_t next = d[i + 1];
    if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) i += 2;
    else if (next == 0xFF) i += 1;
    else return i;
  }
  return size;
}

// Segments from SOI to EOI. Stray bytes between segments are skipped, as libjpeg does (with a
// warning); what must be there is every segment whole and the EOI after the last scan.
std::string jpeg_problem(const uint8_t* d, size_t size) {
  size_t i = 2;
  while (true) {
    const void* ff = i < size ? std::memchr(d + i, 0xFF, size - i) : nullptr;
    if (!ff) return kJpegCut;
    i = static_cast<size_t>(static_cast<const uint8_t*>(ff) - d);
    while (i < size && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= size) return kJpegCut;
    const uint8_t marker = d[i++];
    if (marker == 0xD9) return {};
    if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (size - i < 2) return kJpegCut;
    const size_t length = be16(d + i);
    if (length < 2) return "corrupt JPEG (a segment of length " + std::to_string(length) + ")";
    if (length > size - i) return kJpegCut;
    i += length;
    if (marker == 0xDA) i = end_of_scan(d, i, size);
  }
}

// The RIFF container declares its size, and each chunk its own.
std::string webp_problem(const uint8_t* d, size_t size) {
  if (size < 12) return "truncated WebP (no complete RIFF header)";
  const uint64_t declared = uint64_t(le32(d + 4)) + 8;
  if (declared > size)
    return "truncated WebP (the RIFF header declares " + std::to_string(declared) + " bytes, the file has " +
           std::to_string(size) + ")";
  for (uint64_t pos = 12; pos < declared;) {
    if (declared - pos < 8) return "truncated WebP (a chunk header runs past the RIFF data)";
    const uint64_t length = le32(d + pos + 4);
    if (length > declared - pos - 8) return "truncated WebP (a chunk runs past the RIFF data)";
    pos += 8 + length + (length & 1);
  }
  return {};
}

// The first image directory (the one decoded) and every strip or tile it points to.
std::string tiff_problem(const uint8_t* d, size_t size) {
  const TiffBytes tiff{d, d[0] == 'I'};
  if (size < 8) return "truncated TIFF (no complete header)";
  const uint64_t ifd = tiff.u32(4);
  if (ifd > size || size - ifd < 2) return "truncated TIFF (the image directory lies past the end of the file)";
  const uint64_t entries = tiff.u16(ifd);
  if (size - ifd - 2 < entries * 12) return "truncated TIFF (the image directory runs past the end of the file)";
  // A tag's values: count × (2 or 4 bytes), in the entry when they fit in 4 bytes.
  struct Values {
    uint64_t count = 0, at = 0;
    int width = 0;
  };
  Values offsets, lengths;
  for (uint64_t e = 0; e < entries; ++e) {
    const uint64_t entry = ifd + 2 + e * 12;
    const uint32_t tag = tiff.u16(entry), type = tiff.u16(entry + 2);
    // Values that do not fit in the entry lie elsewhere in the file, and must lie within it.
    static const int kTypeBytes[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
    const uint64_t bytes = type < 13 ? uint64_t(tiff.u32(entry + 4)) * kTypeBytes[type] : 0;
    if (bytes > 4 && (tiff.u32(entry + 8) > size || bytes > size - tiff.u32(entry + 8)))
      return "truncated TIFF (tag " + std::to_string(tag) + "'s values lie past the end of the file)";
    const bool is_offsets = tag == 273 || tag == 324, is_lengths = tag == 279 || tag == 325;
    if (!is_offsets && !is_lengths) continue;
    if (type != 3 && type != 4) return "corrupt TIFF (strip or tile offsets of type " + std::to_string(type) + ")";
    Values v;
    v.count = tiff.u32(entry + 4);
    v.width = type == 3 ? 2 : 4;
    v.at = v.count * v.width <= 4 ? entry + 8 : tiff.u32(entry + 8);
    if (v.count > size || v.at > size || size - v.at < v.count * v.width)
      return "truncated TIFF (the strip or tile table runs past the end of the file)";
    (is_offsets ? offsets : lengths) = v;
  }
  if (offsets.count != lengths.count) return "corrupt TIFF (strip or tile offsets and byte counts differ in number)";
  auto value = [&](const Values& v, uint64_t i) { return v.width == 2 ? uint64_t(tiff.u16(v.at + 2 * i)) : uint64_t(tiff.u32(v.at + 4 * i)); };
  for (uint64_t i = 0; i < offsets.count; ++i) {
    const uint64_t start = value(offsets, i), length = value(lengths, i);
    if (start > size || length > size - start)
      return "truncated TIFF (strip or tile " + std::to_string(i) + " runs past the end of the file)";
  }
  return {};
}

// Uncompressed BMPs: the pixel rows the header declares must all be there.
std::string bmp_problem(const uint8_t* d, size_t size) {
  if (size < 30) return "truncated BMP (no complete header)";
  const uint32_t pixels_at = le32(d + 10), header = le32(d + 14);
  if (header < 40 || size < 14 + uint64_t(header)) return {};  // old OS/2 headers: left to the decoder
  int32_t width, height;
  std::memcpy(&width, d + 18, 4);
  std::memcpy(&height, d + 22, 4);
  const uint32_t bits = d[28] | (d[29] << 8), compression = le32(d + 30);
  // OpenCV knows 0-3 (plain, two run-length codings, bit fields) and prints its own complaint
  // to stderr for anything else.
  if (compression > 3) return "corrupt BMP (unknown compression " + std::to_string(compression) + ")";
  if (compression != 0 && compression != 3) return {};  // run-length coded: the decoder checks
  const uint64_t w = width < 0 ? 0 : uint64_t(width), h = height < 0 ? uint64_t(-int64_t(height)) : uint64_t(height);
  const uint64_t row = (w * bits + 31) / 32 * 4;
  if (row != 0 && h > (uint64_t(1) << 40) / row) return "corrupt BMP (impossible size)";
  if (uint64_t(pixels_at) + row * h > size)
    return "truncated BMP (the pixel rows end " + std::to_string(uint64_t(pixels_at) + row * h - size) +
           " bytes past the end of the file)";
  return {};
}

}  // namespace

std::string image_truncation_problem(const uint8_t* d, size_t size) {
  auto starts = [&](const char* sig, size_t len) { return size >= len && std::memcmp(d, sig, len) == 0; };
  if (starts("\xff\xd8", 2)) return jpeg_problem(d, size);
  if (starts("RIFF", 4) && size >= 12 && std::memcmp(d + 8, "WEBP", 4) == 0) return webp_problem(d, size);
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return tiff_problem(d, size);
  if (starts("BM", 2)) return bmp_problem(d, size);
  return {};
}

std::string require_complete_image(const uint8_t* data, size_t size, const std::string& name, bool allow_truncated) {
  // libpng reports some damage on stderr before failing; check the structure first so the
  // user sees one line from us instead. A PNG cut short cannot be decoded at all.
  if (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) {
    const std::string problem = png_structure_problem(data, size);
    if (!problem.empty()) fail(name, problem);
    return {};
  }
  std::string problem = image_truncation_problem(data, size);
  if (!problem.empty() && !allow_truncated) refuse_damaged_image(name, problem);
  return problem;
}

void refuse_damaged_image(const std::string& name, const std::string& problem) {
  fail(name, problem + "; --allow-truncated decodes what is there");
}

void warn_damaged_image(const std::string& name, const std::string& problem) {
  std::cerr << "segkit: warning: " << name << ": " << problem << "; decoding what is there\n";
}

}  // namespace segkit
