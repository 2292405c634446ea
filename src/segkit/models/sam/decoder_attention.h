#pragma once
// The mask decoder's multi-head attention (upstream transformer.py Attention, with its optional
// down-projected inner width).
#include <ATen/core/Tensor.h>

#include <string>

#include "nn/layers.h"

namespace segkit::sam {

struct Attention {
  nn::Linear q_proj, k_proj, v_proj, out_proj;
  int heads = 8;
  static Attention load(const nn::WeightMap& w, const std::string& prefix, int heads);
  // q: Bq×Nq×C, k and v: Bk×Nk×C, where a batch of 1 on either side is shared by every prompt.
  at::Tensor operator()(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) const;

 private:
  at::Tensor project_all(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const;
  at::Tensor fold_into_queries(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const;
  at::Tensor fold_into_keys(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) const;
};

}  // namespace segkit::sam
