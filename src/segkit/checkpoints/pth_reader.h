#pragma once
// Reading PyTorch checkpoints written by torch.save (>= 1.6, the zip format): a state dict of
// tensors, at the top level or under "model"/"state_dict". The file is memory-mapped and its
// pickle is read by a restricted interpreter that never executes code (see torch_pickle.h).
// Legacy (pre-1.6) pickle files and TorchScript archives are refused with a clear message.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "segkit/safetensors.h"

namespace segkit {

struct PthTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape, strides;  // strides in elements, as torch reports them
  const uint8_t* data = nullptr;        // first element (storage offset applied); valid while the PthFile lives
  size_t bytes_available = 0;           // from data to the end of its storage
};

class PthFile {
 public:
  // Error naming the file on anything missing, truncated, malformed or unsupported. Every
  // tensor's shape, strides and offset are checked against its storage and the storage
  // against the archive, so any element a tensor addresses lies inside the file.
  static std::shared_ptr<const PthFile> open(const std::string& path);
  // The same checks over bytes already in memory; `owner` keeps data alive as long as the
  // returned file, `name` stands for the path in messages.
  static std::shared_ptr<const PthFile> from_memory(std::shared_ptr<const void> owner, const uint8_t* data,
                                                    size_t size, const std::string& name);
  ~PthFile();
  PthFile(const PthFile&) = delete;
  PthFile& operator=(const PthFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, PthTensor>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Error "file: no tensor 'name'" when absent.
  const PthTensor& get(const std::string& name) const;

 private:
  PthFile() = default;
  std::string path_;
  std::shared_ptr<const void> owner_;  // the mapped file or buffer the tensors point into
  std::map<std::string, PthTensor> tensors_;
};

// True when the tensor's elements are laid out densely in row-major order (no copy needed).
bool is_contiguous(const PthTensor& t);
int64_t numel(const PthTensor& t);

}  // namespace segkit
