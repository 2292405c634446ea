#pragma once
// The products of the bfloat16 fused attention on AMX tiles (Intel Xeon from Sapphire Rapids
// on), for CPUs whose tile unit multiplies bfloat16 several times faster than AVX-512 BF16.
#include <cstdint>

#include "kernels/cpu/attention_fused_problem.h"

namespace segkit::kernels::fused {

#if SEGKIT_AMX_KERNELS
// C[rows × cols] = A · B, or C += A · B, in float32 from bfloat16 pairs ("units", as in
// gemm_tiles.h): A has `rows` rows of `depth` units, lda units apart; B is packed
// in panels of 64 columns (the last may be narrower), panel_stride units apart, each `depth`
// unit rows of the panel's width. rows, cols and depth must be multiples of 16; the caller
// has checked cpu_has_amx_bf16().
void amx_product(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t panel_stride, int64_t depth, float* c,
                 int64_t ldc, int64_t rows, int64_t cols, bool accumulate);
#endif

}  // namespace segkit::kernels::fused
