// Mask2FormerModel as users call it: loading (folder, registry), the whole forward and the one-call
// segmentation against transformers 5.17 (on every kernel path this CPU has), and the one-line
// errors of damaged checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "mask2former_fixtures.h"
#include "models/mask2former/model_impl.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/image.h"
#include "segkit/mask2former.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace segkit::test {
namespace {

namespace fs = std::filesystem;

LoadOptions quiet() {
  LoadOptions o;
  o.warn_unused = false;
  return o;
}

at::Tensor tensor_of(const FloatArray& a) { return at::from_blob(const_cast<float*>(a.data.data()), a.shape, at::kFloat).clone(); }

// A copy of the tiny model whose preprocessor_config.json is the shortest-edge one.
std::string shortest_edge_model(const TempDir& dir) {
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(data_path(std::string("mask2former/model/") + f), dir.file(f));
  fs::copy_file(data_path("mask2former/processor_shortest_edge/preprocessor_config.json"), dir.file("preprocessor_config.json"));
  return dir.path();
}

void expect_matches_case(const Mask2FormerModel& model, const std::string& case_name) {
  auto f = mask2former_case(case_name);
  const Image image = load_image(data_path("mask2former/inputs/img0.png"));
  const Mask2FormerInput in = model.preprocess(image);
  EXPECT_LE(relative_l2(tensor_of(in.pixel_values), case_tensor(*f, "inputs.pixel_values")), 1e-4);
  const Mask2FormerOutput out = model.forward(in);
  EXPECT_LE(relative_l2(tensor_of(out.class_logits), case_tensor(*f, "out.class_queries_logits")[0]), 1e-4);
  EXPECT_LE(relative_l2(tensor_of(out.mask_logits), case_tensor(*f, "out.masks_queries_logits")[0]), 1e-4);

  // One call, each task, against transformers' maps at the image's size.
  SegmentationOptions thr0;
  thr0.threshold = 0.0f;
  SegmentationOptions fuse = thr0;
  fuse.label_ids_to_fuse = {3, 4, 5, 6};
  const struct {
    SegmentationTask task;
    SegmentationOptions options;
    const char* map;
  } checks[] = {{SegmentationTask::Semantic, {}, "post.semantic.b0.segmentation"},
                {SegmentationTask::Instance, thr0, "post.instance.thr0.b0.segmentation"},
                {SegmentationTask::Panoptic, fuse, "post.panoptic.thr0_fuse_stuff.b0.segmentation"},
                {SegmentationTask::Panoptic, thr0, "post.panoptic.thr0_nofuse.b0.segmentation"}};
  for (const auto& c : checks) {
    const Segmentation s = model.segment(image, c.task, c.options);
    const at::Tensor expected = case_tensor(*f, c.map).to(at::kInt).flatten();
    ASSERT_EQ(s.ids.size(), static_cast<size_t>(expected.numel())) << c.map;
    const int32_t* e = expected.data_ptr<int32_t>();
    size_t equal = 0;
    for (size_t i = 0; i < s.ids.size(); ++i) equal += s.ids[i] == e[i];
    EXPECT_GE(static_cast<double>(equal) / s.ids.size(), 0.999) << c.map;
  }
}

TEST(Mask2FormerModel, HubProcessorCaseMatchesTransformers) {
  const auto model = Mask2FormerModel::load(mask2former_tiny(), quiet());
  EXPECT_EQ(model->labels().size(), 7u);
  EXPECT_EQ(model->labels()[3], "sky");
  expect_matches_case(*model, "img0_hub");
}

TEST(Mask2FormerModel, ShortestEdgeProcessorCaseMatchesTransformers) {
  TempDir dir;
  expect_matches_case(*Mask2FormerModel::load(shortest_edge_model(dir), quiet()), "img0_shortest_edge");
}

TEST(Mask2FormerModel, EveryKernelPathOfThisCpuMatchesTransformers) {
  // The portable path (ATen and oneDNN alone) up to the best this CPU has, one after another
  // (core/cpu_features.h); bf16 stays within its promise of float32 on each.
  LoadOptions bf16_options = quiet();
  bf16_options.precision = Precision::Bf16;
  const Mask2FormerInput in = Mask2FormerModel::load(mask2former_tiny(), quiet())
                                  ->preprocess(load_image(data_path("mask2former/inputs/img0.png")));
  for (int k = 0; k <= int(core::cpu_kernels_available()); ++k) {
    SCOPED_TRACE("kernel path " + std::to_string(k));
    const test::KernelCeiling ceiling(static_cast<core::CpuKernels>(k));
    const auto fp32 = Mask2FormerModel::load(mask2former_tiny(), quiet());
    expect_matches_case(*fp32, "img0_hub");
    const Mask2FormerOutput a = fp32->forward(in);
    const Mask2FormerOutput b = Mask2FormerModel::load(mask2former_tiny(), bf16_options)->forward(in);
    const double error = relative_l2(tensor_of(b.mask_logits), tensor_of(a.mask_logits));
    EXPECT_GT(error, 0.0);
    EXPECT_LT(error, 0.05);
  }
}

TEST(Mask2FormerModel, EveryStageMatchesTransformers) {
  const auto model = Mask2FormerModel::load(mask2former_tiny(), quiet());
  auto f = mask2former_case("img0_hub");
  const mask2former::RawOutput raw = mask2former::Internals::run(*model, case_tensor(*f, "inputs.pixel_values"), true);
  for (int s = 0; s < 4; ++s)
    EXPECT_LE(relative_l2(raw.backbone_features[s], case_tensor(*f, "out.encoder_hidden_states." + std::to_string(s))), 1e-4);
  for (int l = 0; l < 3; ++l)
    EXPECT_LE(relative_l2(raw.pixel_decoder.multi_scale[l], case_tensor(*f, "out.pixel_decoder_hidden_states." + std::to_string(l))),
              1e-4);
  EXPECT_LE(relative_l2(raw.pixel_decoder.mask_features, case_tensor(*f, "out.pixel_decoder_last_hidden_state")), 1e-4);
  ASSERT_EQ(raw.decoder.predictions.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const std::string mask = "hook.model.transformer_module.decoder.mask_predictor" +
                             std::string(i ? ".call" + std::to_string(i) : "") + ".0";
    EXPECT_LE(relative_l2(raw.decoder.predictions[i].mask_logits, case_tensor(*f, mask)), 1e-4) << mask;
  }
}

TEST(Mask2FormerModel, StageByStageIsTheForward) {
  const auto model = Mask2FormerModel::load(mask2former_tiny(), quiet());
  auto f = mask2former_case("img0_hub");
  const Mask2FormerInput in = model->preprocess(load_image(data_path("mask2former/inputs/img0.png")));
  const Mask2FormerFeatures features = model->backbone(in);
  ASSERT_EQ(features.maps.size(), 4u);
  EXPECT_LE(relative_l2(tensor_of(features.maps[3]), case_tensor(*f, "out.encoder_hidden_states.3")), 1e-4);
  const Mask2FormerPixelFeatures pixels = model->pixel_decoder(features);
  ASSERT_EQ(pixels.levels.size(), 3u);
  EXPECT_LE(relative_l2(tensor_of(pixels.mask_features), case_tensor(*f, "out.pixel_decoder_last_hidden_state")), 1e-4);
  const Mask2FormerOutput staged = model->transformer_decoder(pixels), whole = model->forward(in);
  EXPECT_EQ(staged.class_logits.data, whole.class_logits.data);
  EXPECT_EQ(staged.mask_logits.data, whole.mask_logits.data);
  EXPECT_EQ(staged.original_width, 512);
  Mask2FormerPixelFeatures wrong = pixels;
  wrong.levels.pop_back();
  EXPECT_NE(error_of([&] { model->transformer_decoder(wrong); }).find("3 levels"), std::string::npos);
}

TEST(Mask2FormerModel, LoadModelReturnsItThroughTheRegistry) {
  const ModelInfo info = inspect_model(mask2former_tiny());
  EXPECT_EQ(info.family, "mask2former");
  EXPECT_TRUE(info.runnable);
  EXPECT_EQ(info.parameter_count, 2387638);  // transformers' n_parameters for the tiny model
  const auto model = std::dynamic_pointer_cast<const Mask2FormerModel>(load_model(mask2former_tiny(), quiet()));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->info().family_title, "Mask2Former");
}

// The tiny model folder with its weights rewritten by `edit`.
std::string edited_model(const TempDir& dir, const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
  auto file = SafetensorsFile::open(data_path("mask2former/model/model.safetensors"));
  std::map<std::string, at::Tensor> tensors;
  for (const std::string& name : file->names()) tensors[name] = case_tensor(*file, name);
  edit(tensors);
  std::vector<TensorRef> refs;
  for (const auto& [name, t] : tensors)
    refs.push_back({name, DType::F32, std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), t.data_ptr()});
  write_safetensors(dir.file("model.safetensors"), refs);
  for (const char* f : {"config.json", "preprocessor_config.json"})
    fs::copy_file(data_path(std::string("mask2former/model/") + f), dir.file(f));
  return dir.path();
}

TEST(Mask2FormerModel, DamagedCheckpointsGiveOneLineErrors) {
  {
    TempDir dir;
    const std::string m = edited_model(dir, [](auto& t) { t.erase("model.transformer_module.decoder.layers.2.fc1.weight"); });
    const std::string e = error_of([&] { Mask2FormerModel::load(m, quiet()); });
    EXPECT_NE(e.find("missing tensor 'model.transformer_module.decoder.layers.2.fc1.weight'"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  {
    TempDir dir;
    const std::string m = edited_model(dir, [](auto& t) {
      t["model.pixel_level_module.encoder.encoder.layers.1.blocks.0.intermediate.dense.weight"] = at::zeros({5, 64});
    });
    const std::string e = error_of([&] { Mask2FormerModel::load(m, quiet()); });
    EXPECT_NE(e.find("intermediate.dense.weight"), std::string::npos) << e;
    EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
  }
  {
    TempDir dir;
    const std::string m = edited_model(dir, [](auto& t) {
      t["class_predictor.weight"] = at::zeros({11, 32});
      t["class_predictor.bias"] = at::zeros({11});
    });
    const std::string e = error_of([&] { Mask2FormerModel::load(m, quiet()); });
    EXPECT_NE(e.find("predicts 10 classes, but config.json's id2label names 7"), std::string::npos) << e;
  }
}

TEST(Mask2FormerModel, RuntimeTensorNamesAreAcceptedToo) {
  // transformers 5 module paths, as a state dict saved without the legacy renaming would use.
  TempDir dir;
  const std::string m = edited_model(dir, [](auto& t) {
    std::map<std::string, at::Tensor> renamed;
    for (auto& [name, tensor] : t) {
      std::string n = name;
      const std::string enc = "model.pixel_level_module.encoder.";
      if (n.rfind(enc, 0) == 0 && n.find("hidden_states_norms") == std::string::npos) n.insert(enc.size(), "swin.");
      for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
               {".attention.self.query.", ".attention.q_proj."}, {".attention.output.dense.", ".attention.o_proj."},
               {".intermediate.dense.", ".mlp.fc1."}}) {
        const size_t at = n.find(from);
        if (at != std::string::npos) n.replace(at, from.size(), to);
      }
      renamed[n] = tensor;
    }
    t = renamed;
  });
  const auto model = Mask2FormerModel::load(m, quiet());
  auto f = mask2former_case("img0_hub");
  const Mask2FormerOutput out = model->forward(model->preprocess(load_image(data_path("mask2former/inputs/img0.png"))));
  EXPECT_LE(relative_l2(tensor_of(out.class_logits), case_tensor(*f, "out.class_queries_logits")[0]), 1e-4);
}

// bfloat16 products (the CPU's own where it has them, ATen's otherwise) stay close to
// transformers' float32 outputs and segment nearly every pixel the same way.
TEST(Mask2FormerModel, Bfloat16StaysCloseToFloat32) {
  LoadOptions bf16 = quiet();
  bf16.precision = Precision::Bf16;
  const auto model = Mask2FormerModel::load(mask2former_tiny(), bf16);
  EXPECT_EQ(model->precision(), Precision::Bf16);
  EXPECT_EQ(model->info().precisions, (std::vector<std::string>{"fp32", "bf16"}));
  auto f = mask2former_case("img0_hub");
  const Image image = load_image(data_path("mask2former/inputs/img0.png"));
  const Mask2FormerOutput out = model->forward(model->preprocess(image));
  const double class_error = relative_l2(tensor_of(out.class_logits), case_tensor(*f, "out.class_queries_logits")[0]);
  const double mask_error = relative_l2(tensor_of(out.mask_logits), case_tensor(*f, "out.masks_queries_logits")[0]);
  EXPECT_LE(class_error, 2e-2);  // about 0.5% and 1.5% here
  EXPECT_LE(mask_error, 4e-2);
  EXPECT_GT(mask_error, 1e-6);  // bfloat16 did run
  const Segmentation s = model->segment(image, SegmentationTask::Semantic);
  const at::Tensor expected = case_tensor(*f, "post.semantic.b0.segmentation").to(at::kInt).flatten();
  ASSERT_EQ(s.ids.size(), static_cast<size_t>(expected.numel()));
  size_t equal = 0;
  for (size_t i = 0; i < s.ids.size(); ++i) equal += s.ids[i] == expected.data_ptr<int32_t>()[i];
  EXPECT_GE(static_cast<double>(equal) / s.ids.size(), 0.98);
}

TEST(Mask2FormerModel, RefusesWhatItCannotRun) {
  LoadOptions cuda = quiet();
  cuda.device = parse_device("cuda");
  EXPECT_NE(error_of([&] { Mask2FormerModel::load(mask2former_tiny(), cuda); }).find("device 'cuda"), std::string::npos);
  TempDir dir;
  nlohmann::json config = nlohmann::json::parse(read_text_file(data_path("mask2former/model/config.json")));
  config["backbone_config"]["model_type"] = "resnet";
  write_text_atomically(dir.file("config.json"), config.dump());
  fs::copy_file(data_path("mask2former/model/model.safetensors"), dir.file("model.safetensors"));
  const std::string e = error_of([&] { Mask2FormerModel::load(dir.path(), quiet()); });
  EXPECT_NE(e.find("Swin"), std::string::npos) << e;

  // Label maps are 16-bit PNGs: 65536 classes are refused before any weight is read.
  config["backbone_config"]["model_type"] = "swin";
  config["id2label"] = nlohmann::json::object();
  for (int i = 0; i < 65536; ++i) config["id2label"][std::to_string(i)] = "c";
  write_text_atomically(dir.file("config.json"), config.dump());
  const std::string many = error_of([&] { Mask2FormerModel::load(dir.path(), quiet()); });
  EXPECT_NE(many.find("65536 classes; segkit handles at most 65535"), std::string::npos) << many;
  EXPECT_NE(many.find("config.json"), std::string::npos) << many;
}

}  // namespace
}  // namespace segkit::test
