// Panoptic quality, following panopticapi's pq_compute_single_core and PQStat.pq_average.
#include "segkit/panoptic.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/json_read.h"
#include "core/parallel.h"
#include "image/png_decode.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

using nlohmann::json;

struct Segment {
  uint32_t id = 0;
  int64_t category = 0;
  bool crowd = false;
  double area = 0;  // gt: from the JSON; pred: counted from the PNG
};

struct ImageTask {
  int64_t image_id = 0;
  std::string gt_file, pred_file;
  std::vector<Segment> gt, pred;
};

json load_json(const std::string& path) { return read_json_file(path); }

const json& field(const json& obj, const char* key, const std::string& ctx) {
  if (!obj.is_object() || !obj.contains(key)) fail(ctx, std::string("missing \"") + key + "\"");
  return obj.at(key);
}

int64_t int_field(const json& obj, const char* key, const std::string& ctx) {
  const json& v = field(obj, key, ctx);
  if (!v.is_number_integer()) fail(ctx, std::string("\"") + key + "\" must be an integer");
  return v.get<int64_t>();
}

std::vector<Segment> segments_of(const json& ann, const std::string& ctx, bool gt) {
  std::vector<Segment> out;
  const json& infos = field(ann, "segments_info", ctx);
  if (!infos.is_array()) fail(ctx, "\"segments_info\" must be a list");
  for (const json& s : infos) {
    Segment seg;
    const int64_t id = int_field(s, "id", ctx + ": segment");
    if (id < 0 || id >= (int64_t{1} << 24)) fail(ctx, "segment id " + std::to_string(id) + " does not fit in RGB");
    seg.id = static_cast<uint32_t>(id);
    seg.category = int_field(s, "category_id", ctx + ": segment " + std::to_string(id));
    if (gt) {
      seg.crowd = s.contains("iscrowd") && int_field(s, "iscrowd", ctx) == 1;
      const json& area = field(s, "area", ctx + ": segment " + std::to_string(id));
      if (!area.is_number()) fail(ctx, "segment " + std::to_string(id) + ": \"area\" must be a number");
      seg.area = area.get<double>();
    }
    out.push_back(seg);
  }
  return out;
}

// Segment ids of an RGB PNG (R + 256 G + 65536 B), row-major.
std::vector<uint32_t> load_id_png(const std::string& path, int& width, int& height) {
  const cv::Mat m = decode_png_unchanged(read_file(path), path);
  if (m.depth() != CV_8U || (m.channels() != 3 && m.channels() != 4))
    fail(path, "panoptic PNG must be 8-bit RGB (segment id = R + 256 G + 65536 B)");
  width = m.cols;
  height = m.rows;
  std::vector<uint32_t> ids(static_cast<size_t>(m.rows) * m.cols);
  const int ch = m.channels();
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* p = m.ptr<uint8_t>(y);
    uint32_t* out = ids.data() + static_cast<size_t>(y) * m.cols;
    for (int x = 0; x < m.cols; ++x, p += ch) out[x] = p[2] + 256u * p[1] + 65536u * p[0];  // OpenCV stores BGR
  }
  return ids;
}

// One image's counts, and its matched IoUs in the reference's order (summed later in that order).
struct ImageStats {
  std::map<int64_t, PanopticClassStats> counts;
  std::vector<std::pair<int64_t, double>> ious;
};

ImageStats evaluate_image(const ImageTask& task, const std::map<int64_t, bool>& categories) {
  int gw = 0, gh = 0, pw = 0, ph = 0;
  const std::vector<uint32_t> gt_ids = load_id_png(task.gt_file, gw, gh);
  const std::vector<uint32_t> pred_ids = load_id_png(task.pred_file, pw, ph);
  if (gw != pw || gh != ph)
    fail(task.pred_file, "prediction is " + std::to_string(pw) + "x" + std::to_string(ph) + " but the ground truth is " +
                             std::to_string(gw) + "x" + std::to_string(gh));
  const std::string image = "image " + std::to_string(task.image_id);
  // Dense indices: gt segments 0..G-1, then VOID (unless 0 is a segment), then "other";
  // pred segments 0..P-1, then VOID.
  std::vector<Segment> gt = task.gt, pred = task.pred;
  const size_t G = gt.size(), P = pred.size();
  std::unordered_map<uint32_t, size_t> gt_index, pred_index;
  for (size_t i = 0; i < G; ++i) gt_index[gt[i].id] = i;  // a repeated id: the last entry wins, as in a dict
  for (size_t i = 0; i < P; ++i) pred_index[pred[i].id] = i;
  const size_t gt_void = gt_index.count(0) ? gt_index[0] : G, gt_other = G + 1;
  const size_t pred_void = P, cols = P + 1;
  std::vector<int64_t> inter((G + 2) * cols, 0);
  std::vector<int64_t> pred_area(P, 0);
  uint32_t last_g = UINT32_MAX, last_p = UINT32_MAX;
  size_t gi = 0, pi = 0;
  for (size_t i = 0; i < gt_ids.size(); ++i) {
    if (gt_ids[i] != last_g) {  // label maps come in runs: look ids up once per run
      last_g = gt_ids[i];
      auto it = gt_index.find(last_g);
      gi = it != gt_index.end() ? it->second : (last_g == 0 ? gt_void : gt_other);
    }
    if (pred_ids[i] != last_p) {
      last_p = pred_ids[i];
      auto it = pred_index.find(last_p);
      if (it != pred_index.end()) pi = it->second;
      else if (last_p == 0) pi = pred_void;
      else fail(task.pred_file, image + ": segment id " + std::to_string(last_p) + " is in the PNG but not in the JSON");
    }
    ++inter[gi * cols + pi];
    if (pi < P) ++pred_area[pi];
  }
  for (size_t p = 0; p < P; ++p) {
    if (pred_index[pred[p].id] != p) continue;  // shadowed duplicate
    if (pred_area[p] == 0)
      fail(task.pred_file, image + ": segment id " + std::to_string(pred[p].id) + " is in the JSON but not in the PNG");
    if (!categories.count(pred[p].category))
      fail(task.pred_file, image + ": segment id " + std::to_string(pred[p].id) + " has unknown category_id " +
                               std::to_string(pred[p].category));
    pred[p].area = static_cast<double>(pred_area[p]);
  }

  ImageStats stats;
  std::vector<bool> gt_matched(G, false), pred_matched(P, false);
  // Pairs in ascending (gt id, pred id) order, as np.unique orders them.
  std::vector<size_t> gt_order, pred_order;
  for (size_t g = 0; g < G; ++g)
    if (gt_index[gt[g].id] == g) gt_order.push_back(g);
  for (size_t p = 0; p < P; ++p)
    if (pred_index[pred[p].id] == p) pred_order.push_back(p);
  std::sort(gt_order.begin(), gt_order.end(), [&](size_t a, size_t b) { return gt[a].id < gt[b].id; });
  std::sort(pred_order.begin(), pred_order.end(), [&](size_t a, size_t b) { return pred[a].id < pred[b].id; });
  for (size_t g : gt_order) {
    if (gt[g].crowd) continue;
    for (size_t p : pred_order) {
      const int64_t i = inter[g * cols + p];
      if (i == 0 || gt[g].category != pred[p].category) continue;
      const double uni = pred[p].area + gt[g].area - static_cast<double>(i) - static_cast<double>(inter[gt_void * cols + p]);
      const double iou = static_cast<double>(i) / uni;
      if (iou > 0.5) {
        stats.counts[gt[g].category].tp += 1;
        stats.ious.emplace_back(gt[g].category, iou);
        gt_matched[g] = true;
        pred_matched[p] = true;
      }
    }
  }
  std::map<int64_t, size_t> crowd_of_category;  // the last crowd segment listed wins
  for (size_t g = 0; g < G; ++g) {
    if (gt_index[gt[g].id] != g || gt_matched[g]) continue;
    if (gt[g].crowd) {
      crowd_of_category[gt[g].category] = g;
      continue;
    }
    stats.counts[gt[g].category].fn += 1;
  }
  for (size_t p = 0; p < P; ++p) {
    if (pred_index[pred[p].id] != p || pred_matched[p]) continue;
    int64_t covered = inter[gt_void * cols + p];
    auto crowd = crowd_of_category.find(pred[p].category);
    if (crowd != crowd_of_category.end()) covered += inter[crowd->second * cols + p];
    if (static_cast<double>(covered) / pred[p].area > 0.5) continue;
    stats.counts[pred[p].category].fp += 1;
  }
  return stats;
}

}  // namespace

PanopticResult evaluate_panoptic(const PanopticInputs& in) {
  const json gt = load_json(in.gt_json), pred = load_json(in.pred_json);
  std::map<int64_t, bool> categories;  // id -> isthing
  PanopticResult result;
  for (const json& c : field(gt, "categories", in.gt_json)) {
    const int64_t id = int_field(c, "id", in.gt_json + ": category");
    const bool thing = c.contains("isthing") && c["isthing"].is_number_integer() && c["isthing"].get<int64_t>() == 1;
    if (categories.count(id)) continue;
    categories[id] = thing;
    result.category_ids.push_back(id);
    result.is_thing.push_back(thing);
  }
  std::map<int64_t, const json*> pred_by_image;  // the last annotation per image wins, as in a dict
  const json& pred_anns = field(pred, "annotations", in.pred_json);
  if (!pred_anns.is_array()) fail(in.pred_json, "\"annotations\" must be a list");
  for (const json& a : pred_anns) pred_by_image[int_field(a, "image_id", in.pred_json + ": annotation")] = &a;
  std::vector<ImageTask> tasks;
  const json& gt_anns = field(gt, "annotations", in.gt_json);
  if (!gt_anns.is_array()) fail(in.gt_json, "\"annotations\" must be a list");
  for (size_t i = 0; i < gt_anns.size(); ++i) {
    const json& a = gt_anns[i];
    const std::string ctx = in.gt_json + ": annotation " + std::to_string(i);
    ImageTask t;
    t.image_id = int_field(a, "image_id", ctx);
    auto p = pred_by_image.find(t.image_id);
    if (p == pred_by_image.end()) fail(in.pred_json, "no prediction for the image with id " + std::to_string(t.image_id));
    const json& gt_name = field(a, "file_name", ctx);
    const json& pred_name = field(*p->second, "file_name", in.pred_json + ": image " + std::to_string(t.image_id));
    if (!gt_name.is_string() || !pred_name.is_string()) fail(ctx, "\"file_name\" must be a string");
    t.gt_file = (fs::path(in.gt_dir) / gt_name.get<std::string>()).string();
    t.pred_file = (fs::path(in.pred_dir) / pred_name.get<std::string>()).string();
    t.gt = segments_of(a, ctx, true);
    t.pred = segments_of(*p->second, in.pred_json + ": image " + std::to_string(t.image_id), false);
    tasks.push_back(std::move(t));
  }

  std::vector<ImageStats> per_image(tasks.size());
  parallel_for(tasks.size(), in.threads, [&](size_t i, size_t) { per_image[i] = evaluate_image(tasks[i], categories); });

  // Sum in image order so the result does not depend on the thread count.
  std::map<int64_t, PanopticClassStats> totals;
  for (const auto& image : per_image) {
    for (const auto& [cat, s] : image.counts) {
      PanopticClassStats& t = totals[cat];
      t.tp += s.tp;
      t.fp += s.fp;
      t.fn += s.fn;
    }
    for (const auto& [cat, iou] : image.ious) totals[cat].iou_sum += iou;
  }
  // pq_average: plain sums over the categories in gt.json order.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Sum {
    double pq = 0, sq = 0, rq = 0;
    int n = 0;
  } all, things, stuff;
  for (size_t k = 0; k < result.category_ids.size(); ++k) {
    const PanopticClassStats s = totals.count(result.category_ids[k]) ? totals[result.category_ids[k]] : PanopticClassStats{};
    result.per_class_stats.push_back(s);
    PanopticClassResult c;
    if (s.tp + s.fp + s.fn > 0) {
      const double den = static_cast<double>(s.tp) + 0.5 * static_cast<double>(s.fp) + 0.5 * static_cast<double>(s.fn);
      c.pq = s.iou_sum / den;
      c.sq = s.tp != 0 ? s.iou_sum / static_cast<double>(s.tp) : 0;
      c.rq = static_cast<double>(s.tp) / den;
      for (Sum* g : {&all, result.is_thing[k] ? &things : &stuff}) {
        g->pq += c.pq;
        g->sq += c.sq;
        g->rq += c.rq;
        g->n += 1;
      }
    }
    result.per_class.push_back(c);
  }
  auto finish = [&](const Sum& s) {
    PanopticGroupResult g;
    g.n = s.n;
    g.pq = s.n ? s.pq / s.n : nan;
    g.sq = s.n ? s.sq / s.n : nan;
    g.rq = s.n ? s.rq / s.n : nan;
    return g;
  };
  result.all = finish(all);
  result.things = finish(things);
  result.stuff = finish(stuff);
  return result;
}

std::string panoptic_json(const PanopticResult& r) {
  json j;
  auto group = [](const PanopticGroupResult& g) { return json{{"pq", g.pq}, {"sq", g.sq}, {"rq", g.rq}, {"n", g.n}}; };
  j["All"] = group(r.all);
  j["Things"] = group(r.things);
  j["Stuff"] = group(r.stuff);
  json per = json::object();
  for (size_t k = 0; k < r.category_ids.size(); ++k)
    per[std::to_string(r.category_ids[k])] = {{"pq", r.per_class[k].pq}, {"sq", r.per_class[k].sq}, {"rq", r.per_class[k].rq}};
  j["per_class"] = per;
  return j.dump(2) + "\n";
}

std::string panoptic_table(const PanopticResult& r) {
  std::ostringstream os;
  char buf[160];
  os << "          |     PQ      SQ      RQ |   N\n";
  auto row = [&](const char* name, const PanopticGroupResult& g) {
    std::snprintf(buf, sizeof buf, "%-10s| %6.1f  %6.1f  %6.1f | %3d\n", name, 100 * g.pq, 100 * g.sq, 100 * g.rq, g.n);
    os << buf;
  };
  row("All", r.all);
  row("Things", r.things);
  row("Stuff", r.stuff);
  os << "\ncategory  thing      PQ      SQ      RQ    TP    FP    FN\n";
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    const auto& c = r.per_class[k];
    const auto& s = r.per_class_stats[k];
    std::snprintf(buf, sizeof buf, "%8lld  %5s  %6.1f  %6.1f  %6.1f %5lld %5lld %5lld\n",
                  static_cast<long long>(r.category_ids[k]), r.is_thing[k] ? "yes" : "no", 100 * c.pq, 100 * c.sq,
                  100 * c.rq, static_cast<long long>(s.tp), static_cast<long long>(s.fp), static_cast<long long>(s.fn));
    os << buf;
  }
  return os.str();
}

}  // namespace segkit
