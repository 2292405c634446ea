// U-Net training: loss gradients, data checks, learning, exact resume and determinism.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Reduction.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/one_hot.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <c10/util/Optional.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "models/unet/border_weights.h"
#include "models/unet/dataset.h"
#include "models/unet/loss.h"
#include "models/unet/network.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/safetensors.h"
#include "segkit/threads.h"
#include "segkit/unet.h"
#include "test_util.h"
#include "training/weight_average.h"
#include "unet_synthetic.h"

namespace fs = std::filesystem;
using segkit::test::TempDir;

namespace {

segkit::UNetTrainOptions tiny_options(const std::string& data, const std::string& out) {
  segkit::UNetTrainOptions o;
  o.data_dir = data;
  o.out_dir = out;
  o.epochs = 2;
  o.steps_per_epoch = 3;
  o.batch_size = 2;
  o.crop = 32;
  o.lr = 5e-3;
  o.model.depth = 2;
  o.model.width = 4;
  o.augment = {"flip", "rot90", "elastic", "intensity"};
  o.seed = 3;
  o.quiet = true;
  return o;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Every tensor of two safetensors files, bit for bit.
void expect_same_tensors(const std::string& a, const std::string& b) {
  auto fa = segkit::SafetensorsFile::open(a), fb = segkit::SafetensorsFile::open(b);
  ASSERT_EQ(fa->names(), fb->names());
  for (const auto& n : fa->names()) {
    const auto &ta = fa->get(n), &tb = fb->get(n);
    ASSERT_EQ(ta.nbytes, tb.nbytes) << n;
    EXPECT_EQ(0, std::memcmp(ta.data, tb.data, ta.nbytes)) << "tensor " << n << " differs";
  }
}

void expect_error_naming(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    FAIL() << "expected an error naming " << needle;
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

}  // namespace

TEST(UNetLoss, DiceGradientMatchesFiniteDifferences) {
  at::manual_seed(0);
  const at::Tensor logits = at::randn({2, 3, 4, 5}, at::kDouble);
  const at::Tensor target = at::randint(0, 3, {2, 4, 5}, at::kLong);
  for (bool weighted : {false, true}) {
    SCOPED_TRACE(weighted ? "class weights" : "equal weights");
    const at::Tensor weights = weighted ? at::randn({3}, at::kDouble).abs().add(0.5) : at::Tensor();
    at::Tensor x = logits.clone().set_requires_grad(true);
    segkit::unet::dice_loss(x, target, weights).backward();
    const at::Tensor grad = x.grad();
    double worst = 0, largest = 0;
    for (int64_t i = 0; i < logits.numel(); ++i) {
      const double h = 1e-6;
      at::Tensor plus = logits.clone(), minus = logits.clone();
      plus.view(-1)[i] += h;
      minus.view(-1)[i] -= h;
      const double numeric = (segkit::unet::dice_loss(plus, target, weights).item<double>() -
                              segkit::unet::dice_loss(minus, target, weights).item<double>()) / (2 * h);
      worst = std::max(worst, std::abs(numeric - grad.view(-1)[i].item<double>()));
      largest = std::max(largest, std::abs(numeric));
    }
    EXPECT_LT(worst, 1e-7);
    EXPECT_GT(largest, 1e-3);  // the gradient is not trivially zero
  }
}

TEST(UNetLoss, DiceIsZeroForAPerfectPrediction) {
  const at::Tensor target = at::randint(0, 2, {1, 8, 8}, at::kLong);
  const at::Tensor logits = at::one_hot(target, 2).permute({0, 3, 1, 2}).to(at::kFloat).mul(100);
  EXPECT_NEAR(segkit::unet::dice_loss(logits, target).item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(segkit::unet::segmentation_loss(segkit::UNetLoss::CrossEntropy, logits, target).item<double>(), 0.0, 1e-5);
}

TEST(UNetLoss, PixelWeightsWeighTheCrossEntropy) {
  const at::Tensor logits = at::randn({2, 3, 5, 4}), target = at::randint(3, {2, 5, 4});
  const at::Tensor ce = at::cross_entropy_loss(logits, target);
  const auto kind = segkit::UNetLoss::CrossEntropy;
  EXPECT_NEAR(segkit::unet::segmentation_loss(kind, logits, target, {}, at::ones({2, 5, 4})).item<double>(),
              ce.item<double>(), 1e-6);
  at::Tensor w = at::ones({2, 5, 4});
  w[0][1][2] = 9.0;
  const at::Tensor each = at::cross_entropy_loss(logits, target, {}, at::Reduction::None);
  const double want = each.mul(w).sum().div(w.sum()).item().toDouble();
  EXPECT_NEAR(segkit::unet::segmentation_loss(kind, logits, target, {}, w).item<double>(), want, 1e-6);
  EXPECT_GT(std::abs(want - ce.item().toDouble()), 1e-4) << "the weight must change the loss (else this test could not fail)";
}

TEST(UNetData, BorderWeightsPeakBetweenObjects) {
  // Two 10-pixel-wide objects (label 1) with a 2-pixel gap of label 0 at x = 10, 11.
  cv::Mat mask(20, 40, CV_8U, cv::Scalar(0));
  mask(cv::Rect(0, 0, 10, 20)).setTo(1);
  mask(cv::Rect(12, 0, 10, 20)).setTo(1);
  const double w0 = 10, sigma = 5;
  const cv::Mat w = segkit::unet::border_weights(mask, w0, sigma);
  ASSERT_EQ(w.type(), CV_32F);
  // Gap pixel x = 10: 1 px to the left object, 2 px to the right one.
  EXPECT_NEAR(w.at<float>(10, 10), 1 + w0 * std::exp(-9.0 / (2 * sigma * sigma)), 1e-4);
  EXPECT_NEAR(w.at<float>(10, 11), w.at<float>(10, 10), 1e-4) << "symmetric gap";
  // Far from the second object: weight 1.
  EXPECT_NEAR(w.at<float>(10, 39), 1.0f, 1e-3);
  // One object alone has no neighbour to be separated from.
  cv::Mat one(20, 40, CV_8U, cv::Scalar(0));
  one(cv::Rect(5, 5, 10, 10)).setTo(2);
  const cv::Mat single = segkit::unet::border_weights(one, w0, sigma);
  double lo = 0, hi = 0;
  cv::minMaxLoc(single, &lo, &hi);
  EXPECT_EQ(lo, 1.0);
  EXPECT_EQ(hi, 1.0);
}

TEST(UNetData, BinaryMasksReadAsZeroOne) {
  TempDir dir;
  segkit::test::write_synthetic_dataset(dir.path(), 2, 24);
  auto samples = segkit::unet::load_dataset(dir.path());
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].image.channels(), 1);
  EXPECT_EQ(segkit::unet::max_label(samples), 1);
}

TEST(UNetData, BadDataNamesTheFileAndWritesNothing) {
  TempDir dir;
  const std::string data = dir.file("data"), out = dir.file("run");
  segkit::test::write_synthetic_dataset(data, 3, 24, 3);
  auto train = [&] { segkit::unet_train(tiny_options(data, out)); };
  // Mask values >= classes.
  auto o = tiny_options(data, out);
  o.classes = 2;
  expect_error_naming([&] { segkit::unet_train(o); }, "masks/img");
  // An image without mask, then a mask without image.
  fs::copy_file(data + "/images/img0.png", data + "/images/extra.png");
  expect_error_naming(train, "images/extra.png");
  fs::rename(data + "/images/extra.png", data + "/masks/extra.png");
  expect_error_naming(train, "masks/extra.png");
  fs::remove(data + "/masks/extra.png");
  // A mask of another size than its image.
  std::vector<uint8_t> small(10 * 10, 0);
  segkit::save_png(data + "/masks/img1.png", small.data(), 10, 10, 1);
  expect_error_naming(train, "masks/img1.png");
  // Empty data set.
  TempDir empty;
  fs::create_directories(empty.file("images"));
  fs::create_directories(empty.file("masks"));
  expect_error_naming([&] { segkit::unet_train(tiny_options(empty.path(), out)); }, "images");
  EXPECT_FALSE(fs::exists(out + "/last.safetensors"));
  EXPECT_FALSE(fs::exists(out + "/train_state.safetensors"));
}

TEST(UNetData, CorruptCheckpointNamesTheFile) {
  TempDir dir;
  const std::string path = dir.file("broken.safetensors");
  std::ofstream(path) << "definitely not a checkpoint";
  expect_error_naming([&] { segkit::UNetModel::load(path); }, "broken.safetensors");
}

TEST(UNetTrain, OverfitsTinyDataset) {
  segkit::set_num_threads(2);
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 4, 32, 3, false, 5);
  auto o = tiny_options(data, dir.file("run"));
  o.epochs = 15;
  o.steps_per_epoch = 10;
  o.batch_size = 4;
  o.model.width = 8;
  o.lr = 1e-2;
  o.augment = {"flip"};
  auto result = segkit::unet_train(o);
  EXPECT_FALSE(result.interrupted);
  ASSERT_EQ(result.log.size(), 15u);
  EXPECT_LT(result.log.back().train_loss, result.log.front().train_loss);
  auto model = segkit::UNetModel::load(dir.file("run/last.safetensors"));
  EXPECT_EQ(model->config().classes, 3);
  // Mean IoU over the training images, with the library's evaluation (segkit's metrics module).
  const segkit::SemanticResult r = segkit::unet_evaluate(*model, data);
  const double miou = r.mean_iou;
  EXPECT_GE(miou, 0.95);
}

TEST(UNetTrain, ResumeEqualsUninterruptedTraining) {
  segkit::set_num_threads(2);
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 4, 40);
  auto whole = tiny_options(data, dir.file("whole"));
  whole.val_stems = {"img3"};
  whole.border_weight = 5;  // saved with the run: the resumed half must weigh its loss the same
  whole.ema_decay = 0.9;     // and continue the same weight average
  whole.dropout = 0.3;       // and draw the same dropout units
  segkit::unet_train(whole);

  auto part = tiny_options(data, dir.file("part"));
  part.val_stems = {"img3"};
  part.border_weight = 5;
  part.ema_decay = 0.9;
  part.dropout = 0.3;
  auto first = segkit::unet_train(part, 4);  // stops inside epoch 2, as SIGINT would
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.epochs_done, 1);
  segkit::UNetTrainOptions again;
  again.out_dir = part.out_dir;
  again.resume = true;
  again.epochs = 0;
  again.quiet = true;
  auto second = segkit::unet_train(again);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.epochs_done, 2);
  expect_same_tensors(whole.out_dir + "/last.safetensors", part.out_dir + "/last.safetensors");
  expect_same_tensors(whole.out_dir + "/train_state.safetensors", part.out_dir + "/train_state.safetensors");
  // A finished run refuses a fresh start in the same folder.
  expect_error_naming([&] { segkit::unet_train(tiny_options(data, part.out_dir)); }, "--resume");
}

TEST(UNetTrain, WeightAverageFollowsTheTrainedWeights) {
  segkit::UNetConfig config;
  config.depth = 1;
  config.width = 2;
  segkit::unet::Network average(config), current(config);
  at::NoGradGuard no_grad;
  for (auto& t : average.state()) t.tensor.fill_(0);
  for (auto& t : current.state()) t.tensor.fill_(1);
  // Step 1: the warm-up decay (1 + 1) / (10 + 1) applies instead of the asked 0.9.
  segkit::training::update_average(average.tensors(), current.tensors(), 0.9, 1);
  const double warm = 2.0 / 11.0;
  EXPECT_NEAR(average.state()[0].tensor.flatten()[0].item<double>(), 1 - warm, 1e-6);
  // Late steps: the asked decay.
  segkit::training::update_average(average.tensors(), current.tensors(), 0.5, 1000);
  EXPECT_NEAR(average.state()[0].tensor.flatten()[0].item<double>(), 1 - warm * 0.5, 1e-6);
  for (const auto& t : average.state())
    if (!t.tensor.is_floating_point()) EXPECT_EQ(t.tensor.flatten()[0].item<int64_t>(), 1) << t.name << " is copied";
}

TEST(UNetTrain, WithWeightAverageTheCheckpointHoldsTheAverage) {
  segkit::set_num_threads(2);
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 3, 32);
  auto o = tiny_options(data, dir.file("run"));
  o.epochs = 1;
  o.ema_decay = 0.8;
  segkit::unet_train(o);
  auto last = segkit::SafetensorsFile::open(dir.file("run/last.safetensors"));
  auto state = segkit::SafetensorsFile::open(dir.file("run/train_state.safetensors"));
  int differing = 0;
  for (const auto& name : last->names()) {
    const auto& saved = last->get(name);
    const auto& average = state->get("average." + name);
    const auto& trained = state->get("model." + name);
    ASSERT_EQ(saved.nbytes, average.nbytes) << name;
    EXPECT_EQ(0, std::memcmp(saved.data, average.data, saved.nbytes)) << name << " is not the average";
    differing += std::memcmp(saved.data, trained.data, saved.nbytes) != 0;
  }
  EXPECT_GT(differing, 0) << "the average equals the trained weights";
  segkit::UNetTrainOptions bad = tiny_options(data, dir.file("bad"));
  bad.ema_decay = 1.0;
  expect_error_naming([&] { segkit::unet_train(bad); }, "--ema");
}

TEST(UNetTrain, DropoutActsInTrainingOnlyAndFollowsItsGenerator) {
  segkit::UNetConfig config;
  config.in_channels = 1;
  config.classes = 2;
  config.depth = 2;
  config.width = 4;
  segkit::unet::Network net(config);
  net.initialize(1);
  at::NoGradGuard no_grad;
  const at::Tensor input = at::rand({2, 1, 32, 32}, at::make_generator<at::CPUGeneratorImpl>(5));
  auto seeded = [](uint64_t s) { return c10::optional<at::Generator>(at::make_generator<at::CPUGeneratorImpl>(s)); };
  // Training mode updates batch-norm statistics, so every call below starts from the same state.
  std::vector<at::Tensor> snapshot;
  for (const auto& t : net.state()) snapshot.push_back(t.tensor.clone());
  auto restore = [&] {
    for (size_t i = 0; i < snapshot.size(); ++i) net.state()[i].tensor.copy_(snapshot[i]);
  };
  const at::Tensor plain = net.forward(input, true);
  restore();
  const at::Tensor a = net.forward(input, true, 0.5, seeded(7));
  restore();
  const at::Tensor b = net.forward(input, true, 0.5, seeded(7));
  restore();
  const at::Tensor c = net.forward(input, true, 0.5, seeded(8));
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(plain));
  EXPECT_FALSE(a.equal(c));
  restore();
  EXPECT_TRUE(net.forward(input, false, 0.5, seeded(7)).equal(net.forward(input, false)));

  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 3, 32);
  segkit::UNetTrainOptions bad = tiny_options(data, dir.file("bad"));
  bad.dropout = 1.0;
  expect_error_naming([&] { segkit::unet_train(bad); }, "--dropout");
}

TEST(UNetTrain, DeterministicForFixedSeed) {
  segkit::set_num_threads(2);
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 3, 32);
  auto a = tiny_options(data, dir.file("a")), b = tiny_options(data, dir.file("b")), c = tiny_options(data, dir.file("c"));
  c.seed = 4;
  for (auto* o : {&a, &b, &c}) {
    o->epochs = 1;
    segkit::unet_train(*o);
  }
  expect_same_tensors(a.out_dir + "/last.safetensors", b.out_dir + "/last.safetensors");
  EXPECT_NE(file_bytes(a.out_dir + "/last.safetensors"), file_bytes(c.out_dir + "/last.safetensors"));
}

TEST(UNetTrain, Bf16AutocastTrains) {
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 2, 32);
  auto o = tiny_options(data, dir.file("run"));
  o.epochs = 1;
  o.bf16 = true;
  auto r = segkit::unet_train(o);
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_TRUE(std::isfinite(r.log[0].train_loss));
  EXPECT_TRUE(fs::exists(dir.file("run/last.safetensors")));
}
