#pragma once
// What fused_attention hands its per-CPU kernels: where the tokens live and the problem's sizes,
// in 32-bit units (one float32, or a pair of bfloat16), so that one description serves both
// element types.
#include <algorithm>
#include <cstdint>

// The kernels need x86-64 and GCC or clang (AVX-512 intrinsics, per-function targets); elsewhere
// none is built and fused_attention_supported is false.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEGKIT_FUSED_ATTENTION_KERNELS 1
#else
#define SEGKIT_FUSED_ATTENTION_KERNELS 0
#endif
// AMX tile intrinsics: GCC 11 and clang 12 on.
#if SEGKIT_FUSED_ATTENTION_KERNELS && ((defined(__clang__) && __clang_major__ >= 12) || \
                                       (!defined(__clang__) && __GNUC__ >= 11))
#define SEGKIT_AMX_KERNELS 1
#else
#define SEGKIT_AMX_KERNELS 0
#endif

namespace segkit::kernels::fused {

// Where each head's q, k, v and output rows live. Group g is (image, window, head) with the
// head fastest; row n of a window is token (y, x) = (wy·kh + n / kw, wx·kw + n % kw) of the
// image's H×W grid. Tokens past the grid are padding: their q, k and v rows are `pad` (upstream
// pads the normed tokens with zeros, so their projections are the bias) and they have no output.
struct Tokens {
  const uint32_t* qkv;  // token (b, y, x): qkv + b·sb + y·sy + x·sx; then q, k, v of every head
  int64_t sb, sy, sx;
  uint32_t* out;  // token (b, y, x): out + b·ob + y·oy + x·ox; then every head's output
  int64_t ob, oy, ox;
  const uint32_t* pad;  // 3·heads rows
  int64_t H, W, kh, kw, windows_y, windows_x, heads;
  int64_t units;  // of one head's row

  // Row n of group g in part 0 (q), 1 (k) or 2 (v); its output row, null for padding.
  const uint32_t* row(int64_t g, int64_t n, int part) const {
    int64_t b, y, x;
    const int64_t head = locate(g, n, b, y, x);
    const int64_t offset = (part * heads + head) * units;
    return (y < H && x < W ? qkv + b * sb + y * sy + x * sx : pad) + offset;
  }
  uint32_t* output(int64_t g, int64_t n) const {
    int64_t b, y, x;
    const int64_t head = locate(g, n, b, y, x);
    return y < H && x < W ? out + b * ob + y * oy + x * ox + head * units : nullptr;
  }
  // How many of group g's rows (from row 0) it takes to hold all its tokens: in the grid's last
  // window row, the rows past the grid are padding whose queries have no output.
  int64_t rows_with_tokens(int64_t g) const {
    const int64_t wy = g / heads / windows_x % windows_y;
    return std::min(kh, H - wy * kh) * kw;
  }
  int64_t locate(int64_t g, int64_t n, int64_t& b, int64_t& y, int64_t& x) const {
    const int64_t window = g / heads;
    b = window / (windows_y * windows_x);
    y = window / windows_x % windows_y * kh + n / kw;
    x = window % windows_x * kw + n % kw;
    return g % heads;
  }
};

struct Problem {
  Tokens tokens;
  int64_t groups, d;  // groups: images × windows × heads; d: elements of one head's row
  float scale;
  // Upstream's get_rel_pos tables, kh×kh and kw×kw rows of `tokens.units`; null without them.
  const uint32_t* rel_pos_h = nullptr;
  const uint32_t* rel_pos_w = nullptr;
};

#if SEGKIT_FUSED_ATTENTION_KERNELS
// The kernels, one per element type, each compiled for its instruction set.
void attend_bf16(const Problem& problem);
void attend_fp32(const Problem& problem);
#endif

}  // namespace segkit::kernels::fused
