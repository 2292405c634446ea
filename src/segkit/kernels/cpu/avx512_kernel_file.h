#pragma once
// The opening of a kernel file with hand-vectorised AVX-512 code, to include where the file has
// checked for x86-64 and GCC or clang: the intrinsics, segkit's vector helpers, and the GCC
// warnings AVX-512 code trips turned off for the rest of the including file. GCC 12's AVX-512
// headers make "undefined" vectors by self-assignment, which its own (maybe-)uninitialized
// checks then report; -Wpsabi notes the vector arguments of target-attributed helpers, which
// never cross a translation unit.
#include <immintrin.h>

#include "kernels/cpu/avx512_bfloat16.h"
#include "kernels/cpu/avx512_exp.h"
#include "kernels/cpu/avx512_mask.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
