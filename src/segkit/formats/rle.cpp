// COCO run-length encoding. Every function reproduces the corresponding routine of
// pycocotools' common/maskApi.c bit for bit (including its corner cases), written anew.
#include "segkit/rle.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "segkit/error.h"

namespace segkit {

namespace {

void check_size(int64_t height, int64_t width) {
  if (height < 0 || width < 0 || (height > 0 && width > INT32_MAX / height))
    fail("RLE", "invalid mask size " + std::to_string(height) + "x" + std::to_string(width));
}

// High bit of each byte set where that byte of w is nonzero.
inline uint64_t nonzero_bytes(uint64_t w) {
  constexpr uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
  return (((w & low7) + low7) | w) & ~low7;
}

// Walks two RLEs of equal total length segment by segment, the way maskApi.c's merge and iou
// loops do: `step(c, va, vb, ct)` receives a segment length and the values the cursors hold
// after advancing past it; ct is what remains (0 on the last call).
template <typename Step>
void walk_pair(const Rle& a, const Rle& b, Step step) {
  if (a.counts.empty() || b.counts.empty()) return;
  uint32_t ca = a.counts[0], cb = b.counts[0];
  size_t ia = 1, ib = 1;
  bool va = false, vb = false;
  uint64_t ct = 1;
  while (ct > 0) {
    const uint32_t c = std::min(ca, cb);
    const bool va_before = va, vb_before = vb;
    ca -= c;
    if (ca == 0 && ia < a.counts.size()) { ca = a.counts[ia++]; va = !va; }
    cb -= c;
    if (cb == 0 && ib < b.counts.size()) { cb = b.counts[ib++]; vb = !vb; }
    ct = static_cast<uint64_t>(ca) + cb;
    step(c, va_before, vb_before, va, vb, ct);
  }
}

}  // namespace

void rle_validate(const Rle& rle) {
  check_size(rle.height, rle.width);
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  const uint64_t n = static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width);
  if (sum != n)
    fail("RLE", "runs add up to " + std::to_string(sum) + " pixels but the mask is " + std::to_string(rle.height) +
                    "x" + std::to_string(rle.width) + " = " + std::to_string(n));
}

Rle rle_encode(const uint8_t* mask, int64_t height, int64_t width) {
  check_size(height, width);
  Rle rle;
  rle.height = height;
  rle.width = width;
  const size_t h = static_cast<size_t>(height), w = static_cast<size_t>(width);
  if (h * w == 0) {
    rle.counts.push_back(0);
    return rle;
  }
  // A run ends wherever a pixel differs (as 0/1) from the one above it, or, in row 0, from
  // the last pixel of the previous column. Rows are compared 8 bytes at a time, so the cost
  // is one streaming pass over the mask plus the number of runs; no transpose is needed.
  std::vector<uint32_t> events;  // column-major indices where the value changes
  auto nz = [&](size_t y, size_t x) { return mask[y * w + x] != 0; };
  for (size_t x = 0; x < w; ++x)
    if (nz(0, x) != (x == 0 ? false : nz(h - 1, x - 1))) events.push_back(static_cast<uint32_t>(x * h));
  for (size_t y = 1; y < h; ++y) {
    const uint8_t* row = mask + y * w;
    const uint8_t* above = row - w;
    size_t x = 0;
    for (; x + 8 <= w; x += 8) {
      uint64_t a, b;
      std::memcpy(&a, row + x, 8);
      std::memcpy(&b, above + x, 8);
      uint64_t diff = nonzero_bytes(a) ^ nonzero_bytes(b);
      while (diff) {
        const size_t xi = x + static_cast<size_t>(__builtin_ctzll(diff) >> 3);
        events.push_back(static_cast<uint32_t>(xi * h + y));
        diff &= diff - 1;
      }
    }
    for (; x < w; ++x)
      if ((row[x] != 0) != (above[x] != 0)) events.push_back(static_cast<uint32_t>(x * h + y));
  }
  // Events arrive row by row; a stable counting sort by column puts them in column-major order.
  std::vector<uint32_t> start(w + 1, 0);
  for (uint32_t e : events) ++start[e / h + 1];
  for (size_t x = 0; x < w; ++x) start[x + 1] += start[x];
  std::vector<uint32_t> sorted(events.size());
  for (uint32_t e : events) sorted[start[e / h]++] = e;
  rle.counts.reserve(sorted.size() + 1);
  uint32_t prev = 0;
  for (uint32_t e : sorted) {
    rle.counts.push_back(e - prev);
    prev = e;
  }
  rle.counts.push_back(static_cast<uint32_t>(h * w) - prev);
  return rle;
}

std::vector<uint8_t> rle_decode(const Rle& rle) {
  rle_validate(rle);
  const size_t h = static_cast<size_t>(rle.height), w = static_cast<size_t>(rle.width);
  std::vector<uint8_t> out(h * w, 0);
  size_t pos = 0;
  for (size_t k = 0; k < rle.counts.size(); ++k) {
    const size_t len = rle.counts[k];
    if (k % 2 == 1) {
      // Foreground run [pos, pos+len) in column-major order: fill it column piece by piece.
      size_t p = pos, left = len;
      while (left > 0) {
        const size_t x = p / h, y = p % h;
        const size_t take = std::min(left, h - y);
        uint8_t* dst = out.data() + y * w + x;
        for (size_t t = 0; t < take; ++t) dst[t * w] = 1;
        p += take;
        left -= take;
      }
    }
    pos += len;
  }
  return out;
}

std::string rle_to_string(const Rle& rle) {
  std::string s;
  s.reserve(rle.counts.size() * 2);
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= static_cast<int64_t>(rle.counts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift: negative deltas keep their sign
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(const std::string& counts, int64_t height, int64_t width) {
  check_size(height, width);
  Rle rle;
  rle.height = height;
  rle.width = width;
  const int64_t total = height * width;
  size_t p = 0;
  while (p < counts.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= counts.size()) fail("RLE counts", "string ends in the middle of a value");
      const int c = static_cast<unsigned char>(counts[p]) - 48;
      if (c < 0 || c > 63)
        fail("RLE counts", "invalid character '" + std::string(1, counts[p]) + "' at position " + std::to_string(p));
      if (k >= 8) fail("RLE counts", "value too large at position " + std::to_string(p));
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= ~((int64_t{1} << (5 * k)) - 1);  // sign-extend the last group
    }
    const size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    if (x < 0 || x > total)
      fail("RLE counts", "run " + std::to_string(m) + " has length " + std::to_string(x) + ", outside the " +
                             std::to_string(height) + "x" + std::to_string(width) + " mask");
    rle.counts.push_back(static_cast<uint32_t>(x));
  }
  rle_validate(rle);
  return rle;
}

uint64_t rle_area(const Rle& rle) {
  uint64_t a = 0;
  for (size_t j = 1; j < rle.counts.size(); j += 2) a += rle.counts[j];
  return a;
}

std::array<double, 4> rle_bbox(const Rle& rle) {
  // Same unsigned 32-bit arithmetic as maskApi.c's rleToBbox: the run ends give the
  // extreme columns; a foreground run spanning two columns covers every row.
  const uint32_t h = static_cast<uint32_t>(rle.height), w = static_cast<uint32_t>(rle.width);
  const size_t m = rle.counts.size() / 2 * 2;
  if (m == 0 || h == 0) return {0, 0, 0, 0};
  uint32_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    const uint32_t t = cc - static_cast<uint32_t>(j % 2);
    const uint32_t y = t % h, x = (t - y) / h;
    if (j % 2 == 0) xp = x;
    else if (xp < x) { ys = 0; ye = h - 1; }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
          static_cast<double>(ye - ys + 1)};
}

double box_iou(const std::array<double, 4>& d, const std::array<double, 4>& g, bool gt_is_crowd) {
  const double ga = g[2] * g[3], da = d[2] * d[3];
  const double w = std::fmin(d[2] + d[0], g[2] + g[0]) - std::fmax(d[0], g[0]);
  if (w <= 0) return 0;
  const double h = std::fmin(d[3] + d[1], g[3] + g[1]) - std::fmax(d[1], g[1]);
  if (h <= 0) return 0;
  const double i = w * h;
  return i / (gt_is_crowd ? da : da + ga - i);
}

double rle_iou(const Rle& dt, const Rle& gt, bool gt_is_crowd) {
  // The bounding boxes decide first: no overlap is 0 even for masks of different sizes.
  const double o = box_iou(rle_bbox(dt), rle_bbox(gt), gt_is_crowd);
  if (!(o > 0)) return o;
  if (dt.height != gt.height || dt.width != gt.width) return -1;
  rle_validate(dt);
  rle_validate(gt);
  uint32_t inter = 0, uni = 0;
  walk_pair(dt, gt, [&](uint32_t c, bool va, bool vb, bool, bool, uint64_t) {
    if (va || vb) {
      uni += c;
      if (va && vb) inter += c;
    }
  });
  if (inter == 0) return 0;
  if (gt_is_crowd) uni = static_cast<uint32_t>(rle_area(dt));
  return static_cast<double>(inter) / static_cast<double>(uni);
}

std::vector<std::vector<double>> rle_iou_matrix(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                                                const std::vector<uint8_t>& gt_is_crowd) {
  if (!gt_is_crowd.empty() && gt_is_crowd.size() != gt.size())
    fail("RLE iou", "iscrowd has " + std::to_string(gt_is_crowd.size()) + " entries for " +
                        std::to_string(gt.size()) + " ground-truth masks");
  std::vector<std::vector<double>> out(dt.size(), std::vector<double>(gt.size(), 0.0));
  for (size_t d = 0; d < dt.size(); ++d)
    for (size_t g = 0; g < gt.size(); ++g)
      out[d][g] = rle_iou(dt[d], gt[g], !gt_is_crowd.empty() && gt_is_crowd[g]);
  return out;
}

Rle rle_merge(const std::vector<Rle>& rles, bool intersect) {
  if (rles.empty()) return Rle{};
  if (rles.size() == 1) return rles[0];
  for (const Rle& r : rles) rle_validate(r);
  Rle acc = rles[0];
  for (size_t i = 1; i < rles.size(); ++i) {
    const Rle& b = rles[i];
    if (b.height != acc.height || b.width != acc.width) return Rle{};
    Rle next;
    next.height = acc.height;
    next.width = acc.width;
    bool v = false;
    uint32_t cc = 0;
    walk_pair(acc, b, [&](uint32_t c, bool, bool, bool va, bool vb, uint64_t ct) {
      cc += c;
      const bool vp = v;
      v = intersect ? (va && vb) : (va || vb);
      if (v != vp || ct == 0) {
        next.counts.push_back(cc);
        cc = 0;
      }
    });
    acc = std::move(next);
  }
  return acc;
}

Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width) {
  check_size(height, width);
  Rle rle;
  rle.height = height;
  rle.width = width;
  const size_t k = xy.size() / 2;
  const int h = static_cast<int>(height), w = static_cast<int>(width);
  for (double v : xy)
    if (!std::isfinite(v) || std::fabs(v) > 1e6) fail("polygon", "coordinate out of range");
  if (k == 0 || height * width == 0) {
    rle.counts.push_back(static_cast<uint32_t>(height * width));
    return rle;
  }
  // 1. Scale the vertices by 5 and trace every edge densely in that finer grid.
  constexpr double scale = 5;
  std::vector<int> px(k + 1), py(k + 1);
  for (size_t j = 0; j < k; ++j) {
    px[j] = static_cast<int>(scale * xy[2 * j] + .5);  // truncates toward zero, as the C cast does
    py[j] = static_cast<int>(scale * xy[2 * j + 1] + .5);
  }
  px[k] = px[0];
  py[k] = py[0];
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = px[j], xe = px[j + 1], ys = py[j], ye = py[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx == 0 && dy == 0) {  // a zero-length edge: one point (the C code divides 0 by 0 here)
      u.push_back(xs);
      v.push_back(ys);
      continue;
    }
    if (dx >= dy) {
      const double s = static_cast<double>(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + s * t + .5));
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + s * t + .5));
      }
    }
  }
  // 2. Where the trace crosses a pixel-centre column, keep the boundary row (downsampled).
  std::vector<uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = static_cast<double>(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > w - 1) continue;
    double yd = static_cast<double>(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = std::ceil(yd);
    a.push_back(static_cast<uint32_t>(static_cast<int>(xd) * h + static_cast<int>(yd)));
  }
  // 3. Each boundary point toggles the mask in column-major order; pairs at one spot cancel.
  a.push_back(static_cast<uint32_t>(height * width));
  std::sort(a.begin(), a.end());
  uint32_t prev = 0;
  for (uint32_t& t : a) {
    const uint32_t cur = t;
    t -= prev;
    prev = cur;
  }
  rle.counts.push_back(a[0]);
  for (size_t j = 1; j < a.size();) {
    if (a[j] > 0) {
      rle.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) rle.counts.back() += a[j++];
    }
  }
  return rle;
}

Rle rle_from_uncompressed(std::vector<uint32_t> counts, int64_t height, int64_t width) {
  Rle rle;
  rle.height = height;
  rle.width = width;
  rle.counts = std::move(counts);
  rle_validate(rle);
  return rle;
}

Rle rle_from_bbox(const std::array<double, 4>& box, int64_t height, int64_t width) {
  const double xs = box[0], xe = xs + box[2], ys = box[1], ye = ys + box[3];
  return rle_from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, height, width);
}

MaskOutputMode parse_mask_output_mode(const std::string& name) {
  if (name == "binary_mask") return MaskOutputMode::BinaryMask;
  if (name == "uncompressed_rle") return MaskOutputMode::UncompressedRle;
  if (name == "coco_rle") return MaskOutputMode::CocoRle;
  fail("output_mode", "unknown mode '" + name + "' (choose binary_mask, uncompressed_rle or coco_rle)");
}

const char* mask_output_mode_name(MaskOutputMode mode) {
  switch (mode) {
    case MaskOutputMode::BinaryMask: return "binary_mask";
    case MaskOutputMode::UncompressedRle: return "uncompressed_rle";
    case MaskOutputMode::CocoRle: return "coco_rle";
  }
  return "?";
}

}  // namespace segkit
