#pragma once
// The table of contents of an uncompressed ZIP archive held in memory (a memory-mapped
// file): where each entry's bytes are. Only what torch.save writes is supported: stored
// (uncompressed) entries, one disk, with or without ZIP64 records. Nothing is decompressed
// and nothing is copied; entries are byte ranges of the caller's buffer.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace segkit {

struct ZipEntry {
  uint64_t offset = 0;  // of the entry's data in the archive
  uint64_t size = 0;
};

class ZipDirectory {
 public:
  // Validates the whole directory (record signatures, sizes, every entry's local header and
  // data range against the buffer); Error "<context>: ..." on anything malformed, truncated,
  // encrypted or compressed.
  static ZipDirectory read(const uint8_t* data, size_t size, const std::string& context);

  const ZipEntry* find(const std::string& name) const;
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }

 private:
  std::map<std::string, ZipEntry> entries_;
};

}  // namespace segkit
