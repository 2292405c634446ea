#pragma once
// Reading and writing the safetensors format (8-byte little-endian header length, a JSON
// header with dtype/shape/data_offsets per tensor, then raw little-endian data).
// Files are memory-mapped for reading: opening a large checkpoint copies nothing.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace segkit {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // safetensors spelling: "F32", "U8", ...

struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // valid while the owning SafetensorsFile lives
  size_t nbytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Error names the file and the problem (missing, truncated, bad header, bad offsets...).
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  // The same checks over bytes already in memory (an upload, a fuzzer's input). `owner` keeps
  // data alive for as long as the returned file; `name` stands for the path in messages.
  static std::shared_ptr<const SafetensorsFile> from_memory(std::shared_ptr<const void> owner, const uint8_t* data,
                                                            size_t size, const std::string& name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Error "file: no tensor 'name'" when absent.
  const TensorView& get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies a tensor out as float32 (from F32/F16/BF16/F64); Error on other dtypes.
  std::vector<float> to_float(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<const void> owner_;  // the mapped file or buffer the views point into
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write; data is borrowed for the duration of the call.
struct TensorRef {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
};

// Writes atomically (temporary file + rename). Tensors are stored in the order given.
void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace segkit
