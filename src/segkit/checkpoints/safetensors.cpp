#include "segkit/safetensors.h"


#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "core/mapped_file.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace segkit {

namespace {

struct DTypeInfo {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

size_t dtype_size(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.size;
  return 0;
}

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.name;
  return "?";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

SafetensorsFile::~SafetensorsFile() = default;

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const uint8_t* data = file->data();
  const size_t size = file->size();
  return from_memory(std::move(file), data, size, path);
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::from_memory(std::shared_ptr<const void> owner,
                                                                    const uint8_t* bytes, size_t file_size,
                                                                    const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->owner_ = std::move(owner);
  const uint64_t size = file_size;
  if (size < 8) fail(path, "not a safetensors file (shorter than its 8-byte header length)");

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    fail(path, "not a safetensors file (header length " + std::to_string(header_len) +
                   " exceeds the file size " + std::to_string(size) + ")");
  nlohmann::json header;
  try {
    const char* text = reinterpret_cast<const char*>(bytes + 8);
    header = parse_json(text, text + header_len, path);
  } catch (const Error&) {
    fail(path, "not a safetensors file (header is not valid JSON)");
  }
  if (!header.is_object()) fail(path, "not a safetensors file (header is not a JSON object)");

  const uint64_t data_size = size - 8 - header_len;
  const uint8_t* data = bytes + 8 + header_len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value '" + m.key() + "' is not a string");
        f->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() || !entry["shape"].is_array() ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      fail(path, where + " has a malformed header entry");
    TensorView view;
    const std::string dt = entry["dtype"].get<std::string>();
    bool known = false;
    for (const auto& d : kDTypes)
      if (dt == d.name) { view.dtype = d.type; known = true; }
    if (!known) fail(path, where + " has unsupported dtype " + dt);
    // Each dimension and the byte count must fit in int64 (torch's sizes) without wrapping:
    // a wrapped product could make a huge shape look like a few bytes of data.
    constexpr uint64_t kMaxBytes = uint64_t(1) << 62;
    uint64_t numel = 1;
    bool empty = false;
    for (const auto& s : entry["shape"]) {
      if (!s.is_number_unsigned()) fail(path, where + " has a negative or non-integer dimension");
      const uint64_t d = s.get<uint64_t>();
      if (d > kMaxBytes) fail(path, where + " is impossibly large");
      if (d == 0) empty = true;
      else if (numel > kMaxBytes / d) fail(path, where + " is impossibly large");
      else numel *= d;
      view.shape.push_back(static_cast<int64_t>(d));
    }
    if (numel > kMaxBytes / dtype_size(view.dtype)) fail(path, where + " is impossibly large");
    if (empty) numel = 0;
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, where + " has invalid data_offsets");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail(path, where + " has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     "] outside the data (" + std::to_string(data_size) + " bytes; file truncated?)");
    if (end - begin != numel * dtype_size(view.dtype))
      fail(path, where + " byte size " + std::to_string(end - begin) + " does not match its shape and dtype");
    view.data = data + begin;
    view.nbytes = end - begin;
    if (view.nbytes) ranges.emplace_back(begin, end);
    f->tensors_[name] = std::move(view);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(path, "tensor data ranges overlap");
  return f;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, "no tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

std::vector<float> SafetensorsFile::to_float(const std::string& name) const {
  const TensorView& v = get(name);
  const size_t n = static_cast<size_t>(v.numel());
  std::vector<float> out(n);
  switch (v.dtype) {
    case DType::F32:
      if (n > 0) std::memcpy(out.data(), v.data, n * 4);  // an empty vector's data() may be null
      break;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, v.data + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      break;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        uint32_t bits = uint32_t(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
      break;
    default:
      fail(path_, "tensor '" + name + "' has dtype " + dtype_name(v.dtype) + ", expected a float type");
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // nlohmann::ordered_json keeps the tensors in the order given, as PyTorch's writer does.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t numel = 1;
    for (int64_t s : t.shape) numel *= static_cast<uint64_t>(s);
    uint64_t nbytes = numel * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(path, std::string("cannot write: ") + std::strerror(errno));
    uint64_t len = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(len >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors) {
      uint64_t numel = 1;
      for (int64_t s : t.shape) numel *= static_cast<uint64_t>(s);
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(numel * dtype_size(t.dtype)));
    }
    out.flush();
    if (!out) fail(path, "cannot write (disk full?)");
  });
}

}  // namespace segkit
