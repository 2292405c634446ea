// transformers' Mask2Former post-processing against its own outputs on the tiny model's logits
// (tests/data/mask2former/cases), plus hand-built logits for the empty and id-collision cases.
// The expected segments are index.json's per-image `segments_info` of those cases.
#include <gtest/gtest.h>

#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/upsample_bilinear2d.h>
#include <ATen/ops/upsample_nearest2d.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/cpu/resize_argmax.h"
#include "kernels/cpu/resize_planes.h"
#include "mask2former_fixtures.h"
#include "models/mask2former/hf_postprocess.h"
#include "test_util.h"

namespace m2f = segkit::mask2former;
using segkit::Segment;
using segkit::Segmentation;
using segkit::SegmentationOptions;
using segkit::SegmentationTask;
using segkit::test::case_tensor;
using segkit::test::error_of;
using segkit::test::mask2former_case;

namespace {

struct Logits {
  at::Tensor classes;  // Q × (K+1)
  at::Tensor masks;    // Q × h × w
};

Logits case_logits(const segkit::SafetensorsFile& f) {
  return {case_tensor(f, "out.class_queries_logits")[0], case_tensor(f, "out.masks_queries_logits")[0]};
}

// The stored map (narrowed to 8 or 16 bits) as int32, H × W.
at::Tensor expected_map(const segkit::SafetensorsFile& f, const std::string& name) {
  return case_tensor(f, name).to(at::kInt).contiguous();
}

// Compares the map pixel by pixel: transformers' and ATen's float sums may round differently,
// which can flip a near tie, so a few differing pixels are tolerated (none are expected).
void expect_map_matches(const Segmentation& s, const at::Tensor& expected) {
  ASSERT_EQ(s.height, expected.size(0));
  ASSERT_EQ(s.width, expected.size(1));
  ASSERT_EQ(s.ids.size(), static_cast<size_t>(expected.numel()));
  const int32_t* e = expected.data_ptr<int32_t>();
  int64_t differing = 0;
  for (size_t i = 0; i < s.ids.size(); ++i) differing += s.ids[i] != e[i];
  const double agreement = 1.0 - static_cast<double>(differing) / static_cast<double>(s.ids.size());
  ::testing::Test::RecordProperty("differing_pixels", static_cast<int>(differing));
  EXPECT_GE(agreement, 0.999) << differing << " of " << s.ids.size() << " pixels differ";
}

void expect_segments(const Segmentation& s, const std::vector<Segment>& expected) {
  ASSERT_EQ(s.segments.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    EXPECT_EQ(s.segments[i].id, expected[i].id);
    EXPECT_EQ(s.segments[i].label_id, expected[i].label_id);
    EXPECT_EQ(s.segments[i].was_fused, expected[i].was_fused);
    EXPECT_NEAR(s.segments[i].score, expected[i].score, 1e-4);
  }
}

Segment seg(int id, int label_id, bool was_fused, float score) {
  Segment s;
  s.id = id;
  s.label_id = label_id;
  s.was_fused = was_fused;
  s.score = score;
  return s;
}

SegmentationOptions with_threshold(float threshold, std::vector<int> fuse = {}) {
  SegmentationOptions o;
  o.threshold = threshold;
  o.label_ids_to_fuse = std::move(fuse);
  return o;
}

const std::vector<int> kStuff{3, 4, 5, 6};

// index.json fixtures[*].postprocess.*.per_image[0].segments_info.
const std::vector<Segment> kHubInstanceThr0{
    seg(0, 4, false, 0.404817f), seg(1, 4, false, 0.428783f), seg(2, 4, false, 0.434449f),
    seg(3, 2, false, 0.301478f), seg(4, 4, false, 0.377121f), seg(5, 4, false, 0.41219f),
    seg(6, 4, false, 0.343584f), seg(7, 4, false, 0.396626f), seg(8, 4, false, 0.391522f),
    seg(9, 4, false, 0.299456f), seg(10, 4, false, 0.311967f), seg(11, 4, false, 0.306112f)};
const std::vector<Segment> kHubPanopticFused{
    seg(1, 4, true, 0.532356f), seg(1, 4, true, 0.580057f), seg(1, 4, true, 0.607898f),
    seg(1, 4, true, 0.558865f), seg(1, 4, true, 0.561535f), seg(1, 4, true, 0.627086f)};
const std::vector<Segment> kHubPanopticUnfused{
    seg(1, 4, false, 0.532356f), seg(2, 4, false, 0.580057f), seg(3, 4, false, 0.607898f),
    seg(4, 4, false, 0.558865f), seg(5, 4, false, 0.561535f), seg(6, 4, false, 0.627086f)};

const std::vector<Segment> kShortestEdgeInstanceThr0{
    seg(0, 4, false, 0.390641f), seg(1, 4, false, 0.432574f), seg(2, 4, false, 0.380794f),
    seg(3, 4, false, 0.423474f), seg(4, 4, false, 0.387817f), seg(5, 2, false, 0.451042f),
    seg(6, 4, false, 0.450839f), seg(7, 2, false, 0.440833f), seg(8, 4, false, 0.387588f),
    seg(9, 4, false, 0.328695f), seg(10, 2, false, 0.372055f), seg(11, 4, false, 0.309561f)};
const std::vector<Segment> kShortestEdgePanopticFused{
    seg(1, 2, false, 0.512375f), seg(2, 4, true, 0.626074f), seg(3, 2, false, 0.645651f)};
const std::vector<Segment> kShortestEdgePanopticUnfused{
    seg(1, 2, false, 0.512375f), seg(2, 4, false, 0.626074f), seg(3, 2, false, 0.645651f)};

struct CaseExpectations {
  std::string name;
  std::vector<Segment> instance_thr0, panoptic_fused, panoptic_unfused;
};

void check_topk_order(const CaseExpectations& c) {
  // transformers' instance candidates come in topk(sorted=False)'s order, which torch leaves to
  // its selection algorithm; ATen's topk must leave them in the same order.
  const auto f = mask2former_case(c.name);
  const Logits l = case_logits(*f);
  const int64_t k = l.classes.size(1) - 1;
  const at::Tensor scores = at::softmax(l.classes, -1).narrow(1, 0, k).reshape({-1});
  const at::Tensor indices = std::get<1>(at::topk(scores, l.classes.size(0), -1, true, false));
  EXPECT_TRUE(indices.equal(case_tensor(*f, "post.instance.b0.topk_unsorted_indices")))
      << indices << "\nexpected\n" << case_tensor(*f, "post.instance.b0.topk_unsorted_indices");
}

void check_semantic(const CaseExpectations& c) {
  const auto f = mask2former_case(c.name);
  const Logits l = case_logits(*f);
  for (const std::string name : {"post.semantic.b0.segmentation", "post.semantic_nosize.b0.segmentation"}) {
    SCOPED_TRACE(name);
    const at::Tensor expected = expected_map(*f, name);
    const bool sized = name == "post.semantic.b0.segmentation";
    const Segmentation s = m2f::semantic_segmentation(l.classes, l.masks, sized ? expected.size(0) : 0,
                                                      sized ? expected.size(1) : 0);
    EXPECT_EQ(s.task, SegmentationTask::Semantic);
    expect_map_matches(s, expected);
    // One segment per class present, by class.
    std::vector<Segment> classes;
    const int32_t* e = expected.data_ptr<int32_t>();
    for (int label = 0; label < l.classes.size(1) - 1; ++label)
      if (std::find(e, e + expected.numel(), label) != e + expected.numel()) classes.push_back(seg(label, label, false, 0));
    expect_segments(s, classes);
  }
}

void check_instance(const CaseExpectations& c) {
  const auto f = mask2former_case(c.name);
  const Logits l = case_logits(*f);
  {
    SCOPED_TRACE("default (threshold 0.5): nothing scores that high");
    const at::Tensor expected = expected_map(*f, "post.instance.default.b0.segmentation");
    const Segmentation s = m2f::instance_segmentation(l.classes, l.masks, {}, expected.size(0), expected.size(1));
    EXPECT_EQ(s.task, SegmentationTask::Instance);
    expect_map_matches(s, expected);
    expect_segments(s, {});
  }
  {
    SCOPED_TRACE("threshold 0");
    const at::Tensor expected = expected_map(*f, "post.instance.thr0.b0.segmentation");
    const Segmentation s =
        m2f::instance_segmentation(l.classes, l.masks, with_threshold(0), expected.size(0), expected.size(1));
    expect_map_matches(s, expected);
    expect_segments(s, c.instance_thr0);
  }
  {
    SCOPED_TRACE("threshold 0, no target size");
    const at::Tensor expected = expected_map(*f, "post.instance.thr0_nosize.b0.segmentation");
    const Segmentation s = m2f::instance_segmentation(l.classes, l.masks, with_threshold(0), 0, 0);
    expect_map_matches(s, expected);
    expect_segments(s, c.instance_thr0);
  }
}

void check_panoptic(const CaseExpectations& c) {
  const auto f = mask2former_case(c.name);
  const Logits l = case_logits(*f);
  struct Call {
    std::string map;
    SegmentationOptions options;
    bool sized;
    std::vector<Segment> segments;
  };
  const std::vector<Call> calls{
      {"post.panoptic.default.b0.segmentation", {}, true, c.panoptic_unfused},
      {"post.panoptic.thr0_fuse_stuff.b0.segmentation", with_threshold(0, kStuff), true, c.panoptic_fused},
      {"post.panoptic.thr0_fuse_stuff_nosize.b0.segmentation", with_threshold(0, kStuff), false,
       c.panoptic_fused},
      {"post.panoptic.thr0_nofuse.b0.segmentation", with_threshold(0), true, c.panoptic_unfused},
  };
  for (const Call& call : calls) {
    SCOPED_TRACE(call.map);
    const at::Tensor expected = expected_map(*f, call.map);
    const Segmentation s = m2f::panoptic_segmentation(l.classes, l.masks, call.options, call.sized ? expected.size(0) : 0,
                                                      call.sized ? expected.size(1) : 0);
    EXPECT_EQ(s.task, SegmentationTask::Panoptic);
    expect_map_matches(s, expected);
    expect_segments(s, call.segments);
  }
}

void check_panoptic_nothing_kept(const CaseExpectations& c) {
  const auto f = mask2former_case(c.name);
  const Logits l = case_logits(*f);
  for (const auto& [height, width] : {std::pair{341, 512}, std::pair{0, 0}}) {
    const Segmentation s = m2f::panoptic_segmentation(l.classes, l.masks, with_threshold(1.0f), height, width);
    EXPECT_EQ(s.height, height ? height : 384);
    EXPECT_EQ(s.width, width ? width : 384);
    EXPECT_EQ(s.ids, std::vector<int32_t>(static_cast<size_t>(s.height) * s.width, -1));
    EXPECT_TRUE(s.segments.empty());
  }
}

CaseExpectations hub_case() { return {"img0_hub", kHubInstanceThr0, kHubPanopticFused, kHubPanopticUnfused}; }
CaseExpectations shortest_edge_case() {
  return {"img0_shortest_edge", kShortestEdgeInstanceThr0, kShortestEdgePanopticFused, kShortestEdgePanopticUnfused};
}

TEST(Mask2FormerPostprocess, HubTopkUnsortedOrderIsTorchs) { check_topk_order(hub_case()); }
TEST(Mask2FormerPostprocess, ShortestEdgeTopkUnsortedOrderIsTorchs) { check_topk_order(shortest_edge_case()); }
TEST(Mask2FormerPostprocess, HubSemantic) { check_semantic(hub_case()); }
TEST(Mask2FormerPostprocess, ShortestEdgeSemantic) { check_semantic(shortest_edge_case()); }
TEST(Mask2FormerPostprocess, HubInstance) { check_instance(hub_case()); }
TEST(Mask2FormerPostprocess, ShortestEdgeInstance) { check_instance(shortest_edge_case()); }
TEST(Mask2FormerPostprocess, HubPanoptic) { check_panoptic(hub_case()); }
TEST(Mask2FormerPostprocess, ShortestEdgePanoptic) { check_panoptic(shortest_edge_case()); }
TEST(Mask2FormerPostprocess, PanopticNothingKeptIsMinusOneEverywhere) { check_panoptic_nothing_kept(hub_case()); }

// Four queries, each confident of one label and owning one quadrant of the image:
// q0 stuff (label 1, fused), q1 thing 0, q2 stuff again, q3 thing 2.
Logits quadrant_logits() {
  const int64_t size = 8, half = size / 2;
  const int labels[4] = {1, 0, 1, 2};
  Logits l{at::zeros({4, 4}), at::full({4, size, size}, -10.0f)};
  for (int64_t q = 0; q < 4; ++q) {
    l.classes[q][labels[q]] = 5.0f;
    const int64_t row = (q / 2) * half, col = (q % 2) * half;
    l.masks[q].narrow(0, row, half).narrow(1, col, half).fill_(10.0f);
  }
  return l;
}

TEST(Mask2FormerPostprocess, PanopticFusedIdReuseLetsTheNextIdCollide) {
  // transformers reuses the fused label's id for q2 and counts on from it, so q3 gets id 2 like q1.
  const Logits l = quadrant_logits();
  SegmentationOptions options;
  options.label_ids_to_fuse = {1};
  const Segmentation s = m2f::panoptic_segmentation(l.classes, l.masks, options, 16, 16);
  ASSERT_EQ(s.segments.size(), 4u);
  const float score = s.segments[0].score;
  EXPECT_NEAR(score, std::exp(5.0) / (std::exp(5.0) + 3), 1e-6);
  expect_segments(s, {seg(1, 1, true, score), seg(2, 0, false, score), seg(1, 1, true, score), seg(2, 2, false, score)});
  // Quadrant centres: q0 top left, q1 top right, q2 bottom left, q3 bottom right.
  const auto at_pixel = [&](int y, int x) { return s.ids[static_cast<size_t>(y * s.width + x)]; };
  EXPECT_EQ(at_pixel(4, 4), 1);
  EXPECT_EQ(at_pixel(4, 12), 2);
  EXPECT_EQ(at_pixel(12, 4), 1);
  EXPECT_EQ(at_pixel(12, 12), 2);

  // Without fusing, four distinct ids.
  const Segmentation unfused = m2f::panoptic_segmentation(l.classes, l.masks, {}, 0, 0);
  expect_segments(unfused, {seg(1, 1, false, score), seg(2, 0, false, score), seg(3, 1, false, score),
                            seg(4, 2, false, score)});
  EXPECT_EQ(unfused.height, 384);
}

TEST(Mask2FormerPostprocess, PanopticCocoNumberingGivesEverySegmentItsOwnId) {
  const Logits l = quadrant_logits();
  SegmentationOptions options;
  options.label_ids_to_fuse = {1};
  options.transformers_ids = false;
  const Segmentation s = m2f::panoptic_segmentation(l.classes, l.masks, options, 16, 16);
  const float score = s.segments[0].score;
  // q2 joins q0's segment (listed once); q3 gets a new id instead of colliding with q1's.
  expect_segments(s, {seg(1, 1, true, score), seg(2, 0, false, score), seg(3, 2, false, score)});
  EXPECT_EQ(s.ids[12 * 16 + 4], 1);  // q2's quadrant
  EXPECT_EQ(s.ids[12 * 16 + 12], 3);
  options.threshold = 1.0f;  // nothing kept: void, not transformers' -1
  const Segmentation empty = m2f::panoptic_segmentation(l.classes, l.masks, options, 16, 16);
  EXPECT_TRUE(empty.segments.empty());
  EXPECT_EQ(std::count(empty.ids.begin(), empty.ids.end(), 0), 16 * 16);
}

TEST(Mask2FormerPostprocess, InstanceMasksAreEachInstancesWholeMask) {
  auto f = mask2former_case("img0_hub");
  SegmentationOptions options;
  options.threshold = 0.0f;
  const at::Tensor classes = case_tensor(*f, "out.class_queries_logits")[0];
  const at::Tensor masks = case_tensor(*f, "out.masks_queries_logits")[0];
  const Segmentation s = m2f::instance_segmentation(classes, masks, options, 341, 512);
  const size_t plane = 341 * 512;
  ASSERT_EQ(s.instance_masks.size(), s.segments.size() * plane);
  // Every pixel showing instance j in the id map is inside mask j; the last instance is whole.
  for (size_t j = 0; j < s.segments.size(); ++j)
    for (size_t i = 0; i < plane; ++i)
      if (s.ids[i] == static_cast<int>(j)) ASSERT_EQ(s.instance_masks[j * plane + i], 1) << j;
  const size_t last = s.segments.size() - 1;
  for (size_t i = 0; i < plane; ++i)
    if (s.instance_masks[last * plane + i]) ASSERT_EQ(s.ids[i], static_cast<int>(last));
}

TEST(Mask2FormerPostprocess, PanopticDropsNoObjectQueries) {
  Logits l = quadrant_logits();
  l.classes[3][3] = 10.0f;  // q3 now prefers "no object"
  const Segmentation s = m2f::panoptic_segmentation(l.classes, l.masks, {}, 16, 16);
  ASSERT_EQ(s.segments.size(), 3u);
  EXPECT_EQ(s.segments[2].label_id, 1);
}

TEST(Mask2FormerPostprocess, PanopticAreaRatioIsComparedAsPythonFloats) {
  // Masks already 384×384 pass the resize unchanged. q1 covers 5 pixels, one of which the more
  // confident q0 takes: q1 keeps 4/5, which as float32 (0.800000012) passes transformers'
  // `> 0.8` between Python floats, though not a float32 comparison with 0.8f.
  at::Tensor classes = at::zeros({2, 2});
  classes[0][0] = 5.0f;
  classes[1][0] = 3.0f;
  at::Tensor masks = at::full({2, 384, 384}, -10.0f);
  masks[1][7].narrow(0, 10, 5).fill_(10.0f);
  masks[0][7][12] = 10.0f;
  const Segmentation s = m2f::panoptic_segmentation(classes, masks, {}, 0, 0);
  ASSERT_EQ(s.segments.size(), 2u);
  EXPECT_EQ(s.segments[1].id, 2);
  EXPECT_EQ(s.ids[7 * 384 + 10], 2);
  EXPECT_EQ(s.ids[7 * 384 + 12], 1);
  SegmentationOptions stricter;
  stricter.overlap_mask_area_threshold = 0.81f;
  EXPECT_EQ(m2f::panoptic_segmentation(classes, masks, stricter, 0, 0).segments.size(), 1u);
}

TEST(Mask2FormerPostprocess, TaskNames) {
  for (SegmentationTask task : {SegmentationTask::Semantic, SegmentationTask::Instance, SegmentationTask::Panoptic})
    EXPECT_EQ(segkit::parse_segmentation_task(segkit::segmentation_task_name(task)), task);
  EXPECT_STREQ(segkit::segmentation_task_name(SegmentationTask::Panoptic), "panoptic");
  EXPECT_EQ(error_of([] { segkit::parse_segmentation_task("Panoptic"); }),
            "task 'Panoptic': not one of semantic, instance, panoptic");
}

TEST(Mask2FormerPostprocess, RejectsMisshapedInputs) {
  const Logits l = quadrant_logits();
  EXPECT_NE(error_of([&] { m2f::semantic_segmentation(l.classes, l.masks[0], 0, 0); }).find("mask logits"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m2f::instance_segmentation(l.classes, l.masks, {}, 16, 0); }).find("target size"),
            std::string::npos);
}

}  // namespace

namespace {

// Random logits of a 12-label model with 23 queries at 1/4 of a 96×120 input, a few queries
// sure of a label so that instance and panoptic keep some.
Logits random_logits() {
  at::manual_seed(11);
  // Smooth masks (blobs, not pixel noise), so that queries own regions of their own.
  const at::Tensor coarse = at::randn({1, 23, 4, 5}) * 6;
  Logits l{at::randn({23, 13}) * 2, at::upsample_bilinear2d(coarse, {24, 30}, false)[0] + at::randn({23, 24, 30}) * 0.5};
  for (int q = 0; q < 9; ++q) l.classes[q][q % 12] += 9;
  return l;
}

// Target sizes: up by inexact ratios, exactly double, equal, down, and none.
const std::pair<int, int> kTargets[] = {{1200, 1801}, {768, 768}, {384, 384}, {97, 131}, {0, 0}};

}  // namespace

TEST(Mask2FormerPostprocess, FusedResizeGivesWhatAtensResizeGives) {
  // All three resize the mask logits to 384×384 with kernels/cpu/resize_planes where the CPU has
  // it, semantic and panoptic band by band into kernels/cpu/resize_argmax; the same results as
  // resizing with ATen (the path of CPUs without them).
  if (!segkit::kernels::resize_argmax_available() || !segkit::kernels::resize_planes_available())
    GTEST_SKIP() << "no fused resize on this CPU";
  const Logits l = random_logits();
  SegmentationOptions options;
  options.threshold = 0.5f;
  options.overlap_mask_area_threshold = 0.2f;  // some queries kept, some not: the areas count
  for (const auto& [h, w] : kTargets) {
    SCOPED_TRACE(std::to_string(h) + "×" + std::to_string(w));
    const Segmentation semantic = m2f::semantic_segmentation(l.classes, l.masks, h, w);
    const Segmentation panoptic = m2f::panoptic_segmentation(l.classes, l.masks, options, h, w);
    const Segmentation instance = m2f::instance_segmentation(l.classes, l.masks, options, h, w);
    EXPECT_GE(panoptic.segments.size(), 3u);
    EXPECT_GE(instance.segments.size(), 3u);
    Segmentation semantic_aten, panoptic_aten, instance_aten;
    {
      const segkit::test::KernelCeiling ceiling(segkit::core::CpuKernels::portable);
      semantic_aten = m2f::semantic_segmentation(l.classes, l.masks, h, w);
      panoptic_aten = m2f::panoptic_segmentation(l.classes, l.masks, options, h, w);
      instance_aten = m2f::instance_segmentation(l.classes, l.masks, options, h, w);
    }
    EXPECT_EQ(semantic.ids, semantic_aten.ids);
    expect_segments(semantic, semantic_aten.segments);
    EXPECT_EQ(panoptic.ids, panoptic_aten.ids);
    expect_segments(panoptic, panoptic_aten.segments);
    EXPECT_EQ(instance.ids, instance_aten.ids);
    EXPECT_EQ(instance.instance_masks, instance_aten.instance_masks);
    expect_segments(instance, instance_aten.segments);
    for (size_t i = 0; i < instance.segments.size() && i < instance_aten.segments.size(); ++i)
      EXPECT_EQ(instance.segments[i].score, instance_aten.segments[i].score) << "the same mask scores, to the bit";
  }
}

TEST(Mask2FormerPostprocess, InstanceScoresAsTransformersWhateverTheCandidatesKept) {
  // Only candidates whose class score reaches the threshold have their masks scored; the scores
  // are still transformers' (every candidate's mask through ATen, its float32 sums): with several
  // such candidates, and with a single one, whose lone row ATen would sum in another order.
  Logits lone = random_logits();
  lone.classes = lone.classes * 0.1;  // every class score near 1/13
  lone.classes[2][5] += 20;           // but this one
  struct Case {
    const char* name;
    Logits logits;
    float threshold;
    int64_t candidates;  // reaching the threshold on their class score; 0: not checked
  };
  for (const Case& c : {Case{"several", random_logits(), 0.3f, 0}, Case{"one", lone, 0.5f, 1}}) {
    SCOPED_TRACE(c.name);
    const Logits& l = c.logits;
    const int64_t queries = l.classes.size(0), labels = l.classes.size(1) - 1;
    const auto [top, index] =
        at::topk(at::softmax(l.classes, -1).narrow(1, 0, labels).reshape({-1}), queries, -1, true, false);
    if (c.candidates) EXPECT_EQ(top.ge(c.threshold).sum().item<int64_t>(), c.candidates);
    const at::Tensor masks = at::upsample_bilinear2d(l.masks.unsqueeze(0), {384, 384}, false)[0].index_select(
        0, index.div(labels, "floor"));
    const at::Tensor binary = masks.gt(0).to(at::kFloat);
    const at::Tensor expected = top * ((masks.sigmoid().flatten(1) * binary.flatten(1)).sum(1) /
                                       (binary.flatten(1).sum(1) + 1e-6));
    SegmentationOptions options;
    options.threshold = c.threshold;
    const Segmentation s = m2f::instance_segmentation(l.classes, l.masks, options, 0, 0);
    std::vector<float> want;
    for (int64_t j = 0; j < queries; ++j)
      if (expected[j].item<float>() >= c.threshold && binary[j].sum().item<float>() > 0)
        want.push_back(expected[j].item<float>());
    EXPECT_GE(want.size(), 1u);
    ASSERT_EQ(s.segments.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(s.segments[i].score, want[i], 5e-7) << i;
  }
}

TEST(Mask2FormerPostprocess, InstanceMasksAreAtensNearestResize) {
  // Each kept instance's mask is its 384×384 binary mask through at::upsample_nearest2d, and the
  // id map the last instance over each pixel.
  const Logits l = random_logits();
  SegmentationOptions options;
  options.threshold = 0.3f;
  const at::Tensor binary =
      at::upsample_bilinear2d(l.masks.unsqueeze(0), {384, 384}, false)[0].gt(0).to(at::kFloat);
  for (const auto& [h, w] : kTargets) {
    SCOPED_TRACE(std::to_string(h) + "×" + std::to_string(w));
    const Segmentation s = m2f::instance_segmentation(l.classes, l.masks, options, h, w);
    ASSERT_GE(s.segments.size(), 3u);
    const int64_t height = h ? h : 384, width = w ? w : 384, plane = height * width;
    ASSERT_EQ(s.instance_masks.size(), s.segments.size() * size_t(plane));
    std::vector<at::Tensor> resized;  // each query's mask through ATen
    for (int64_t q = 0; q < binary.size(0); ++q) {
      at::Tensor r = binary[q];
      if (h) r = at::upsample_nearest2d(r.unsqueeze(0).unsqueeze(0), {h, w})[0][0];
      resized.push_back(r.to(at::kByte).contiguous());
    }
    std::vector<int32_t> ids(size_t(plane), -1);
    for (size_t j = 0; j < s.segments.size(); ++j) {
      const uint8_t* mask = s.instance_masks.data() + j * size_t(plane);
      EXPECT_TRUE(std::any_of(resized.begin(), resized.end(), [&](const at::Tensor& r) {
        return std::equal(mask, mask + plane, r.data_ptr<uint8_t>());
      })) << "segment " << j << " is no query's resized mask";
      for (int64_t i = 0; i < plane; ++i)
        if (mask[i]) ids[size_t(i)] = int32_t(j);
    }
    EXPECT_EQ(s.ids, ids);
  }
}
