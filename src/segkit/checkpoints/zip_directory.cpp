#include "checkpoints/zip_directory.h"

#include "segkit/error.h"

namespace segkit {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr size_t kEndSize = 22, kEnd64LocatorSize = 20, kEnd64Size = 56;
constexpr size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;
constexpr size_t kMaxCommentSize = 0xffff;

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Bounds-checked little-endian reads over the archive buffer.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& context) : d_(data), n_(size), ctx_(context) {}
  bool fits(uint64_t pos, uint64_t len) const { return pos <= n_ && len <= n_ - pos; }
  void need(uint64_t pos, uint64_t len, const char* what) const {
    if (!fits(pos, len)) fail(ctx_, std::string("truncated or corrupt zip archive (") + what + " lies outside the file)");
  }
  uint64_t u(uint64_t pos, int bytes) const { return le(d_ + pos, bytes); }
  const uint8_t* at(uint64_t pos) const { return d_ + pos; }
  size_t size() const { return n_; }
  const std::string& ctx() const { return ctx_; }

 private:
  const uint8_t* d_;
  size_t n_;
  const std::string& ctx_;
};

// The end-of-central-directory record is the last thing in the file, followed only by a
// comment of at most 64 KiB; scan backwards for a signature whose comment length fits.
uint64_t find_end_record(const Reader& r) {
  if (r.size() < kEndSize)
    fail(r.ctx(), "truncated or not a zip archive (too short for an end-of-central-directory record)");
  const uint64_t last = r.size() - kEndSize;
  const uint64_t first = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (r.u(pos, 4) == kEndSig && pos + kEndSize + r.u(pos + 20, 2) == r.size()) return pos;
  }
  fail(r.ctx(), "truncated or not a zip archive (no end-of-central-directory record)");
}

struct CentralInfo {
  uint64_t entries, size, offset;
};

CentralInfo read_central_info(const Reader& r, uint64_t end) {
  CentralInfo info{r.u(end + 10, 2), r.u(end + 12, 4), r.u(end + 16, 4)};
  if (r.u(end + 4, 2) != 0 || r.u(end + 6, 2) != 0 || r.u(end + 8, 2) != info.entries)
    fail(r.ctx(), "multi-volume zip archives are not supported");
  // ZIP64: a locator right before the classic record points at the 64-bit record.
  if (end >= kEnd64LocatorSize && r.u(end - kEnd64LocatorSize, 4) == kEnd64LocatorSig) {
    const uint64_t loc = end - kEnd64LocatorSize;
    const uint64_t rec = r.u(loc + 8, 8);
    r.need(rec, kEnd64Size, "the zip64 end-of-central-directory record");
    if (r.u(rec, 4) != kEnd64Sig) fail(r.ctx(), "corrupt zip archive (bad zip64 end-of-central-directory record)");
    if (r.u(rec + 16, 4) != 0 || r.u(rec + 20, 4) != 0 || r.u(rec + 24, 8) != r.u(rec + 32, 8))
      fail(r.ctx(), "multi-volume zip archives are not supported");
    info = {r.u(rec + 32, 8), r.u(rec + 40, 8), r.u(rec + 48, 8)};
  } else if (info.entries == 0xffff || info.size == 0xffffffff || info.offset == 0xffffffff) {
    fail(r.ctx(), "corrupt zip archive (zip64 sizes announced but no zip64 record)");
  }
  r.need(info.offset, info.size, "the central directory");
  if (info.offset + info.size > end) fail(r.ctx(), "corrupt zip archive (central directory overlaps its end record)");
  return info;
}

// Replaces the 32-bit fields that are saturated (0xffffffff) with their ZIP64 extra values,
// which appear in a fixed order and only when saturated.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, uint64_t& uncompressed,
                       uint64_t& compressed, uint64_t& local_offset, const std::string& name) {
  const uint64_t end = extra + extra_len;
  while (extra + 4 <= end) {
    const uint64_t id = r.u(extra, 2), len = r.u(extra + 2, 2);
    if (extra + 4 + len > end) fail(r.ctx(), "corrupt zip archive (bad extra field of entry " + name + ")");
    if (id == kZip64ExtraId) {
      uint64_t p = extra + 4;
      const uint64_t stop = p + len;
      for (uint64_t* field : {&uncompressed, &compressed, &local_offset}) {
        if (*field != 0xffffffff) continue;
        if (p + 8 > stop) fail(r.ctx(), "corrupt zip archive (short zip64 field of entry " + name + ")");
        *field = r.u(p, 8);
        p += 8;
      }
      return;
    }
    extra += 4 + len;
  }
}

}  // namespace

ZipDirectory ZipDirectory::read(const uint8_t* data, size_t size, const std::string& context) {
  Reader r(data, size, context);
  const uint64_t end = find_end_record(r);
  const CentralInfo info = read_central_info(r, end);

  ZipDirectory dir;
  uint64_t pos = info.offset;
  const uint64_t cd_end = info.offset + info.size;
  for (uint64_t i = 0; i < info.entries; ++i) {
    if (pos + kCentralHeaderSize > cd_end || r.u(pos, 4) != kCentralHeaderSig)
      fail(context, "corrupt zip archive (bad central directory entry " + std::to_string(i) + ")");
    const uint64_t flags = r.u(pos + 8, 2), method = r.u(pos + 10, 2);
    uint64_t compressed = r.u(pos + 20, 4), uncompressed = r.u(pos + 24, 4);
    const uint64_t name_len = r.u(pos + 28, 2), extra_len = r.u(pos + 30, 2), comment_len = r.u(pos + 32, 2);
    uint64_t local = r.u(pos + 42, 4);
    const uint64_t next = pos + kCentralHeaderSize + name_len + extra_len + comment_len;
    if (next > cd_end) fail(context, "corrupt zip archive (central directory entry " + std::to_string(i) + " overruns it)");
    const std::string name(reinterpret_cast<const char*>(r.at(pos + kCentralHeaderSize)), name_len);
    apply_zip64_extra(r, pos + kCentralHeaderSize + name_len, extra_len, uncompressed, compressed, local, name);

    if (flags & 1) fail(context, "zip entry " + name + " is encrypted");
    if (method != 0)
      fail(context, "zip entry " + name + " is compressed (method " + std::to_string(method) +
                        "); only uncompressed archives as written by torch.save are supported");
    if (compressed != uncompressed)
      fail(context, "corrupt zip archive (stored entry " + name + " has different packed and unpacked sizes)");

    r.need(local, kLocalHeaderSize, "a local file header");
    if (r.u(local, 4) != kLocalHeaderSig) fail(context, "corrupt zip archive (bad local header of entry " + name + ")");
    const uint64_t local_name_len = r.u(local + 26, 2), local_extra_len = r.u(local + 28, 2);
    r.need(local + kLocalHeaderSize, local_name_len, "a local file name");
    if (local_name_len != name_len ||
        name.compare(0, name_len, reinterpret_cast<const char*>(r.at(local + kLocalHeaderSize)), name_len) != 0)
      fail(context, "corrupt zip archive (local and central names of entry " + name + " differ)");
    ZipEntry entry;
    entry.offset = local + kLocalHeaderSize + local_name_len + local_extra_len;
    entry.size = uncompressed;
    if (!r.fits(entry.offset, entry.size) || entry.offset + entry.size > info.offset)
      fail(context, "truncated or corrupt zip archive (data of entry " + name + " lies outside the file)");
    if (!dir.entries_.emplace(name, entry).second) fail(context, "corrupt zip archive (duplicate entry " + name + ")");
    pos = next;
  }
  return dir;
}

const ZipEntry* ZipDirectory::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace segkit
