#pragma once
// What a UNetModel holds, and moving its tensors in and out of safetensors files (shared by the
// checkpoint writer and the training-state writer).
#include <memory>
#include <string>
#include <vector>

#include "models/unet/network.h"
#include "segkit/safetensors.h"
#include "segkit/unet.h"

namespace segkit {

struct UNetModel::Impl {
  explicit Impl(const UNetConfig& c) : config(c), members{std::make_shared<unet::Network>(c)} {}
  Impl(const UNetConfig& c, std::vector<std::shared_ptr<unet::Network>> networks) : config(c), members(std::move(networks)) {}
  UNetConfig config;  // the first member's
  std::string path;   // the checkpoint it was loaded from, "" when made in memory
  // One network, or an ensemble: predictions then average the members' class probabilities.
  std::vector<std::shared_ptr<unet::Network>> members;
  unet::Network& network() const { return *members.front(); }
};

namespace unet {

// The library's access to what UNetModel keeps private.
struct Internals {
  static UNetModel::Impl& of(const UNetModel& model) { return *model.impl_; }
};

// The tensors of `network` as safetensors entries named prefix + state-dict name (borrowed data).
std::vector<TensorRef> state_refs(const Network& network, const std::string& prefix = "");
// Copies prefix + name tensors of `file` into `network`; Error naming the file on a missing,
// misshapen or (when strict) unexpected tensor.
void load_state(Network& network, const SafetensorsFile& file, const std::string& prefix = "", bool strict = true);

}  // namespace unet
}  // namespace segkit
