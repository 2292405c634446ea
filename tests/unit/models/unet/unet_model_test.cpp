// U-Net network: output shapes for every configuration, size arithmetic, checkpoints, ensembles.
#include <ATen/ops/allclose.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/conv_transpose2d.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "models/unet/layers.h"
#include "models/unet/model_impl.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/safetensors.h"
#include "segkit/unet.h"
#include "test_util.h"

using segkit::UNetConfig;
using segkit::UNetPadding;
using segkit::UNetUpsample;

namespace {

segkit::Image random_image(int w, int h, uint32_t seed) {
  segkit::Image im;
  im.width = w;
  im.height = h;
  im.rgb.resize(static_cast<size_t>(w) * h * 3);
  std::mt19937 rng(seed);
  for (auto& v : im.rgb) v = static_cast<uint8_t>(rng() & 255);
  return im;
}

}  // namespace

TEST(UNetModel, OutputShapeForEveryConfiguration) {
  for (int in : {1, 3})
    for (int depth : {1, 2, 3, 4})
      for (bool bn : {true, false})
        for (auto up : {UNetUpsample::Transpose, UNetUpsample::Bilinear})
          for (auto pad : {UNetPadding::Same, UNetPadding::Valid}) {
            UNetConfig c;
            c.in_channels = in;
            c.classes = 3;
            c.depth = depth;
            c.width = 2;
            c.batch_norm = bn;
            c.upsample = up;
            c.padding = pad;
            c.mean.assign(in, 0.5f);
            c.std.assign(in, 0.25f);
            SCOPED_TRACE(c.describe());
            auto model = segkit::UNetModel::create(c, 1);
            const int size = c.fitting_input_size(pad == UNetPadding::Same ? 40 : 1);
            const int out = c.output_size(size);
            if (pad == UNetPadding::Same) EXPECT_EQ(out, size);
            else EXPECT_LT(out, size);
            for (bool training : {true, false}) {
              at::Tensor y = segkit::unet::Internals::of(*model).network().forward(at::randn({2, in, size, size}), training);
              ASSERT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 3, out, out}));
              EXPECT_TRUE(y.isfinite().all().item<bool>());
            }
          }
}

TEST(UNetModel, ValidPaddingSizesMatchThePaper) {
  UNetConfig c;  // depth 4, valid padding: 572 → 388, the paper's Figure 1
  c.padding = UNetPadding::Valid;
  EXPECT_EQ(c.output_size(572), 388);
  EXPECT_EQ(c.output_size(571), -1);
  EXPECT_EQ(c.context_margin(), 92);
  EXPECT_EQ(c.fitting_input_size(570), 572);
  c.padding = UNetPadding::Same;
  EXPECT_EQ(c.output_size(512), 512);
  EXPECT_EQ(c.output_size(500), -1);
  EXPECT_EQ(c.context_margin() % 16, 0);
}

TEST(UNetModel, ParameterNamesFollowPyTorchStateDict) {
  UNetConfig c;
  c.depth = 2;
  c.width = 4;
  auto model = segkit::UNetModel::create(c);
  std::vector<std::string> names;
  for (const auto& t : segkit::unet::Internals::of(*model).network().state()) names.push_back(t.name);
  EXPECT_EQ(names.front(), "encoder.0.conv1.weight");
  EXPECT_NE(std::find(names.begin(), names.end(), "encoder.2.bn2.running_var"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "decoder.1.up.weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "decoder.0.bn1.num_batches_tracked"), names.end());
  EXPECT_EQ(names.back(), "head.bias");
  // Parameters of depth 2, width 4, 1 → 2 classes, by hand: convs + bn (2 per bn) + ups + head.
  const int64_t enc = (1 * 4 * 9 + 4 * 4 * 9) + (4 * 8 * 9 + 8 * 8 * 9) + (8 * 16 * 9 + 16 * 16 * 9);
  const int64_t enc_bn = 2 * 2 * (4 + 8 + 16);
  const int64_t up = (16 * 8 * 4 + 8) + (8 * 4 * 4 + 4);
  const int64_t dec = (16 * 8 * 9 + 8 * 8 * 9) + (8 * 4 * 9 + 4 * 4 * 9) + 2 * 2 * (8 + 4);
  EXPECT_EQ(model->parameter_count(), enc + enc_bn + up + dec + 4 * 2 + 2);
}

TEST(UNetModel, SaveLoadPredictIdentical) {
  segkit::test::TempDir dir;
  UNetConfig c;
  c.depth = 2;
  c.width = 4;
  c.classes = 3;
  c.upsample = UNetUpsample::Bilinear;
  auto model = segkit::UNetModel::create(c, 7);
  const std::string path = dir.file("m.safetensors");
  model->save(path, R"({"epoch": 3})");
  ASSERT_TRUE(std::filesystem::exists(dir.file("m.json")));
  auto loaded = segkit::UNetModel::load(path);
  EXPECT_EQ(loaded->config().to_json(), c.to_json());
  const segkit::Image im = random_image(37, 29, 3);
  segkit::UNetPredictOptions o;
  o.probabilities = true;
  auto a = segkit::unet_predict(*model, im, o), b = segkit::unet_predict(*loaded, im, o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.probabilities, b.probabilities);
  ASSERT_EQ(a.labels.size(), 37u * 29u);
}

TEST(UNetModel, LoadRejectsAnotherArchitecture) {
  segkit::test::TempDir dir;
  UNetConfig c;
  c.depth = 2;
  c.width = 4;
  auto model = segkit::UNetModel::create(c);
  model->save(dir.file("a.safetensors"));
  // Same config header, tensors of a wider network: every shape disagrees.
  UNetConfig wide = c;
  wide.width = 8;
  auto other = segkit::UNetModel::create(wide);
  auto refs = segkit::unet::state_refs(segkit::unet::Internals::of(*other).network());
  segkit::write_safetensors(dir.file("b.safetensors"), refs, {{"segkit.unet.config", c.to_json()}});
  try {
    segkit::UNetModel::load(dir.file("b.safetensors"));
    FAIL() << "expected an error";
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("b.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("another architecture"), std::string::npos) << e.what();
  }
  // No config at all.
  segkit::write_safetensors(dir.file("c.safetensors"), refs);
  EXPECT_THROW(segkit::UNetModel::load(dir.file("c.safetensors")), segkit::Error);
}

// The config JSON in a checkpoint's metadata (or its .json beside it) comes from outside: a
// hostile one is a one-line Error naming the file (deep nesting once overflowed the stack).
TEST(UNetModel, LoadRefusesHostileConfigJson) {
  segkit::test::TempDir dir;
  UNetConfig c;
  c.depth = 1;
  c.width = 2;
  auto model = segkit::UNetModel::create(c);
  auto refs = segkit::unet::state_refs(segkit::unet::Internals::of(*model).network());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto error_of = [](const std::string& path) {
    try {
      segkit::UNetModel::load(path);
    } catch (const segkit::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string a = dir.file("a.safetensors"), b = dir.file("b.safetensors"), d = dir.file("d.safetensors");
  segkit::write_safetensors(a, refs, {{"segkit.unet.config", deep}});
  EXPECT_EQ(error_of(a), a + ": segkit.unet.config: JSON nested deeper than 512 levels");
  segkit::write_safetensors(b, refs, {{"segkit.unet.ensemble", "[{"}});
  EXPECT_EQ(error_of(b).rfind(b + ": segkit.unet.ensemble: malformed JSON: ", 0), 0u) << error_of(b);
  // No metadata: the config is read from d.json.
  segkit::write_safetensors(d, refs);
  segkit::write_text_atomically(dir.file("d.json"), "{\"config\": " + deep + "}");
  EXPECT_EQ(error_of(d), dir.file("d.json") + ": JSON nested deeper than 512 levels");
  for (const std::string& path : {a, b, d}) EXPECT_EQ(error_of(path).find('\n'), std::string::npos);
  // Numbers of the wrong kind or size are refused by name (1e300 was converted to int).
  nlohmann::json config = nlohmann::json::parse(c.to_json());
  config["depth"] = 1e300;
  const std::string e = dir.file("e.safetensors");
  segkit::write_safetensors(e, refs, {{"segkit.unet.config", config.dump()}});
  EXPECT_EQ(error_of(e), e + ": \"depth\" must be an integer from -2147483648 to 2147483647");
  config = nlohmann::json::parse(c.to_json());
  config["mean"] = {1e39};
  segkit::write_safetensors(e, refs, {{"segkit.unet.config", config.dump()}});
  EXPECT_NE(error_of(e).find("\"mean\" must be a list of finite numbers within float range"), std::string::npos) << error_of(e);
}

TEST(UNetModel, TiledPredictionEqualsUntiled) {
  for (auto pad : {UNetPadding::Same, UNetPadding::Valid}) {
    UNetConfig c;
    c.depth = 2;
    c.width = 4;
    c.classes = 3;
    c.padding = pad;
    SCOPED_TRACE(c.describe());
    auto model = segkit::UNetModel::create(c, 11);
    {  // Make the running statistics non-trivial, as after training.
      c10::InferenceMode guard(false);
      segkit::unet::Internals::of(*model).network().forward(at::randn({2, 1, 64, 64}).mul(2).add(1), true);
    }
    const segkit::Image im = random_image(150, 97, 5);
    segkit::UNetPredictOptions whole, tiled;
    whole.probabilities = tiled.probabilities = true;
    tiled.tile = pad == UNetPadding::Same ? 64 : 60;
    auto a = segkit::unet_predict(*model, im, whole), b = segkit::unet_predict(*model, im, tiled);
    ASSERT_EQ(a.probabilities.size(), b.probabilities.size());
    float worst = 0;
    for (size_t i = 0; i < a.probabilities.size(); ++i)
      worst = std::max(worst, std::abs(a.probabilities[i] - b.probabilities[i]));
    EXPECT_LT(worst, 1e-4f);
    // A too-small overlap must change something (else this test could not fail).
    if (pad == UNetPadding::Same) {
      tiled.overlap = 0;
      auto d = segkit::unet_predict(*model, im, tiled);
      float diff = 0;
      for (size_t i = 0; i < a.probabilities.size(); ++i)
        diff = std::max(diff, std::abs(a.probabilities[i] - d.probabilities[i]));
      EXPECT_GT(diff, 1e-3f);
    }
  }
}

TEST(UNetModel, EnsembleAveragesItsMembersProbabilities) {
  segkit::test::TempDir dir;
  UNetConfig a, b;
  a.depth = 2;
  a.width = 4;
  a.classes = b.classes = 3;
  b.depth = 1;  // members may differ in architecture
  b.width = 6;
  b.upsample = UNetUpsample::Bilinear;
  std::shared_ptr<const segkit::UNetModel> first = segkit::UNetModel::create(a, 1), second = segkit::UNetModel::create(b, 2);
  auto ensemble = segkit::UNetModel::ensemble({first, second});
  EXPECT_EQ(ensemble->member_count(), 2);
  EXPECT_EQ(ensemble->parameter_count(), first->parameter_count() + second->parameter_count());

  const segkit::Image im = random_image(37, 29, 4);
  segkit::UNetPredictOptions o;
  o.probabilities = true;
  const auto p1 = segkit::unet_predict(*first, im, o), p2 = segkit::unet_predict(*second, im, o),
             pe = segkit::unet_predict(*ensemble, im, o);
  ASSERT_EQ(pe.probabilities.size(), p1.probabilities.size());
  float worst = 0, apart = 0;
  for (size_t i = 0; i < pe.probabilities.size(); ++i) {
    worst = std::max(worst, std::abs(pe.probabilities[i] - (p1.probabilities[i] + p2.probabilities[i]) / 2));
    apart = std::max(apart, std::abs(p1.probabilities[i] - p2.probabilities[i]));
  }
  EXPECT_LT(worst, 1e-5f);
  EXPECT_GT(apart, 1e-2f) << "members that agree could not show the average";

  // Saved as an nn.ModuleList would name it, loaded back to the same predictions.
  ensemble->save(dir.file("e.safetensors"));
  auto file = segkit::SafetensorsFile::open(dir.file("e.safetensors"));
  EXPECT_TRUE(file->contains("members.0.encoder.0.conv1.weight"));
  EXPECT_TRUE(file->contains("members.1.encoder.0.conv1.weight"));
  auto loaded = segkit::UNetModel::load(dir.file("e.safetensors"));
  EXPECT_EQ(loaded->member_count(), 2);
  EXPECT_EQ(segkit::unet_predict(*loaded, im, o).probabilities, pe.probabilities);
  // An ensemble of an ensemble is flat.
  EXPECT_EQ(segkit::UNetModel::ensemble({loaded, first})->member_count(), 3);

  // Members must agree on classes and input channels.
  UNetConfig two = a;
  two.classes = 2;
  EXPECT_THROW(segkit::UNetModel::ensemble({first, segkit::UNetModel::create(two)}), segkit::Error);
  // A tensor no member owns is refused, naming the file.
  auto refs = segkit::unet::state_refs(segkit::unet::Internals::of(*first).network(), "members.0.");
  for (auto& r : segkit::unet::state_refs(segkit::unet::Internals::of(*first).network(), "members.2.")) refs.push_back(r);
  nlohmann::json configs = nlohmann::json::array({nlohmann::json::parse(a.to_json())});
  segkit::write_safetensors(dir.file("f.safetensors"), refs, {{"segkit.unet.ensemble", configs.dump()}});
  try {
    segkit::UNetModel::load(dir.file("f.safetensors"));
    FAIL() << "expected an error";
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("f.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside the ensemble"), std::string::npos) << e.what();
  }
}

// Image turned a quarter clockwise (RGB, row-major).
static segkit::Image turn_clockwise(const segkit::Image& im) {
  segkit::Image out;
  out.width = im.height;
  out.height = im.width;
  out.rgb.resize(im.rgb.size());
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      for (int c = 0; c < 3; ++c)
        out.rgb[(static_cast<size_t>(x) * out.width + (im.height - 1 - y)) * 3 + c] = im.pixel(x, y)[c];
  return out;
}

TEST(UNetModel, TestTimeAugmentationTurnsWithTheImage) {
  UNetConfig c;
  c.depth = 2;
  c.width = 4;
  c.classes = 3;
  auto model = segkit::UNetModel::create(c, 7);
  const segkit::Image im = random_image(32, 32, 9);  // a multiple of the pooling grid: no padding
  segkit::UNetPredictOptions tta;
  tta.test_time_augmentation = tta.probabilities = true;
  const auto a = segkit::unet_predict(*model, im, tta), b = segkit::unet_predict(*model, turn_clockwise(im), tta);
  // Averaged over all eight symmetries, the prediction of the turned image is the turned prediction.
  float worst = 0;
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        worst = std::max(worst, std::abs(a.probabilities[size_t((k * 32 + y) * 32 + x)] -
                                         b.probabilities[size_t((k * 32 + x) * 32 + (31 - y))]));
  EXPECT_LT(worst, 1e-4f);
  float sum = 0;
  for (int k = 0; k < 3; ++k) sum += a.probabilities[size_t(k * 32 * 32)];
  EXPECT_NEAR(sum, 1.0f, 1e-5f) << "probabilities of a pixel sum to one";
  // Without augmentation the network is not turn-equivariant (else this test could not fail).
  const auto plain_a = segkit::unet_predict(*model, im, {0, -1, true}),
             plain_b = segkit::unet_predict(*model, turn_clockwise(im), {0, -1, true});
  float diff = 0;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      diff = std::max(diff, std::abs(plain_a.probabilities[size_t(y * 32 + x)] - plain_b.probabilities[size_t(x * 32 + 31 - y)]));
  EXPECT_GT(diff, 1e-3f);
}

TEST(UNetModel, FastLayersEqualATenReference) {
  for (int64_t in : {1, 3})
    for (int64_t pad : {0, 1}) {
      const at::Tensor x = at::randn({2, in, 9, 11}), w = at::randn({5, in, 3, 3}), b = at::randn({5});
      const at::Tensor fast = segkit::unet::narrow_input_conv(x, w, b, pad);
      const at::Tensor ref = at::conv2d(x, w, b, {1, 1}, {pad, pad});
      ASSERT_EQ(fast.sizes(), ref.sizes());
      EXPECT_TRUE(at::allclose(fast, ref, 1e-4, 1e-5));
    }
  const at::Tensor x = at::randn({2, 6, 5, 7}), w = at::randn({6, 4, 2, 2}), b = at::randn({4});
  const at::Tensor fast = segkit::unet::up_convolution(x, w, b), ref = at::conv_transpose2d(x, w, b, {2, 2});
  ASSERT_EQ(fast.sizes(), ref.sizes());
  EXPECT_TRUE(at::allclose(fast, ref, 1e-4, 1e-5));
}
