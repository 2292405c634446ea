#pragma once
// A model's weights by parameter name, whatever file they came from: lookups with shape checks
// and a record of what was used, so a loader can report leftovers. Each family translates
// checkpoint names into its own naming before building one (e.g. models/sam/weight_names.h).
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace segkit::nn {

class WeightMap {
 public:
  WeightMap() = default;
  explicit WeightMap(std::string source) : source_(std::move(source)) {}

  void insert(const std::string& name, at::Tensor tensor) { tensors_[name] = std::move(tensor); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Error "source: missing tensor 'name'" when absent; marks the tensor as used.
  const at::Tensor& get(const std::string& name) const;
  // Like get, and checks the shape: Error naming expected and found shapes.
  const at::Tensor& get(const std::string& name, at::IntArrayRef expected_shape) const;
  // Number of entries "prefix<i>..." for i = 0, 1, ... (e.g. blocks in an encoder).
  int count_indexed(const std::string& prefix) const;
  std::set<std::string> unused() const;
  // Every tensor onto `device` (a model loaded for a GPU), before the layers take them.
  void move_to(const at::Device& device);
  const std::string& source() const { return source_; }
  const std::map<std::string, at::Tensor>& all() const { return tensors_; }

 private:
  std::string source_;
  std::map<std::string, at::Tensor> tensors_;
  mutable std::set<std::string> used_;
};

// A checkpoint's weights as a family's reader returns them, with the files their tensors may
// point into (memory maps), which must live as long as those tensors.
struct LoadedWeights {
  WeightMap weights;
  std::vector<std::shared_ptr<const void>> backing_files;
  // The weights onto `device`, before the layers take them; off the host the copies own their
  // memory and the files go.
  void move_to(const at::Device& device);
};

}  // namespace segkit::nn
