#pragma once
// Reads the data.pkl of a torch.save archive with a restricted pickle interpreter: it
// understands the opcodes a (nested) dict of tensors uses and a short whitelist of globals
// (OrderedDict, torch's tensor/parameter rebuild functions, storage types, dtypes), and it
// never imports or calls anything. Tensors come back as references to storage records
// (`<archive>/data/<key>`) for the caller to resolve and validate.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "segkit/safetensors.h"

namespace segkit {

struct PickledTensor {
  DType dtype = DType::F32;
  std::string storage_key;      // the record data/<storage_key> of the archive
  uint64_t storage_bytes = 0;   // the storage size the pickle declares
  int64_t storage_offset = 0;   // in elements
  std::vector<int64_t> shape, strides;
};

// The tensors of the state dict held by the pickle: the top-level dict, or the dict under
// "state_dict" or "model" (training checkpoints). Entries that are not tensors (or whose keys
// are not strings) are skipped. Error "<context>: ..." on a malformed pickle, an opcode or
// global outside the whitelist, or when there is no dict of tensors.
std::vector<std::pair<std::string, PickledTensor>> read_torch_state_dict_pickle(const uint8_t* data, size_t size,
                                                                               const std::string& context);

}  // namespace segkit
