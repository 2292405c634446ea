// PthFile: torch.save zip checkpoints read without executing pickle code. The real fixture
// (saved by torch) must match the same weights in safetensors; hand-made archives exercise
// the pickle and zip features torch uses, and malformed ones must be refused cleanly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "checkpoints/pth_reader.h"
#include "segkit/error.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace {

using segkit::PthFile;
using segkit::test::TempDir;
using Bytes = std::string;

const std::string kTinyPth = segkit::test::data_path("sam-tiny/original/sam_tiny.pth");
const std::string kTinySafetensors = segkit::test::data_path("sam-tiny/hf/model.safetensors");

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

void put_le(Bytes& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ---- a minimal pickle writer, protocol 2, the way torch.save spells a state dict ----------
struct Pickle {
  Bytes b = Bytes("\x80\x02", 2);
  Pickle& op(char c) { b.push_back(c); return *this; }
  Pickle& str(const std::string& s) { op('X'); put_le(b, s.size(), 4); b += s; return *this; }
  Pickle& integer(int64_t v) { op('J'); put_le(b, static_cast<uint64_t>(v), 4); return *this; }
  Pickle& global(const std::string& module, const std::string& name) {
    op('c');
    b += module + "\n" + name + "\n";
    return *this;
  }
  Pickle& ints(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) integer(x);
    return op('t');
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& storage_type, const std::string& key, int64_t numel, int64_t offset,
                 const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).op('t').op('Q');
    integer(offset).ints(shape).ints(strides).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  Bytes done() { return b + "."; }
};

// ---- a minimal zip writer: stored entries, optionally with zip64 records ------------------
Bytes make_zip(const std::vector<std::pair<std::string, Bytes>>& entries, bool zip64 = false,
               uint16_t method = 0) {
  Bytes out, central;
  for (const auto& [name, data] : entries) {
    const uint64_t local = out.size();
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2); put_le(out, 0, 2); put_le(out, method, 2); put_le(out, 0, 4);
    put_le(out, 0, 4);  // crc (not checked)
    put_le(out, zip64 ? 0xffffffff : data.size(), 4);
    put_le(out, zip64 ? 0xffffffff : data.size(), 4);
    put_le(out, name.size(), 2);
    put_le(out, zip64 ? 20 : 0, 2);
    out += name;
    if (zip64) { put_le(out, 1, 2); put_le(out, 16, 2); put_le(out, data.size(), 8); put_le(out, data.size(), 8); }
    out += data;

    put_le(central, 0x02014b50, 4);
    put_le(central, 45, 2); put_le(central, 45, 2); put_le(central, 0, 2); put_le(central, method, 2);
    put_le(central, 0, 4); put_le(central, 0, 4);
    put_le(central, zip64 ? 0xffffffff : data.size(), 4);
    put_le(central, zip64 ? 0xffffffff : data.size(), 4);
    put_le(central, name.size(), 2);
    put_le(central, zip64 ? 28 : 0, 2);
    put_le(central, 0, 2); put_le(central, 0, 2); put_le(central, 0, 2); put_le(central, 0, 4);
    put_le(central, zip64 ? 0xffffffff : local, 4);
    central += name;
    if (zip64) {
      put_le(central, 1, 2); put_le(central, 24, 2);
      put_le(central, data.size(), 8); put_le(central, data.size(), 8); put_le(central, local, 8);
    }
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t rec = out.size();
    put_le(out, 0x06064b50, 4); put_le(out, 44, 8); put_le(out, 45, 2); put_le(out, 45, 2);
    put_le(out, 0, 4); put_le(out, 0, 4);
    put_le(out, entries.size(), 8); put_le(out, entries.size(), 8);
    put_le(out, central.size(), 8); put_le(out, cd_offset, 8);
    put_le(out, 0x07064b50, 4); put_le(out, 0, 4); put_le(out, rec, 8); put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4); put_le(out, 0, 2); put_le(out, 0, 2);
  put_le(out, zip64 ? 0xffff : entries.size(), 2); put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffffffff : central.size(), 4); put_le(out, zip64 ? 0xffffffff : cd_offset, 4);
  put_le(out, 0, 2);
  return out;
}

Bytes floats(const std::vector<float>& v) { return Bytes(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

// A training checkpoint: {"epoch": 3, "model": OrderedDict(state dict) with _metadata,
// "optimizer": {...}} with a strided view, a parameter and a shared storage.
Bytes training_checkpoint_pickle() {
  Pickle p;
  p.op('}').op('(');
  p.str("epoch").integer(3);
  p.str("lr").op('G').b += Bytes("\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc", 8);
  p.str("model").global("collections", "OrderedDict").op(')').op('R').op('(');
  p.str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.str("w_t").tensor("FloatStorage", "0", 6, 1, {2, 2}, {1, 3});  // transposed view at offset 1
  p.str("p").global("torch._utils", "_rebuild_parameter");
  p.op('(').tensor("LongStorage", "1", 2, 0, {2}, {1}).op('\x88').global("collections", "OrderedDict");
  p.op(')').op('R').op('t').op('R');
  p.str("scalar").tensor("HalfStorage", "2", 1, 0, {}, {});
  p.str("not_a_tensor").op('N');
  p.op('u');
  p.op('}').str("_metadata").op('}').op('s').op('b');  // BUILD with the module metadata
  p.str("optimizer").op('}').str("param_groups").op(']').op('(').op('}').op('e').op('s');
  p.op('u');
  return p.done();
}

Bytes training_checkpoint(bool zip64 = false) {
  std::vector<int64_t> longs = {-5, 1ll << 40};
  const uint16_t half_one = 0x3c00;
  return make_zip({{"ckpt/data.pkl", training_checkpoint_pickle()},
                   {"ckpt/byteorder", "little"},
                   {"ckpt/data/0", floats({0, 1, 2, 3, 4, 5})},
                   {"ckpt/data/1", Bytes(reinterpret_cast<const char*>(longs.data()), 16)},
                   {"ckpt/data/2", Bytes(reinterpret_cast<const char*>(&half_one), 2)},
                   {"ckpt/version", "3\n"}},
                  zip64);
}

float float_at(const segkit::PthTensor& t, std::vector<int64_t> index) {
  int64_t off = 0;
  for (size_t d = 0; d < index.size(); ++d) off += index[d] * t.strides[d];
  float f;
  std::memcpy(&f, t.data + off * 4, 4);
  return f;
}

std::string open_error(const std::string& path) {
  try {
    PthFile::open(path);
  } catch (const segkit::Error& e) {
    return e.what();
  }
  return "";
}

std::string open_error_bytes(const Bytes& bytes) {
  TempDir dir;
  write_bytes(dir.file("x.pth"), bytes);
  const std::string err = open_error(dir.file("x.pth"));
  EXPECT_NE(err.find(dir.file("x.pth")), std::string::npos) << err;  // names the file
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;             // one line
  return err;
}

TEST(PthReader, TinySamMatchesSafetensorsWeights) {
  auto pth = PthFile::open(kTinyPth);
  auto st = segkit::SafetensorsFile::open(kTinySafetensors);
  EXPECT_EQ(pth->path(), kTinyPth);
  EXPECT_GE(pth->tensors().size(), 180u);
  // Official name -> transformers name for the same weights.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"image_encoder.pos_embed", "vision_encoder.pos_embed"},
      {"image_encoder.patch_embed.proj.weight", "vision_encoder.patch_embed.projection.weight"},
      {"image_encoder.blocks.0.attn.qkv.weight", "vision_encoder.layers.0.attn.qkv.weight"},
      {"image_encoder.blocks.2.attn.rel_pos_h", "vision_encoder.layers.2.attn.rel_pos_h"},
      {"image_encoder.blocks.1.norm1.bias", "vision_encoder.layers.1.layer_norm1.bias"},
      {"image_encoder.neck.2.weight", "vision_encoder.neck.conv2.weight"},
      {"prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", "shared_image_embedding.positional_embedding"},
      {"mask_decoder.iou_token.weight", "mask_decoder.iou_token.weight"},
      // transformers renumbers the MLP heads: layers.0 / 1 / 2 -> proj_in / layers.0 / proj_out.
      {"mask_decoder.output_hypernetworks_mlps.0.layers.0.weight", "mask_decoder.output_hypernetworks_mlps.0.proj_in.weight"},
      {"mask_decoder.output_hypernetworks_mlps.3.layers.1.weight", "mask_decoder.output_hypernetworks_mlps.3.layers.0.weight"},
      {"mask_decoder.iou_prediction_head.layers.2.bias", "mask_decoder.iou_prediction_head.proj_out.bias"},
      {"mask_decoder.transformer.layers.0.self_attn.q_proj.weight",
       "mask_decoder.transformer.layers.0.self_attn.q_proj.weight"},
  };
  for (const auto& [official, hf] : pairs) {
    SCOPED_TRACE(official);
    const segkit::PthTensor& a = pth->get(official);
    const segkit::TensorView& b = st->get(hf);
    EXPECT_EQ(a.dtype, segkit::DType::F32);
    EXPECT_EQ(a.shape, b.shape);
    ASSERT_TRUE(segkit::is_contiguous(a));
    ASSERT_GE(a.bytes_available, b.nbytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, b.nbytes), 0);
  }
  EXPECT_EQ(pth->get("image_encoder.pos_embed").shape, (std::vector<int64_t>{1, 16, 16, 48}));
  EXPECT_EQ(pth->get("image_encoder.pos_embed").strides, (std::vector<int64_t>{12288, 768, 48, 1}));
  EXPECT_TRUE(pth->contains("mask_decoder.iou_token.weight"));
  EXPECT_THROW(pth->get("no.such.tensor"), segkit::Error);

  // Every tensor torch wrote is in bounds and, where transformers kept the name (outside the
  // renumbered MLP heads), equal.
  int same_name = 0;
  for (const auto& [name, t] : pth->tensors()) {
    EXPECT_GE(t.bytes_available, static_cast<size_t>(segkit::numel(t)) * segkit::dtype_size(t.dtype)) << name;
    const bool mlp_head = name.find("mlps.") != std::string::npos || name.find("iou_prediction_head.") != std::string::npos;
    if (mlp_head || !st->contains(name)) continue;
    const auto& v = st->get(name);
    ASSERT_EQ(t.shape, v.shape) << name;
    EXPECT_EQ(std::memcmp(t.data, v.data, v.nbytes), 0) << name;
    ++same_name;
  }
  EXPECT_GE(same_name, 40);
}

TEST(PthReader, ReadsNestedTrainingCheckpointWithViewsAndParameters) {
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip");
    TempDir dir;
    write_bytes(dir.file("ckpt.pth"), training_checkpoint(zip64));
    auto f = PthFile::open(dir.file("ckpt.pth"));
    ASSERT_EQ(f->tensors().size(), 4u);  // not_a_tensor, epoch, optimizer... skipped

    const auto& w = f->get("w");
    EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_TRUE(segkit::is_contiguous(w));
    EXPECT_EQ(w.bytes_available, 24u);
    EXPECT_EQ(float_at(w, {1, 2}), 5.0f);

    const auto& wt = f->get("w_t");
    EXPECT_FALSE(segkit::is_contiguous(wt));
    EXPECT_EQ(wt.data, w.data + 4);  // storage offset applied, storage shared
    EXPECT_EQ(wt.bytes_available, 20u);
    EXPECT_EQ(float_at(wt, {0, 1}), 4.0f);
    EXPECT_EQ(float_at(wt, {1, 0}), 2.0f);

    const auto& p = f->get("p");
    EXPECT_EQ(p.dtype, segkit::DType::I64);
    int64_t second;
    std::memcpy(&second, p.data + 8, 8);
    EXPECT_EQ(second, 1ll << 40);

    const auto& s = f->get("scalar");
    EXPECT_EQ(s.dtype, segkit::DType::F16);
    EXPECT_TRUE(s.shape.empty());
    EXPECT_EQ(segkit::numel(s), 1);
  }
}

TEST(PthReader, RefusesForbiddenGlobals) {
  // The classic exploit: os.system('...') via REDUCE; and the same through STACK_GLOBAL.
  Pickle direct;
  direct.global("os", "system").str("echo pwned").op('\x85').op('R');
  std::string err = open_error_bytes(make_zip({{"a/data.pkl", direct.done()}}));
  EXPECT_NE(err.find("refusing to load pickle global os.system (only tensor state dicts are supported)"),
            std::string::npos) << err;

  Pickle stacked;
  stacked.b = Bytes("\x80\x04", 2);
  stacked.str("builtins").str("eval").op('\x93').str("1").op('\x85').op('R');
  err = open_error_bytes(make_zip({{"a/data.pkl", stacked.done()}}));
  EXPECT_NE(err.find("refusing to load pickle global builtins.eval"), std::string::npos) << err;

  // A whitelisted module with a name outside the whitelist is refused too.
  Pickle sneaky;
  sneaky.op('}').str("x").global("torch", "load").op('s');
  err = open_error_bytes(make_zip({{"a/data.pkl", sneaky.done()}}));
  EXPECT_NE(err.find("refusing to load pickle global torch.load"), std::string::npos) << err;

  // Opcodes that instantiate arbitrary classes are not interpreted at all.
  Pickle inst;
  inst.op('(').op('i').b += "os\nsystem\n";
  err = open_error_bytes(make_zip({{"a/data.pkl", inst.done()}}));
  EXPECT_NE(err.find("unsupported pickle opcode 0x69"), std::string::npos) << err;
}

TEST(PthReader, RefusesTruncatedFiles) {
  const Bytes good = read_bytes(kTinyPth);
  for (size_t keep : {size_t(0), size_t(10), size_t(4096), good.size() / 2, good.size() - 200, good.size() - 1}) {
    SCOPED_TRACE(keep);
    EXPECT_NE(open_error_bytes(good.substr(0, keep)), "");
  }
}

TEST(PthReader, RefusesCorruptArchives) {
  const Bytes good = read_bytes(kTinyPth);
  // Central directory offset pointing past the end (both the classic and the zip64 record).
  Bytes bad = good;
  const size_t end = bad.rfind(Bytes("PK\x05\x06", 4));
  const size_t end64 = bad.rfind(Bytes("PK\x06\x06", 4));
  ASSERT_NE(end, Bytes::npos);
  ASSERT_NE(end64, Bytes::npos);
  for (int i = 0; i < 8; ++i) bad[end64 + 48 + i] = '\x7f';
  EXPECT_NE(open_error_bytes(bad).find("central directory"), std::string::npos);

  // A storage record shorter than the pickle says.
  std::string err = open_error_bytes(make_zip({{"c/data.pkl", training_checkpoint_pickle()},
                                               {"c/data/0", floats({0, 1, 2, 3, 4})},
                                               {"c/data/1", Bytes(16, '\0')},
                                               {"c/data/2", Bytes(2, '\0')}}));
  EXPECT_NE(err.find("tensor 'w"), std::string::npos) << err;
  EXPECT_NE(err.find("should hold 24 bytes but the archive has 20"), std::string::npos) << err;

  // A missing storage record.
  err = open_error_bytes(make_zip({{"c/data.pkl", training_checkpoint_pickle()}, {"c/data/0", floats({0, 1, 2, 3, 4, 5})}}));
  EXPECT_NE(err.find("storage record data/1 is missing"), std::string::npos) << err;

  // A view reaching past its storage.
  Pickle p;
  p.op('}').str("v").tensor("FloatStorage", "0", 4, 1, {2, 2}, {2, 1}).op('s');
  err = open_error_bytes(make_zip({{"v/data.pkl", p.done()}, {"v/data/0", floats({0, 1, 2, 3})}}));
  EXPECT_NE(err.find("tensor 'v' addresses 20 bytes of storage data/0 which holds only 16"), std::string::npos) << err;

  // Compressed entries (e.g. re-zipped by another tool).
  err = open_error_bytes(make_zip({{"d/data.pkl", training_checkpoint_pickle()}}, false, 8));
  EXPECT_NE(err.find("zip entry d/data.pkl is compressed (method 8)"), std::string::npos) << err;

  // Big-endian checkpoints.
  err = open_error_bytes(make_zip({{"e/data.pkl", training_checkpoint_pickle()}, {"e/byteorder", "big"}}));
  EXPECT_NE(err.find("byte order 'big'"), std::string::npos) << err;

  // A pickle cut short.
  const Bytes pk = training_checkpoint_pickle();
  err = open_error_bytes(make_zip({{"f/data.pkl", pk.substr(0, pk.size() / 2)}}));
  EXPECT_NE(err.find("truncated pickle"), std::string::npos) << err;
}

TEST(PthReader, RefusesOtherFormatsClearly) {
  // torch.save before 1.6: a bare pickle starting with the magic number.
  const Bytes legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  EXPECT_NE(open_error_bytes(legacy).find("unsupported legacy format"), std::string::npos);
  EXPECT_NE(open_error_bytes("just some text").find("not a PyTorch checkpoint"), std::string::npos);
  EXPECT_NE(open_error_bytes("").find("empty file"), std::string::npos);
  EXPECT_NE(open_error_bytes(make_zip({{"m/constants.pkl", "x"}, {"m/code/m.py", "x"}})).find("TorchScript"),
            std::string::npos);
  EXPECT_NE(open_error_bytes(make_zip({{"readme.txt", "x"}})).find("no <name>/data.pkl"), std::string::npos);
  Pickle list;
  list.op(']');
  EXPECT_NE(open_error_bytes(make_zip({{"l/data.pkl", list.done()}})).find("no state dict of tensors found"),
            std::string::npos);
  EXPECT_NE(open_error("/nonexistent/model.pth").find("cannot open"), std::string::npos);
}

// Random damage to the archive must give an Error or a file whose tensors are all in bounds,
// never a crash: the reader validates before it trusts anything.
TEST(PthReader, SurvivesRandomCorruption) {
  const Bytes good = training_checkpoint();
  std::mt19937 rng(7);
  TempDir dir;
  const std::string path = dir.file("fuzz.pth");
  for (int iter = 0; iter < 400; ++iter) {
    Bytes bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bad[rng() % bad.size()] = static_cast<char>(rng());
    write_bytes(path, bad);
    try {
      auto f = PthFile::open(path);
      for (const auto& [name, t] : f->tensors()) {
        size_t span = 0;
        if (segkit::numel(t) > 0) {
          span = segkit::dtype_size(t.dtype);
          for (size_t d = 0; d < t.shape.size(); ++d) span += (t.shape[d] - 1) * t.strides[d] * segkit::dtype_size(t.dtype);
        }
        EXPECT_LE(span, t.bytes_available) << name;
      }
    } catch (const segkit::Error&) {
    }
  }
}

}  // namespace
