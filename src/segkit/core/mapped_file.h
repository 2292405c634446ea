#pragma once
// A read-only memory map of a whole file: checkpoints and tensor files are read in place,
// without copying gigabytes into the heap.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace segkit {

class MappedFile {
 public:
  // Error "path: cannot open: ..." / "not a regular file" / "cannot map: ...". An empty file
  // maps to size() == 0 and data() == nullptr.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(map_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
};

// Asks the kernel to take the whole pages inside [data, data + bytes) out of this process's
// resident memory (MADV_PAGEOUT): for a read-only file map, such as float32 weights converted to
// bfloat16 and no longer read, the pages are dropped and come back from the file if read again.
// Memory of any other kind keeps its contents. A no-op where the kernel lacks the advice.
void release_pages(const void* data, size_t bytes);

}  // namespace segkit
