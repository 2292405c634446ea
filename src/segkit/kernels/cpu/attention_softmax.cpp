#include "kernels/cpu/attention_softmax.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/softmax.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/torch_parallel.h"
#include "kernels/aten_path.h"
#include "kernels/cpu/cpu_tensor.h"
#include "segkit/error.h"

// The vector types below are wider than the baseline x86-64 registers; GCC notes that passing
// them by value would change the ABI, which does not matter for these inlined helpers.
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

// One compiled copy per instruction set, picked at load time (GCC's function multiversioning):
// the build stays portable and CPUs with AVX-512 get 16 floats a register.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEGKIT_PER_ISA __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SEGKIT_PER_ISA
#endif

namespace segkit::kernels {

namespace {

// Every helper taking or returning a vector is inlined into its caller's clone: an out-of-line
// copy would be compiled for the baseline ISA and pass vectors differently from an AVX-512
// caller (the ABI change -Wpsabi warns of), which crashes.
#define SEGKIT_VECTOR_INLINE inline __attribute__((always_inline))

typedef float Floats __attribute__((vector_size(64)));
typedef int32_t Ints __attribute__((vector_size(64)));
typedef uint32_t Bits __attribute__((vector_size(64)));
typedef uint16_t Halves __attribute__((vector_size(32)));
typedef uint8_t Bytes __attribute__((vector_size(16)));
constexpr int64_t kLanes = 16;

template <typename To, typename From>
SEGKIT_VECTOR_INLINE To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

inline float to_float(float v) { return v; }
inline float to_float(c10::BFloat16 v) { return static_cast<float>(v); }
inline void from_float(float* p, float v) { *p = v; }
inline void from_float(c10::BFloat16* p, float v) { *p = c10::BFloat16(v); }  // rounds to nearest even

SEGKIT_VECTOR_INLINE Floats load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
SEGKIT_VECTOR_INLINE Floats load(const c10::BFloat16* p) {  // bfloat16 is the upper half of a float32
  Halves h;
  std::memcpy(&h, p, sizeof h);
  return bit_cast<Floats>(__builtin_convertvector(h, Bits) << 16);
}
SEGKIT_VECTOR_INLINE void store(float* p, Floats v) { std::memcpy(p, &v, sizeof v); }
SEGKIT_VECTOR_INLINE void store(c10::BFloat16* p, Floats v) {  // rounded to nearest even, as c10::BFloat16 does
  Bits b = bit_cast<Bits>(v);
  b += 0x7fffu + ((b >> 16) & 1u);
  const Halves h = __builtin_convertvector(b >> 16, Halves);
  std::memcpy(p, &h, sizeof h);
}

// exp(x) for x <= 0 (scores minus their row's maximum), within 2 ulp: x = n·ln 2 + r with
// |r| <= ln 2 / 2, exp(r) by Cephes' degree-5 polynomial, 2^n put into the exponent bits. Below
// -87 it returns exp(-87), which a row holding exp(0) = 1 cannot tell from zero.
SEGKIT_VECTOR_INLINE Floats exp_nonpositive(Floats x) {
  const Floats lowest = Floats{} - 87.0f, shifter = Floats{} + 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  x = x < lowest ? lowest : x;
  const Floats shifted = x * 1.44269504088896341f + shifter;
  const Floats n = shifted - shifter;
  const Floats r = x - n * 0.693359375f - n * -2.12194440e-4f;
  Floats p = Floats{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const Floats e = p * r * r + r + 1.0f;
  const Ints exponent = (bit_cast<Ints>(shifted) - 0x4b400000 + 127) << 23;  // n + 127, into place
  return e * bit_cast<Floats>(exponent);
}

template <typename T>
struct Rows {
  T* scores;
  int64_t T_rows, N;          // rows per group, keys per row
  const T* rel_h;             // null: no relative-position terms
  const T* rel_w;
  int64_t kh, kw, rel_h_group, rel_w_group;  // group strides in elements
  // add_bias_softmax_'s float32 terms (null: none): bias of each head's T×N scores, mask of each
  // group of `heads` groups.
  const float* bias;
  const float* mask;
  int64_t heads;
  const bool* blocked;  // masked_softmax_'s keys to leave out, N per row (null: none)
};

inline int64_t whole_vectors(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

template <typename T>
SEGKIT_VECTOR_INLINE void softmax_rows(const Rows<T>& job, int64_t begin, int64_t end) {
  const int64_t N = job.N, kw = job.kw, padded = whole_vectors(N);
  const float infinity = std::numeric_limits<float>::infinity();
  // buf: the row in float32, padded to whole vectors with -inf (0 after step 2). Key rows
  // narrower than a vector go through `raw` (below).
  thread_local std::vector<float> buffer, raw_buffer, rw_buffer;
  if (static_cast<int64_t>(buffer.size()) < padded + kLanes) buffer.assign(static_cast<size_t>(padded + kLanes), 0.f);
  float* buf = buffer.data();
  const bool narrow = job.rel_h && kw % kLanes != 0;
  if (narrow) {
    if (static_cast<int64_t>(raw_buffer.size()) < padded + kLanes) raw_buffer.assign(static_cast<size_t>(padded + kLanes), 0.f);
    if (static_cast<int64_t>(rw_buffer.size()) < whole_vectors(kw)) rw_buffer.assign(static_cast<size_t>(whole_vectors(kw)), 0.f);
  }
  Ints lane;
  for (int k = 0; k < kLanes; ++k) lane[k] = k;
  for (int64_t row = begin; row < end; ++row) {
    T* s = job.scores + row * N;
    // 1. The scores with their relative-position terms, in float32, and their maximum.
    Floats vmax = Floats{} - infinity;
    if (job.rel_h) {
      const int64_t g = row / job.T_rows, r = row % job.T_rows;
      const T* rh = job.rel_h + g * job.rel_h_group + r * job.kh;
      const T* rw = job.rel_w + g * job.rel_w_group + r * kw;
      if (!narrow) {
        for (int64_t y = 0; y < job.kh; ++y) {
          const float bias = to_float(rh[y]);
          for (int64_t x = 0; x < kw; x += kLanes) {
            const Floats v = (load(s + y * kw + x) + bias) + load(rw + x);  // upstream's order of the adds
            store(buf + y * kw + x, v);
            vmax = vmax > v ? vmax : v;
          }
        }
      } else {
        // Key rows of kw < 16 or a partial last vector (windows of 14): whole vectors still.
        // The row goes to `raw` in float32 first; then each key row's vectors are written at
        // its place in buf, their lanes past kw spilling into the next key row's place, which
        // that row then overwrites (the last one's into the padding). Spilled lanes stay out of
        // the maximum.
        float* raw = raw_buffer.data();
        float* rwf = rw_buffer.data();
        int64_t j = 0;
        for (; j + kLanes <= N; j += kLanes) store(raw + j, load(s + j));
        for (; j < N; ++j) raw[j] = to_float(s[j]);
        for (int64_t x = 0; x < kw; ++x) rwf[x] = to_float(rw[x]);
        for (int64_t y = 0; y < job.kh; ++y) {
          const float bias = to_float(rh[y]);
          for (int64_t x = 0; x < kw; x += kLanes) {
            const Floats v = (load(raw + y * kw + x) + bias) + load(rwf + x);
            store(buf + y * kw + x, v);
            const Floats kept = lane + static_cast<int32_t>(x) < static_cast<int32_t>(kw) ? v : Floats{} - infinity;
            vmax = vmax > kept ? vmax : kept;
          }
        }
      }
    } else if (job.bias) {
      // (score + bias) + mask, as two in-place adds round them.
      const int64_t g = row / job.T_rows, r = row % job.T_rows;
      const float* b = job.bias + ((g % job.heads) * job.T_rows + r) * N;
      const float* m = job.mask ? job.mask + ((g / job.heads) * job.T_rows + r) * N : nullptr;
      int64_t j = 0;
      for (; j + kLanes <= N; j += kLanes) {
        Floats v = load(s + j) + load(b + j);
        if (m) v += load(m + j);
        store(buf + j, v);
        vmax = vmax > v ? vmax : v;
      }
      for (; j < N; ++j) {
        buf[j] = to_float(s[j]) + b[j];
        if (m) buf[j] += m[j];
        vmax[0] = std::max(vmax[0], buf[j]);
      }
    } else if (job.blocked) {
      // Blocked keys as −∞, which step 2 turns into exact zeros.
      const bool* blocked = job.blocked + row * N;
      int64_t j = 0;
      for (; j + kLanes <= N; j += kLanes) {
        Bytes flags;
        std::memcpy(&flags, blocked + j, sizeof flags);
        const Ints keep = __builtin_convertvector(flags, Ints) == 0;
        const Floats v = keep ? load(s + j) : Floats{} - infinity;
        store(buf + j, v);
        vmax = vmax > v ? vmax : v;
      }
      for (; j < N; ++j) {
        buf[j] = blocked[j] ? -infinity : to_float(s[j]);
        vmax[0] = std::max(vmax[0], buf[j]);
      }
    } else {
      int64_t j = 0;
      for (; j + kLanes <= N; j += kLanes) {
        const Floats v = load(s + j);
        store(buf + j, v);
        vmax = vmax > v ? vmax : v;
      }
      for (; j < N; ++j) {
        buf[j] = to_float(s[j]);
        vmax[0] = std::max(vmax[0], buf[j]);
      }
    }
    for (int64_t j = N; j < padded; ++j) buf[j] = -infinity;
    float max = -infinity;
    for (int64_t k = 0; k < kLanes; ++k) max = std::max(max, vmax[k]);
    // 2. exp(s - max) and the sum, over whole vectors; −∞ (blocked keys, the padding) gives 0.
    Floats vsum{};
    for (int64_t j = 0; j < padded; j += kLanes) {
      const Floats x = load(buf + j);
      const Floats e = x == -infinity ? Floats{} : exp_nonpositive(x - max);
      store(buf + j, e);
      vsum += e;
    }
    float sum = 0;
    for (int64_t k = 0; k < kLanes; ++k) sum += vsum[k];
    // 3. Normalised, back into the scores' type.
    const float inverse = 1.0f / sum;
    int64_t j = 0;
    for (; j + kLanes <= N; j += kLanes) store(s + j, load(buf + j) * inverse);
    for (; j < N; ++j) from_float(s + j, buf[j] * inverse);
  }
}

SEGKIT_PER_ISA void softmax_rows_float(const Rows<float>& job, int64_t begin, int64_t end) { softmax_rows(job, begin, end); }
SEGKIT_PER_ISA void softmax_rows_bfloat16(const Rows<c10::BFloat16>& job, int64_t begin, int64_t end) {
  softmax_rows(job, begin, end);
}

// Columns [c0, c1) of each of R rows N apart, soft-maxed down the rows: 16 columns at a time,
// their R values staying in L1 across the three steps.
SEGKIT_PER_ISA void softmax_columns_float(float* p, int64_t R, int64_t N, int64_t c0, int64_t c1) {
  const float infinity = std::numeric_limits<float>::infinity();
  int64_t c = c0;
  for (; c + kLanes <= c1; c += kLanes) {
    Floats top = load(p + c);
    for (int64_t r = 1; r < R; ++r) {
      const Floats v = load(p + r * N + c);
      top = top > v ? top : v;
    }
    Floats sum{};
    for (int64_t r = 0; r < R; ++r) {
      const Floats e = exp_nonpositive(load(p + r * N + c) - top);
      store(p + r * N + c, e);
      sum += e;
    }
    const Floats inverse = 1.0f / sum;
    for (int64_t r = 0; r < R; ++r) store(p + r * N + c, load(p + r * N + c) * inverse);
  }
  for (; c < c1; ++c) {
    float top = -infinity, sum = 0;
    for (int64_t r = 0; r < R; ++r) top = std::max(top, p[r * N + c]);
    for (int64_t r = 0; r < R; ++r) sum += p[r * N + c] = std::exp(p[r * N + c] - top);
    for (int64_t r = 0; r < R; ++r) p[r * N + c] /= sum;
  }
}

template <typename T>
void run(const at::Tensor& scores, const at::Tensor& rel_h, const at::Tensor& rel_w,
         void (*rows_fn)(const Rows<T>&, int64_t, int64_t), Rows<T> job = {}) {
  job.scores = scores.data_ptr<T>();
  job.T_rows = scores.size(1);
  job.N = scores.size(2);
  if (rel_h.defined()) {
    job.rel_h = rel_h.data_ptr<T>();
    job.rel_w = rel_w.data_ptr<T>();
    job.kh = rel_h.size(2);
    job.kw = rel_w.size(2);
    job.rel_h_group = rel_h.stride(0);
    job.rel_w_group = rel_w.stride(0);
  }
  const int64_t rows = scores.size(0) * job.T_rows;
  // A few rows a task: each row is a few kB, and the pool's hand-out costs about a row's work.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(job.N, 1));
  torch_parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) { rows_fn(job, begin, end); });
}

}  // namespace

void add_rel_pos_softmax_(const at::Tensor& scores, const at::Tensor& rel_h, const at::Tensor& rel_w) {
  if (!hand_written_path({&scores, &rel_h, &rel_w})) {  // the same sums in ATen, float32 as here
    at::Tensor s = scores.to(at::kFloat);
    if (rel_h.defined()) {
      const int64_t G = scores.size(0), T = scores.size(1), kh = rel_h.size(2), kw = rel_w.size(2);
      s = (s.view({G, T, kh, kw}) + rel_h.to(at::kFloat).unsqueeze(3) + rel_w.to(at::kFloat).unsqueeze(2))
              .view({G, T, kh * kw});
    }
    scores.copy_(at::softmax(s, -1));
    return;
  }
  require_cpu("add_rel_pos_softmax_", {&scores, &rel_h, &rel_w});
  const auto type = scores.scalar_type();
  bool ok = scores.dim() == 3 && scores.is_contiguous() && (type == at::kFloat || type == at::kBFloat16);
  if (ok && rel_h.defined()) {
    const int64_t G = scores.size(0), T = scores.size(1);
    auto fits = [&](const at::Tensor& rel) {
      return rel.defined() && rel.scalar_type() == type && rel.dim() == 3 && rel.size(0) == G && rel.size(1) == T &&
             rel.stride(2) == 1 && rel.stride(1) == rel.size(2);
    };
    ok = fits(rel_h) && fits(rel_w) && rel_h.size(2) * rel_w.size(2) == scores.size(2);
  }
  if (!ok) fail("add_rel_pos_softmax_", "scores or relative-position terms of an unexpected type or layout");
  if (type == at::kFloat) run<float>(scores, rel_h, rel_w, softmax_rows_float);
  else run<c10::BFloat16>(scores, rel_h, rel_w, softmax_rows_bfloat16);
}

void add_bias_softmax_(const at::Tensor& scores, const at::Tensor& bias, const at::Tensor& mask) {
  if (!hand_written_path({&scores, &bias, &mask})) {
    at::Tensor s = scores + bias;
    if (mask.defined()) s.add_(mask.unsqueeze(1));
    scores.copy_(at::softmax(s, -1));
    return;
  }
  require_cpu("add_bias_softmax_", {&scores, &bias, &mask});
  auto float_contiguous = [](const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.is_contiguous(); };
  const bool ok = scores.dim() == 4 && float_contiguous(scores) && bias.defined() && float_contiguous(bias) &&
                  bias.sizes() == scores.sizes().slice(1) &&
                  (!mask.defined() || (float_contiguous(mask) && mask.dim() == 3 && mask.size(0) == scores.size(0) &&
                                       mask.sizes().slice(1) == scores.sizes().slice(2)));
  if (!ok) fail("add_bias_softmax_", "scores, bias or mask of an unexpected type or shape");
  if (scores.numel() == 0) return;
  Rows<float> job{};
  job.bias = bias.data_ptr<float>();
  job.mask = mask.defined() ? mask.data_ptr<float>() : nullptr;
  job.heads = scores.size(1);
  run<float>(scores.view({-1, scores.size(2), scores.size(3)}), at::Tensor(), at::Tensor(), softmax_rows_float, job);
}

void masked_softmax_(const at::Tensor& scores, const at::Tensor& blocked) {
  if (!blocked.defined()) return softmax_last_dim_(scores);
  if (!hand_written_path({&scores, &blocked})) {
    scores.copy_(at::softmax(scores.masked_fill(blocked, -std::numeric_limits<float>::infinity()), -1));
    return;
  }
  require_cpu("masked_softmax_", {&scores, &blocked});
  if (scores.dim() != 2 || scores.scalar_type() != at::kFloat || !scores.is_contiguous() ||
      blocked.scalar_type() != at::kBool || !blocked.is_contiguous() || blocked.sizes() != scores.sizes())
    fail("masked_softmax_", "needs contiguous float32 scores and a boolean mask of their shape");
  if (scores.numel() == 0) return;
  Rows<float> job{};
  job.blocked = blocked.data_ptr<bool>();
  run<float>(scores.view({1, scores.size(0), scores.size(1)}), at::Tensor(), at::Tensor(), softmax_rows_float, job);
}

void softmax_last_dim_(const at::Tensor& x) {
  if (x.dim() < 1 || !x.is_contiguous()) fail("softmax_last_dim_", "needs a contiguous tensor");
  if (x.numel() == 0) return;
  if (!hand_written_path({&x})) {  // in float32, as here
    x.copy_(at::softmax(x, -1, at::kFloat));
    return;
  }
  add_rel_pos_softmax_(x.view({1, -1, x.size(-1)}), at::Tensor(), at::Tensor());
}

void softmax_across_rows_(const at::Tensor& x) {
  if (!hand_written_path({&x})) {
    x.copy_(at::softmax(x, -2));
    return;
  }
  require_cpu("softmax_across_rows_", {&x});
  if (x.dim() < 2 || !x.is_contiguous() || x.scalar_type() != at::kFloat)
    fail("softmax_across_rows_", "needs a contiguous float32 tensor of at least two dimensions");
  const int64_t N = x.size(-1), R = x.size(-2);
  if (x.numel() == 0) return;
  const int64_t matrices = x.numel() / (R * N);
  // Tasks of 256 columns of one matrix (R×1 kB), enough of them to share between threads.
  constexpr int64_t kColumns = 256;
  const int64_t blocks = (N + kColumns - 1) / kColumns;
  float* data = x.data_ptr<float>();
  torch_parallel_for(0, matrices * blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t m = task / blocks, c0 = task % blocks * kColumns;
      softmax_columns_float(data + m * R * N, R, N, c0, std::min(N, c0 + kColumns));
    }
  });
}

}  // namespace segkit::kernels
