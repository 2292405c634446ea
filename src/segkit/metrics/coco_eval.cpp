// COCOeval (segm) re-implemented from its documented behaviour; see include/segkit/coco_eval.h
// and tests/data/metrics/FIXTURES.md section 4 for the rules reproduced here.
#include "segkit/coco_eval.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include "core/json_read.h"
#include "core/parallel.h"
#include "formats/coco_segmentation.h"
#include "metrics/numpy_sum.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/rle.h"

namespace segkit {

namespace {

using nlohmann::json;

constexpr int kMaxDets[3] = {1, 10, 100};
constexpr double kAreaRanges[4][2] = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
constexpr double kEps = 2.220446049250313e-16;  // np.spacing(1)

// numpy.linspace(start, stop, num): k * ((stop - start) / (num - 1)) + start, last = stop.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> y(static_cast<size_t>(num));
  const double step = (stop - start) / (num - 1);
  for (int k = 0; k < num; ++k) y[static_cast<size_t>(k)] = static_cast<double>(k) * step + start;
  y.back() = stop;
  return y;
}

struct Annotation {
  int64_t id = 0;
  Rle rle;
  double area = 0;
  bool crowd = false;
  double score = 0;
};

// Detections and gts of one (image, category) pair, as COCOeval's _gts/_dts lists.
struct Group {
  int64_t image_id = 0;
  size_t cat = 0, img = 0;  // positions in the sorted id lists
  std::vector<size_t> gts, dts;
};

// evaluateImg's output for one group and one area range.
struct ImageEval {
  size_t img = 0;
  std::vector<double> scores;      // detections in score order (at most 100)
  std::vector<int64_t> matches;    // T × D: matched gt id, 0 = none
  std::vector<uint8_t> dt_ignore;  // T × D
  std::vector<uint8_t> gt_ignore;  // G, ignored ones last
};


int64_t int_field(const json& obj, const char* key, const std::string& ctx) {
  if (!obj.is_object() || !obj.contains(key)) fail(ctx, std::string("missing \"") + key + "\"");
  const json& v = obj.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // Whole numbers written as floats (1.0) are ids too, but only within int64's range.
    if (std::floor(d) == d && d >= -9.223372036854775808e18 && d < 9.223372036854775808e18) return static_cast<int64_t>(d);
  }
  fail(ctx, std::string("\"") + key + "\" must be an integer");
}

double number_field(const json& obj, const char* key, const std::string& ctx) {
  if (!obj.contains(key) || !obj.at(key).is_number()) fail(ctx, std::string("missing or non-numeric \"") + key + "\"");
  return obj.at(key).get<double>();
}

const json& array_field(const json& root, const char* key, const std::string& name, bool required) {
  static const json empty = json::array();
  if (!root.contains(key)) {
    if (required) fail(name, std::string("missing \"") + key + "\" list");
    return empty;
  }
  if (!root.at(key).is_array()) fail(name, std::string("\"") + key + "\" must be a list");
  return root.at(key);
}

ImageEval evaluate_image(const Group& g, const std::vector<Annotation>& gts, const std::vector<Annotation>& dts,
                         const std::vector<std::vector<double>>& ious, const double range[2],
                         const std::vector<double>& iou_thrs) {
  const size_t G = g.gts.size(), D = g.dts.size(), T = iou_thrs.size();
  ImageEval e;
  e.img = g.img;
  std::vector<uint8_t> ignore(G);
  for (size_t j = 0; j < G; ++j) {
    const Annotation& a = gts[g.gts[j]];
    ignore[j] = a.crowd || a.area < range[0] || a.area > range[1];
  }
  std::vector<size_t> order(G);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ignore[a] < ignore[b]; });
  e.gt_ignore.resize(G);
  for (size_t j = 0; j < G; ++j) e.gt_ignore[j] = ignore[order[j]];
  e.matches.assign(T * D, 0);
  e.dt_ignore.assign(T * D, 0);
  for (size_t d = 0; d < D; ++d) e.scores.push_back(dts[g.dts[d]].score);
  if (G > 0 && D > 0) {
    std::vector<int64_t> gt_matched(T * G, 0);  // detection id, 0 = free
    for (size_t t = 0; t < T; ++t) {
      for (size_t d = 0; d < D; ++d) {
        double best = std::min(iou_thrs[t], 1 - 1e-10);
        long m = -1;
        for (size_t j = 0; j < G; ++j) {
          const Annotation& gt = gts[g.gts[order[j]]];
          if (gt_matched[t * G + j] > 0 && !gt.crowd) continue;  // taken, and only crowds absorb more
          if (m > -1 && e.gt_ignore[static_cast<size_t>(m)] == 0 && e.gt_ignore[j] == 1) break;
          const double iou = ious[d][order[j]];
          if (iou < best) continue;
          best = iou;
          m = static_cast<long>(j);
        }
        if (m == -1) continue;
        e.dt_ignore[t * D + d] = e.gt_ignore[static_cast<size_t>(m)];
        e.matches[t * D + d] = gts[g.gts[order[static_cast<size_t>(m)]]].id;
        gt_matched[t * G + static_cast<size_t>(m)] = dts[g.dts[d]].id;
      }
    }
  }
  for (size_t d = 0; d < D; ++d) {
    const double area = dts[g.dts[d]].area;
    const bool outside = area < range[0] || area > range[1];
    for (size_t t = 0; t < T; ++t)
      if (e.matches[t * D + d] == 0 && outside) e.dt_ignore[t * D + d] = 1;
  }
  return e;
}

}  // namespace

std::vector<double> coco_iou_thresholds() { return linspace(0.5, 0.95, static_cast<int>(std::round((0.95 - .5) / .05)) + 1); }
std::vector<double> coco_recall_thresholds() { return linspace(0.0, 1.0, static_cast<int>(std::round((1.00 - .0) / .01)) + 1); }

CocoEvalResult coco_evaluate_segm(const std::string& gt_text, const std::string& gt_name, const std::string& res_text,
                                  const std::string& res_name, int threads) {
  const json gt_root = parse_json(gt_text, gt_name);
  if (!gt_root.is_object()) fail(gt_name, "COCO ground truth must be a JSON object");
  const json res_root = parse_json(res_text, res_name);
  if (!res_root.is_array()) fail(res_name, "results must be a JSON list of detections");

  // Images and categories.
  std::map<int64_t, std::pair<int64_t, int64_t>> image_size;  // id -> (height, width)
  for (const json& im : array_field(gt_root, "images", gt_name, true)) {
    const std::string ctx = gt_name + ": image " + (im.is_object() && im.contains("id") ? im["id"].dump() : "?");
    image_size[int_field(im, "id", ctx)] = {int_field(im, "height", ctx), int_field(im, "width", ctx)};
  }
  std::set<int64_t> cat_set;
  for (const json& c : array_field(gt_root, "categories", gt_name, true))
    cat_set.insert(int_field(c, "id", gt_name + ": category"));
  std::vector<int64_t> img_ids, cat_ids(cat_set.begin(), cat_set.end());
  for (const auto& kv : image_size) img_ids.push_back(kv.first);
  auto img_pos = [&](int64_t id) { return static_cast<size_t>(std::lower_bound(img_ids.begin(), img_ids.end(), id) - img_ids.begin()); };
  auto cat_pos = [&](int64_t id) { return static_cast<size_t>(std::lower_bound(cat_ids.begin(), cat_ids.end(), id) - cat_ids.begin()); };

  std::map<std::pair<size_t, size_t>, Group> groups;  // (category, image) positions
  std::vector<Annotation> gts, dts;
  const json& anns = array_field(gt_root, "annotations", gt_name, false);
  for (size_t i = 0; i < anns.size(); ++i) {
    const json& a = anns[i];
    const std::string ctx = gt_name + ": annotation " + std::to_string(i);
    const int64_t image_id = int_field(a, "image_id", ctx), cat = int_field(a, "category_id", ctx);
    // COCOeval only loads annotations of known images and categories.
    if (!image_size.count(image_id) || !cat_set.count(cat)) continue;
    Annotation g;
    g.id = int_field(a, "id", ctx);
    g.area = number_field(a, "area", ctx);
    g.crowd = a.contains("iscrowd") && !a["iscrowd"].is_null() && int_field(a, "iscrowd", ctx) != 0;
    if (!a.contains("segmentation")) fail(ctx, "missing \"segmentation\"");
    const auto [h, w] = image_size[image_id];
    g.rle = rle_from_coco_segmentation(a["segmentation"], h, w, ctx);
    Group& grp = groups[{cat_pos(cat), img_pos(image_id)}];
    grp.image_id = image_id;
    grp.gts.push_back(gts.size());
    gts.push_back(std::move(g));
  }
  // loadRes: ids are 1-based positions; the first result decides box-style areas.
  const bool box_results = !res_root.empty() && res_root[0].is_object() && res_root[0].contains("bbox") &&
                           res_root[0]["bbox"].is_array() && !res_root[0]["bbox"].empty();
  for (size_t i = 0; i < res_root.size(); ++i) {
    const json& r = res_root[i];
    const std::string ctx = res_name + ": result " + std::to_string(i);
    if (!r.is_object()) fail(ctx, "must be an object");
    const int64_t image_id = int_field(r, "image_id", ctx), cat = int_field(r, "category_id", ctx);
    if (!image_size.count(image_id))
      fail(ctx, "image_id " + std::to_string(image_id) + " is not an image of " + gt_name);
    Annotation d;
    d.id = static_cast<int64_t>(i) + 1;
    d.score = number_field(r, "score", ctx);
    const auto [h, w] = image_size[image_id];
    if (box_results) {
      const json& bb = r.contains("bbox") ? r["bbox"] : json();
      if (!bb.is_array() || bb.size() != 4) fail(ctx, "\"bbox\" must be [x, y, w, h]");
      const double x = bb[0].get<double>(), y = bb[1].get<double>(), bw = bb[2].get<double>(), bh = bb[3].get<double>();
      d.area = bw * bh;
      d.rle = r.contains("segmentation") ? rle_from_coco_segmentation(r["segmentation"], h, w, ctx)
                                         : rle_from_bbox({x, y, bw, bh}, h, w);
    } else {
      if (!r.contains("segmentation")) fail(ctx, "missing \"segmentation\"");
      d.rle = rle_from_coco_segmentation(r["segmentation"], h, w, ctx);
      d.area = static_cast<double>(rle_area(d.rle));
    }
    if (!cat_set.count(cat)) continue;  // COCOeval drops these silently
    Group& grp = groups[{cat_pos(cat), img_pos(image_id)}];
    grp.image_id = image_id;
    grp.dts.push_back(dts.size());
    dts.push_back(std::move(d));
  }

  const std::vector<double> iou_thrs = coco_iou_thresholds(), rec_thrs = coco_recall_thresholds();
  const size_t T = iou_thrs.size(), R = rec_thrs.size(), K = cat_ids.size(), A = 4, M = 3;

  // evaluate(): per group, detections in score order (stable), the first 100, their IoUs.
  std::vector<Group*> work;
  for (auto& [key, g] : groups) {
    g.cat = key.first;
    g.img = key.second;
    std::stable_sort(g.dts.begin(), g.dts.end(), [&](size_t a, size_t b) { return dts[a].score > dts[b].score; });
    if (g.dts.size() > static_cast<size_t>(kMaxDets[2])) g.dts.resize(kMaxDets[2]);
    work.push_back(&g);
  }
  std::vector<std::array<ImageEval, 4>> evals(work.size());
  parallel_for(work.size(), threads, [&](size_t w, size_t) {
    const Group& g = *work[w];
    std::vector<std::vector<double>> ious(g.dts.size(), std::vector<double>(g.gts.size()));
    for (size_t d = 0; d < g.dts.size(); ++d)
      for (size_t j = 0; j < g.gts.size(); ++j) ious[d][j] = rle_iou(dts[g.dts[d]].rle, gts[g.gts[j]].rle, gts[g.gts[j]].crowd);
    for (size_t a = 0; a < A; ++a) evals[w][a] = evaluate_image(g, gts, dts, ious, kAreaRanges[a], iou_thrs);
  });

  // accumulate(): precision[T][R][K][A][M], recall[T][K][A][M], -1 where undefined.
  std::vector<double> precision(T * R * K * A * M, -1.0), recall(T * K * A * M, -1.0);
  auto P = [&](size_t t, size_t r, size_t k, size_t a, size_t m) -> double& { return precision[(((t * R + r) * K + k) * A + a) * M + m]; };
  auto Rc = [&](size_t t, size_t k, size_t a, size_t m) -> double& { return recall[((t * K + k) * A + a) * M + m]; };
  CocoEvalResult result;
  result.category_ids = cat_ids;
  result.per_category_num_gt.assign(K, 0);
  std::vector<std::vector<size_t>> by_cat(K);  // work items per category, ascending image (map order)
  for (size_t w = 0; w < work.size(); ++w) by_cat[work[w]->cat].push_back(w);
  for (size_t k = 0; k < K; ++k) {
    for (size_t w : by_cat[k])
      for (uint8_t ig : evals[w][0].gt_ignore) result.per_category_num_gt[k] += ig == 0;
    if (by_cat[k].empty()) continue;
    for (size_t a = 0; a < A; ++a) {
      for (size_t m = 0; m < M; ++m) {
        const size_t max_det = static_cast<size_t>(kMaxDets[m]);
        std::vector<double> scores;
        std::vector<std::pair<const ImageEval*, size_t>> refs;  // (image eval, detection index)
        size_t npig = 0;
        for (size_t w : by_cat[k]) {
          const ImageEval& e = evals[w][a];
          for (size_t d = 0; d < std::min(max_det, e.scores.size()); ++d) {
            scores.push_back(e.scores[d]);
            refs.emplace_back(&e, d);
          }
          for (uint8_t ig : e.gt_ignore) npig += ig == 0;
        }
        if (npig == 0) continue;
        std::vector<size_t> inds(scores.size());
        std::iota(inds.begin(), inds.end(), 0);
        std::stable_sort(inds.begin(), inds.end(), [&](size_t x, size_t y) { return -scores[x] < -scores[y]; });
        const size_t nd = inds.size();
        std::vector<double> rc(nd), pr(nd);
        for (size_t t = 0; t < T; ++t) {
          double tp = 0, fp = 0;
          for (size_t i = 0; i < nd; ++i) {
            const auto [e, d] = refs[inds[i]];
            const size_t D = e->scores.size();
            const bool matched = e->matches[t * D + d] != 0, ignored = e->dt_ignore[t * D + d] != 0;
            if (!ignored) (matched ? tp : fp) += 1;
            rc[i] = tp / static_cast<double>(npig);
            pr[i] = tp / (fp + tp + kEps);
          }
          Rc(t, k, a, m) = nd ? rc[nd - 1] : 0;
          for (size_t i = nd; i-- > 1;)
            if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          for (size_t r = 0; r < R; ++r) {
            const size_t pi = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), rec_thrs[r]) - rc.begin());
            if (pi >= nd) {
              for (size_t rr = r; rr < R; ++rr) P(t, rr, k, a, m) = 0;
              break;
            }
            P(t, r, k, a, m) = pr[pi];
          }
        }
      }
    }
  }

  // summarize(): mean of the entries > -1 of each slice, in numpy's flattening order.
  auto summarize = [&](bool ap, int iou_index /* -1 = all */, size_t a, size_t m) {
    std::vector<double> s;
    for (size_t t = 0; t < T; ++t) {
      if (iou_index >= 0 && t != static_cast<size_t>(iou_index)) continue;
      if (ap) {
        for (size_t r = 0; r < R; ++r)
          for (size_t k = 0; k < K; ++k) s.push_back(P(t, r, k, a, m));
      } else {
        for (size_t k = 0; k < K; ++k) s.push_back(Rc(t, k, a, m));
      }
    }
    return numpy_mean_valid(s);
  };
  // np.where(iouThr == p.iouThrs): exact comparison, as the reference does.
  auto thr_index = [&](double v) {
    for (size_t t = 0; t < T; ++t)
      if (iou_thrs[t] == v) return static_cast<int>(t);
    return -2;  // matches nothing: an empty slice, so -1
  };
  const int t50 = thr_index(.5), t75 = thr_index(.75);
  auto summarize_at = [&](bool ap, int t, size_t a, size_t m) { return t == -2 ? -1.0 : summarize(ap, t, a, m); };
  result.stats = {summarize(true, -1, 0, 2),  summarize_at(true, t50, 0, 2), summarize_at(true, t75, 0, 2),
                  summarize(true, -1, 1, 2),  summarize(true, -1, 2, 2),     summarize(true, -1, 3, 2),
                  summarize(false, -1, 0, 0), summarize(false, -1, 0, 1),    summarize(false, -1, 0, 2),
                  summarize(false, -1, 1, 2), summarize(false, -1, 2, 2),    summarize(false, -1, 3, 2)};
  for (size_t k = 0; k < K; ++k) {
    std::vector<double> ap, ap50, ar;
    for (size_t t = 0; t < T; ++t) {
      for (size_t r = 0; r < R; ++r) {
        ap.push_back(P(t, r, k, 0, 2));
        if (static_cast<int>(t) == t50) ap50.push_back(P(t, r, k, 0, 2));
      }
      ar.push_back(Rc(t, k, 0, 2));
    }
    result.per_category_ap.push_back(numpy_mean_valid(ap));
    result.per_category_ap50.push_back(numpy_mean_valid(ap50));
    result.per_category_ar100.push_back(numpy_mean_valid(ar));
  }
  return result;
}

CocoEvalResult coco_evaluate_segm_files(const std::string& gt_path, const std::string& results_path, int threads) {
  return coco_evaluate_segm(read_text_file(gt_path), gt_path, read_text_file(results_path), results_path, threads);
}

std::string coco_eval_json(const CocoEvalResult& r) {
  json j;
  j["stats"] = std::vector<double>(r.stats.begin(), r.stats.end());
  json per = json::object();
  for (size_t k = 0; k < r.category_ids.size(); ++k) per[std::to_string(r.category_ids[k])] = r.per_category_ap[k];
  j["per_category_ap"] = per;
  return j.dump(2) + "\n";
}

std::string coco_eval_table(const CocoEvalResult& r) {
  static const char* rows[12] = {
      "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
      "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
      "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
      "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
      "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
      "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
      "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"};
  std::ostringstream os;
  char buf[160];
  for (int i = 0; i < 12; ++i) {
    std::snprintf(buf, sizeof buf, " %s = %.3f\n", rows[i], r.stats[static_cast<size_t>(i)]);
    os << buf;
  }
  os << "\ncategory        AP    AP50   AR100  num_gt\n";
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    std::snprintf(buf, sizeof buf, "%8lld  %6.3f  %6.3f  %6.3f  %6lld\n", static_cast<long long>(r.category_ids[k]),
                  r.per_category_ap[k], r.per_category_ap50[k], r.per_category_ar100[k],
                  static_cast<long long>(r.per_category_num_gt[k]));
    os << buf;
  }
  return os.str();
}

}  // namespace segkit
