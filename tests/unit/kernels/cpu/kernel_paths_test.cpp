// Every hand-written kernel path this CPU has, one after another on one machine (core/
// cpu_features.h limit_cpu_kernels): the portable path (ATen and oneDNN alone), AVX-512, AVX-512
// BF16 and AMX. Each must reproduce upstream's embeddings in float32 and keep bf16's promise.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "sam_fixtures.h"
#include "segkit/sam.h"
#include "test_util.h"

using namespace segkit;
using core::CpuKernels;

namespace {

const char* name(CpuKernels k) {
  switch (k) {
    case CpuKernels::portable: return "portable";
    case CpuKernels::avx512: return "avx512";
    case CpuKernels::avx512_bf16: return "avx512_bf16";
    case CpuKernels::amx_bf16: return "amx_bf16";
  }
  return "?";
}

std::vector<CpuKernels> paths_of_this_cpu() {
  std::vector<CpuKernels> paths;
  for (int k = 0; k <= int(core::cpu_kernels_available()); ++k) paths.push_back(CpuKernels(k));
  return paths;
}

SamEmbedding embed(const std::shared_ptr<const SamModel>& model, const Image& image) {
  SamPredictor predictor(model);
  predictor.set_image(image);
  return predictor.embedding();
}

}  // namespace

TEST(KernelPaths, EveryPathReproducesUpstreamEmbeddingsInFloat32) {
  auto model = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  for (const CpuKernels path : paths_of_this_cpu()) {
    const test::KernelCeiling ceiling(path);
    for (const auto& entry : test::sam_case_index()) {
      auto f = test::sam_case_file(entry["image"]);
      const SamEmbedding e = embed(model, test::sam_case_image(*f));
      const std::vector<float> want = f->to_float("image_embeddings");
      ASSERT_EQ(e.data.size(), want.size());
      EXPECT_LT(test::relative_l2(e.data.data(), want.data(), want.size()), 1e-4) << name(path) << " " << entry["image"];
    }
  }
}

TEST(KernelPaths, EveryPathKeepsBf16WithinItsPromise) {
  LoadOptions bf16_options;
  bf16_options.warn_unused = false;
  bf16_options.precision = Precision::Bf16;
  auto fp32 = SamModel::load(test::sam_tiny_hf(), segkit::test::quiet_load_options());
  auto bf16 = SamModel::load(test::sam_tiny_hf(), bf16_options);
  for (const CpuKernels path : paths_of_this_cpu()) {
    const test::KernelCeiling ceiling(path);
    for (const auto& entry : test::sam_case_index()) {
      const Image image = test::sam_case_image(*test::sam_case_file(entry["image"]));
      const SamEmbedding a = embed(fp32, image), b = embed(bf16, image);
      const double error = test::relative_l2(b.data.data(), a.data.data(), a.data.size());
      EXPECT_GT(error, 0.0) << name(path) << ": bf16 should differ from fp32 at all";
      EXPECT_LT(error, 0.05) << name(path) << " " << entry["image"];
    }
  }
}
