#pragma once
// JPEG decoding on libjpeg(-turbo) directly, with its errors and warnings in our hands. Through
// OpenCV, libjpeg prints warnings such as "Corrupt JPEG data: premature end of data segment" to
// stderr and decodes on with grey or garbage where the data was damaged; here the caller learns
// of such damage and words it (decode_image: an Error naming the file, or one warning line).
// The pixels are libjpeg's with its default settings, as Pillow and OpenCV decode them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "segkit/image.h"

namespace segkit {

struct DecodedJpeg {
  Image image;         // RGB, EXIF orientation applied; grey and CMYK converted as Pillow's convert("RGB")
  std::string damage;  // "truncated JPEG (...)" / "corrupt JPEG (...)" where libjpeg filled in, else empty
};

// Error "name: corrupt JPEG (...)" where libjpeg cannot decode at all; damage it decodes past is
// reported in the result, for the caller to refuse or warn about. Prints nothing. Images of
// more than max_pixels are refused from the header, before any pixel is decoded.
DecodedJpeg decode_jpeg(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels);

// The EXIF orientation (1-8) in an APP1 segment's payload ("Exif\0\0" + TIFF), 1 when absent.
int exif_orientation(const uint8_t* app1, size_t size);

}  // namespace segkit
