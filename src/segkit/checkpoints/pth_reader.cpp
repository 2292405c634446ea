#include "checkpoints/pth_reader.h"

#include "core/mapped_file.h"


#include <cerrno>
#include <cstring>

#include "checkpoints/torch_pickle.h"
#include "checkpoints/zip_directory.h"
#include "segkit/error.h"

namespace segkit {

namespace {

constexpr uint64_t kMaxElements = uint64_t(1) << 62;

bool starts_with(const uint8_t* data, size_t size, const char* prefix, size_t len) {
  return size >= len && std::memcmp(data, prefix, len) == 0;
}

// torch.save before 1.6 wrote a bare pickle stream (starting with the PROTO opcode) and the
// oldest versions a tar file; both need Python to unpickle arbitrary objects.
void refuse_non_zip(const std::string& path, const uint8_t* data, size_t size) {
  if (size == 0) fail(path, "empty file, not a PyTorch checkpoint");
  if (starts_with(data, size, "PK\x03\x04", 4) || starts_with(data, size, "PK\x05\x06", 4)) return;
  const bool pickle = data[0] == 0x80;
  const bool tar = size > 262 && std::memcmp(data + 257, "ustar", 5) == 0;
  if (pickle || tar)
    fail(path, "unsupported legacy format (a pre-1.6 torch.save file); re-save it with torch>=1.6: "
               "torch.save(torch.load(f), f2)");
  fail(path, "not a PyTorch checkpoint (not a zip archive)");
}

// The archive's records live in one folder named after the file torch.save wrote to.
std::string archive_prefix(const std::string& path, const ZipDirectory& dir) {
  std::string found;
  bool torchscript = false;
  for (const auto& kv : dir.entries()) {
    const std::string& name = kv.first;
    const size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    const std::string rest = name.substr(slash + 1);
    if (rest == "data.pkl") {
      if (!found.empty()) fail(path, "zip archive holds more than one data.pkl");
      found = name.substr(0, slash + 1);
    }
    if (rest == "constants.pkl" || rest.compare(0, 5, "code/") == 0) torchscript = true;
  }
  if (found.empty()) {
    if (torchscript)
      fail(path, "is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save");
    fail(path, "not a PyTorch checkpoint (the zip archive has no <name>/data.pkl)");
  }
  return found;
}

void check_byteorder(const std::string& path, const uint8_t* base, const ZipDirectory& dir, const std::string& prefix) {
  const ZipEntry* e = dir.find(prefix + "byteorder");
  if (!e) return;  // written since torch 1.13; older files are little-endian
  const std::string order(reinterpret_cast<const char*>(base + e->offset), e->size);
  if (order != "little") fail(path, "checkpoint was saved with byte order '" + order + "'; only little-endian is supported");
}

PthTensor resolve(const std::string& path, const uint8_t* base, const ZipDirectory& dir, const std::string& prefix,
                  const std::string& name, const PickledTensor& p) {
  const std::string where = "tensor '" + name + "'";
  const std::string record = "data/" + p.storage_key;
  const ZipEntry* e = dir.find(prefix + record);
  if (!e) fail(path, where + ": its storage record " + record + " is missing from the archive");
  if (p.storage_bytes > e->size)
    fail(path, where + ": storage " + record + " should hold " + std::to_string(p.storage_bytes) +
                   " bytes but the archive has " + std::to_string(e->size) + " (truncated or corrupt file?)");
  const uint64_t elem = dtype_size(p.dtype);
  if (p.storage_offset < 0) fail(path, where + " has a negative storage offset");
  uint64_t numel = 1, last = static_cast<uint64_t>(p.storage_offset);
  for (size_t d = 0; d < p.shape.size(); ++d) {
    if (p.shape[d] < 0 || p.strides[d] < 0) fail(path, where + " has a negative size or stride");
    const uint64_t size = static_cast<uint64_t>(p.shape[d]), stride = static_cast<uint64_t>(p.strides[d]);
    if (size != 0 && numel > kMaxElements / size) fail(path, where + " is impossibly large");
    numel *= size;
    if (size > 1 && stride > (kMaxElements - last) / (size - 1)) fail(path, where + " has impossibly large strides");
    if (size > 1) last += (size - 1) * stride;
  }
  const uint64_t offset_bytes = static_cast<uint64_t>(p.storage_offset) * elem;
  const uint64_t needed = numel == 0 ? offset_bytes : (last + 1) * elem;
  if (last >= kMaxElements / elem || needed > p.storage_bytes)
    fail(path, where + " addresses " + std::to_string(needed) + " bytes of storage " + record + " which holds only " +
                   std::to_string(p.storage_bytes));
  PthTensor t;
  t.dtype = p.dtype;
  t.shape = p.shape;
  t.strides = p.strides;
  t.data = base + e->offset + offset_bytes;
  t.bytes_available = static_cast<size_t>(p.storage_bytes - offset_bytes);
  return t;
}

}  // namespace

PthFile::~PthFile() = default;

std::shared_ptr<const PthFile> PthFile::open(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const uint8_t* data = file->data();
  const size_t size = file->size();
  return from_memory(std::move(file), data, size, path);
}

std::shared_ptr<const PthFile> PthFile::from_memory(std::shared_ptr<const void> owner, const uint8_t* base,
                                                    size_t size, const std::string& path) {
  std::shared_ptr<PthFile> f(new PthFile());
  f->path_ = path;
  f->owner_ = std::move(owner);

  refuse_non_zip(path, base, size);
  const ZipDirectory dir = ZipDirectory::read(base, size, path);
  const std::string prefix = archive_prefix(path, dir);
  check_byteorder(path, base, dir, prefix);
  const ZipEntry* pickle = dir.find(prefix + "data.pkl");
  const auto pickled = read_torch_state_dict_pickle(base + pickle->offset, pickle->size, path);
  for (const auto& kv : pickled) f->tensors_[kv.first] = resolve(path, base, dir, prefix, kv.first, kv.second);
  return f;
}

const PthTensor& PthFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, "no tensor '" + name + "'");
  return it->second;
}

int64_t numel(const PthTensor& t) {
  int64_t n = 1;
  for (int64_t s : t.shape) n *= s;
  return n;
}

bool is_contiguous(const PthTensor& t) {
  int64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] == 0) return true;
    if (t.shape[d] != 1 && t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

}  // namespace segkit
