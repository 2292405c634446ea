#include "nn/weight_map.h"

#include <sstream>

#include "segkit/error.h"

namespace segkit::nn {

namespace {
std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
}  // namespace

const at::Tensor& WeightMap::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(source_, "missing tensor '" + name + "'");
  used_.insert(name);
  return it->second;
}

const at::Tensor& WeightMap::get(const std::string& name, at::IntArrayRef expected) const {
  const at::Tensor& t = get(name);
  if (t.sizes() != expected)
    fail(source_, "tensor '" + name + "' has shape " + shape_str(t.sizes()) + ", expected " + shape_str(expected));
  return t;
}

int WeightMap::count_indexed(const std::string& prefix) const {
  int n = 0;
  while (true) {
    std::string p = prefix + std::to_string(n) + ".";
    auto it = tensors_.lower_bound(p);
    if (it == tensors_.end() || !starts_with(it->first, p)) return n;
    ++n;
  }
}

void WeightMap::move_to(const at::Device& device) {
  for (auto& entry : tensors_)
    if (entry.second.device() != device) entry.second = entry.second.to(device);
}

void LoadedWeights::move_to(const at::Device& device) {
  weights.move_to(device);
  if (!device.is_cpu()) backing_files.clear();
}

std::set<std::string> WeightMap::unused() const {
  std::set<std::string> out;
  for (const auto& kv : tensors_)
    if (!used_.count(kv.first)) out.insert(kv.first);
  return out;
}

}  // namespace segkit::nn
