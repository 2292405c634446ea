#include "image/jpeg_decode.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

#include "image/byte_order.h"
#include "segkit/error.h"

namespace segkit {

namespace {

// libjpeg reports through these callbacks. A fatal error unwinds with longjmp to the setjmp of
// the phase that was running (header or pixels); the first warning that means damaged data is
// kept. Nothing is printed.
struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg reaches this struct through j_common_ptr->err
  std::jmp_buf escape;
  char error[JMSG_LENGTH_MAX] = "";
  char damage[JMSG_LENGTH_MAX] = "";
  bool truncated = false;
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->error);
  std::longjmp(e->escape, 1);
}

// Warnings (level -1) that the data is cut or damaged: libjpeg goes on, filling what it could
// not decode. Stray bytes between header segments are a writer's slip and harmless; after
// scan data (before the next scan, a restart or the end) they mean the scan was misread.
bool means_damage(const jpeg_error_mgr& err) {
  switch (err.msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
      return true;
    case JWRN_EXTRANEOUS_DATA: {
      const int marker = err.msg_parm.i[1];
      return marker == 0xD9 || marker == 0xDA || (marker >= 0xD0 && marker <= 0xD7);
    }
    default:
      return false;
  }
}

void on_message(j_common_ptr cinfo, int level) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level >= 0 || e->damage[0] || !means_damage(*cinfo->err)) return;  // trace messages, later warnings
  e->truncated = cinfo->err->msg_code == JWRN_JPEG_EOF;
  (*cinfo->err->format_message)(cinfo, e->damage);
}

struct Decoder {
  jpeg_decompress_struct cinfo{};
  ErrorManager err;
  int orientation = 1;  // EXIF; read with the header (saved markers are freed when decoding ends)
  Decoder() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    jpeg_create_decompress(&cinfo);
  }
  ~Decoder() { jpeg_destroy_decompress(&cinfo); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// The two phases libjpeg may leave by longjmp. Neither changes a local of its own after setjmp
// that is used after the jump, and no C++ object lives in the frames the jump crosses.
bool read_header(Decoder& d, const uint8_t* data, size_t size) {
  if (setjmp(d.err.escape)) return false;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&d.cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = d.cinfo.marker_list; m && d.orientation == 1; m = m->next)
    if (m->marker == JPEG_APP0 + 1) d.orientation = exif_orientation(m->data, m->data_length);
  const bool cmyk = d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK;
  d.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_calc_output_dimensions(&d.cinfo);
  return true;
}

bool read_pixels(Decoder& d, uint8_t* out, size_t row_bytes) {
  if (setjmp(d.err.escape)) return false;
  jpeg_start_decompress(&d.cinfo);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = out + size_t(d.cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

// Pillow's CMYK → RGB: r = (255 − k) − (c·(255 − k) + 127.5) / 255, in its integer form. Adobe
// files store the inks inverted.
void cmyk_to_rgb(const uint8_t* cmyk, size_t pixels, bool inverted, uint8_t* rgb) {
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    int v[4];
    for (int c = 0; c < 4; ++c) v[c] = inverted ? 255 - cmyk[c] : cmyk[c];
    const int nk = 255 - v[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<uint8_t>(std::max(0, nk - muldiv255(v[c], nk)));
  }
}

// EXIF orientation as PIL's ImageOps.exif_transpose applies it.
Image oriented(Image img, int orientation) {
  if (orientation <= 1 || orientation > 8) return img;
  cv::Mat src(img.height, img.width, CV_8UC3, img.rgb.data()), dst;
  switch (orientation) {
    case 2: cv::flip(src, dst, 1); break;
    case 3: cv::rotate(src, dst, cv::ROTATE_180); break;
    case 4: cv::flip(src, dst, 0); break;
    case 5: cv::transpose(src, dst); break;
    case 6: cv::rotate(src, dst, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(src, dst), cv::flip(dst, dst, -1); break;
    case 8: cv::rotate(src, dst, cv::ROTATE_90_COUNTERCLOCKWISE); break;
  }
  Image out;
  out.width = dst.cols;
  out.height = dst.rows;
  out.rgb.assign(dst.data, dst.data + dst.total() * 3);
  return out;
}

}  // namespace

int exif_orientation(const uint8_t* d, size_t n) {
  if (n < 14 || std::memcmp(d, "Exif\0\0", 6) != 0) return 1;
  d += 6, n -= 6;  // the TIFF structure; offsets count from here
  const bool little = d[0] == 'I' && d[1] == 'I';
  if (!little && !(d[0] == 'M' && d[1] == 'M')) return 1;
  const TiffBytes tiff{d, little};
  const size_t ifd = tiff.u32(4);
  if (ifd > n || n - ifd < 2) return 1;
  const size_t entries = tiff.u16(ifd);
  for (size_t e = 0; e < entries && ifd + 2 + (e + 1) * 12 <= n; ++e) {
    const size_t at = ifd + 2 + e * 12;
    if (tiff.u16(at) == 0x0112 && tiff.u16(at + 2) == 3) {  // Orientation, a SHORT, held in the entry
      const uint32_t v = tiff.u16(at + 8);
      return v >= 1 && v <= 8 ? int(v) : 1;
    }
  }
  return 1;
}

DecodedJpeg decode_jpeg(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  Decoder d;
  if (!read_header(d, data, size)) fail(name, std::string("corrupt JPEG (") + d.err.error + ")");
  const size_t width = d.cinfo.output_width, height = d.cinfo.output_height;
  const size_t channels = size_t(d.cinfo.output_components);
  if (width == 0 || height == 0) fail(name, "image has zero width or height");
  if (int64_t(width * height) > max_pixels)
    fail(name, "image is " + std::to_string(width) + "x" + std::to_string(height) + ", more than the limit of " +
                   std::to_string(max_pixels) + " pixels");
  std::vector<uint8_t> pixels(width * height * channels);
  if (!read_pixels(d, pixels.data(), width * channels)) fail(name, std::string("corrupt JPEG (") + d.err.error + ")");
  DecodedJpeg out;
  if (d.err.damage[0]) out.damage = std::string(d.err.truncated ? "truncated JPEG (" : "corrupt JPEG (") + d.err.damage + ")";
  Image img;
  img.width = int(width);
  img.height = int(height);
  if (channels == 4) {
    img.rgb.resize(width * height * 3);
    cmyk_to_rgb(pixels.data(), width * height, d.cinfo.saw_Adobe_marker, img.rgb.data());
  } else {
    img.rgb = std::move(pixels);
  }
  out.image = oriented(std::move(img), d.orientation);
  return out;
}

}  // namespace segkit
