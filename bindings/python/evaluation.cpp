// segkit.evaluate's native part. Label maps are read in place where SemanticAccumulator takes
// their dtype (a pair of int32, uint8 or uint16 arrays); any other integer pairing is turned into
// int32 class codes first, with evaluate's preprocessing done here on the 64-bit values, since
// narrowing them as they are could turn an out-of-range label into a class. The GIL is released
// while segkit counts or reads files.
#include "evaluation.h"
#include "array_text.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "segkit/coco_eval.h"
#include "segkit/metrics.h"
#include "segkit/panoptic.h"

namespace py = pybind11;
using segkit::python::shape_text;

namespace {

enum class LabelType { I8, I16, I32, I64, U8, U16, U32, U64 };

// One label map as segkit reads it: a C-contiguous buffer of integers.
struct Labels {
  py::array array;  // keeps the buffer alive while the GIL is released
  LabelType type = LabelType::I32;
  size_t count = 0;
};

LabelType label_type(char kind, py::ssize_t size) {
  if (kind == 'b') return LabelType::U8;  // bool's bytes are 0 and 1
  const bool is_signed = kind == 'i';
  switch (size) {
    case 1: return is_signed ? LabelType::I8 : LabelType::U8;
    case 2: return is_signed ? LabelType::I16 : LabelType::U16;
    case 4: return is_signed ? LabelType::I32 : LabelType::U32;
    default: return is_signed ? LabelType::I64 : LabelType::U64;
  }
}

// ValueError naming `what` for anything but a C-contiguous, native-order integer (or bool) array.
Labels labels_of(const py::handle& obj, const std::string& what) {
  if (!py::isinstance<py::array>(obj))
    throw py::value_error(what + ": expected a numpy.ndarray of integer labels, got " +
                          std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  const char kind = a.dtype().kind();
  if ((kind != 'i' && kind != 'u' && kind != 'b') || a.itemsize() > 8)
    throw py::value_error(what + ": expected integer labels, got dtype " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(what + ": the array is not C-contiguous; pass numpy.ascontiguousarray(labels)");
  if (!a.dtype().attr("isnative").cast<bool>())
    throw py::value_error(what + ": the array is not in the machine's byte order");
  return Labels{a, label_type(kind, a.itemsize()), size_t(a.size())};
}

// Calls f with the labels as a typed pointer.
template <class F>
void visit(const Labels& l, F&& f) {
  const void* p = l.array.data();
  switch (l.type) {
    case LabelType::I8: return f(static_cast<const int8_t*>(p));
    case LabelType::I16: return f(static_cast<const int16_t*>(p));
    case LabelType::I32: return f(static_cast<const int32_t*>(p));
    case LabelType::I64: return f(static_cast<const int64_t*>(p));
    case LabelType::U8: return f(static_cast<const uint8_t*>(p));
    case LabelType::U16: return f(static_cast<const uint16_t*>(p));
    case LabelType::U32: return f(static_cast<const uint32_t*>(p));
    case LabelType::U64: return f(static_cast<const uint64_t*>(p));
  }
}

bool read_in_place(LabelType t) { return t == LabelType::I32 || t == LabelType::U8 || t == LabelType::U16; }

// A value's class in [0, n), or n for "no class".
template <class T>
int32_t class_or_none(T v, int32_t n) {
  if constexpr (std::is_signed_v<T>)
    if (v < 0) return n;
  return static_cast<uint64_t>(v) < static_cast<uint64_t>(n) ? static_cast<int32_t>(v) : n;
}

// Ground-truth value -> its class after evaluate's preprocessing, n where out of range, -1 where
// ignored; a table for the usual values, computed for the rest.
class GtCodes {
 public:
  explicit GtCodes(const segkit::SemanticOptions& options) : options_(options), table_(kTable) {
    for (int64_t v = 0; v < kTable; ++v) table_[size_t(v)] = compute(v);
  }
  template <class T>
  int32_t operator()(T v) const {
    // Above int64's range no label_map key or ignore index can equal it, nor reduce_labels bring it in range.
    if constexpr (std::is_same_v<T, uint64_t>)
      if (v > uint64_t(std::numeric_limits<int64_t>::max())) return options_.num_labels;
    const auto x = static_cast<int64_t>(v);
    return x >= 0 && x < kTable ? table_[size_t(x)] : compute(x);
  }

 private:
  static constexpr int64_t kTable = 65536;
  int32_t compute(int64_t v) const {
    const int64_t p = segkit::preprocess_gt_label(options_, v);
    if (p == options_.ignore_index) return -1;
    return class_or_none(p, options_.num_labels);
  }
  segkit::SemanticOptions options_;
  std::vector<int32_t> table_;
};

// Counts every pair into one accumulator: in place where both arrays of every pair have a dtype
// SemanticAccumulator reads, else as class codes (see the top of the file).
segkit::SemanticResult accumulate(const std::vector<std::pair<Labels, Labels>>& pairs,
                                  const segkit::SemanticOptions& options) {
  bool in_place = true;
  for (const auto& [pred, gt] : pairs) in_place = in_place && pred.type == gt.type && read_in_place(pred.type);
  if (in_place) {
    segkit::SemanticAccumulator acc(options);
    for (const auto& [pred, gt] : pairs) {
      visit(pred, [&](auto* p) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        if constexpr (std::is_same_v<T, int32_t> || std::is_same_v<T, uint8_t> || std::is_same_v<T, uint16_t>)
          acc.add(p, static_cast<const T*>(gt.array.data()), pred.count);
      });
    }
    return acc.result();
  }
  segkit::SemanticOptions codes = options;  // the codes are already preprocessed
  codes.label_map.clear();
  codes.reduce_labels = false;
  codes.ignore_index = -1;
  segkit::SemanticAccumulator acc(codes);
  const GtCodes gt_code(options);
  const int32_t n = options.num_labels;
  std::vector<int32_t> pred_codes, gt_codes;
  for (const auto& [pred, gt] : pairs) {
    pred_codes.resize(pred.count);
    gt_codes.resize(gt.count);
    visit(pred, [&](auto* p) {
      for (size_t i = 0; i < pred.count; ++i) pred_codes[i] = class_or_none(p[i], n);
    });
    visit(gt, [&](auto* g) {
      for (size_t i = 0; i < gt.count; ++i) gt_codes[i] = gt_code(g[i]);
    });
    acc.add(pred_codes.data(), gt_codes.data(), pred_codes.size());
  }
  return acc.result();
}

template <class T>
py::array numpy_array(const std::vector<T>& v) {
  py::array_t<T> a(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return std::move(a);
}

py::dict evaluate_semantic(const py::sequence& predictions, const py::sequence& references, int num_labels,
                           int64_t ignore_index, std::optional<double> nan_to_num,
                           std::optional<std::vector<std::pair<int64_t, int64_t>>> label_map, bool reduce_labels) {
  if (py::len(predictions) != py::len(references))
    throw py::value_error("predictions and references: expected as many of each, got " +
                          std::to_string(py::len(predictions)) + " and " + std::to_string(py::len(references)));
  if (num_labels < 1) throw py::value_error("num_labels: expected at least 1, got " + std::to_string(num_labels));
  segkit::SemanticOptions options;
  options.num_labels = num_labels;
  options.ignore_index = ignore_index;
  options.reduce_labels = reduce_labels;
  options.nan_to_num = nan_to_num;
  if (label_map) options.label_map = *label_map;
  std::vector<std::pair<Labels, Labels>> pairs;
  for (size_t i = 0; i < py::len(predictions); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    Labels pred = labels_of(predictions[i], "predictions" + at);
    Labels gt = labels_of(references[i], "references" + at);
    const auto& p = pred.array;
    const auto& g = gt.array;
    bool same = p.ndim() == g.ndim();
    for (py::ssize_t d = 0; same && d < p.ndim(); ++d) same = p.shape(d) == g.shape(d);
    if (!same)
      throw py::value_error("predictions" + at + " has shape " + shape_text(p) + " but references" + at + " " +
                            shape_text(g) + "; each prediction must have its reference's shape");
    pairs.emplace_back(std::move(pred), std::move(gt));
  }
  segkit::SemanticResult r;
  {
    py::gil_scoped_release release;
    r = accumulate(pairs, options);
  }
  return segkit::python::semantic_dict(r);
}

// {category id: value}, in the result's category order.
template <class T>
py::dict by_category(const std::vector<int64_t>& ids, const std::vector<T>& values) {
  py::dict d;
  for (size_t k = 0; k < ids.size(); ++k) d[py::int_(ids[k])] = values[k];
  return d;
}

py::dict evaluate_coco(const std::string& annotation_file, const std::string& results_file, int threads) {
  segkit::CocoEvalResult r;
  {
    py::gil_scoped_release release;
    r = segkit::coco_evaluate_segm_files(annotation_file, results_file, threads);
  }
  py::dict d;
  for (size_t i = 0; i < r.stats.size(); ++i) d[segkit::kCocoStatLabels[i]] = r.stats[i];
  d["stats"] = numpy_array(std::vector<double>(r.stats.begin(), r.stats.end()));
  d["per_category_ap"] = by_category(r.category_ids, r.per_category_ap);
  d["per_category_ap50"] = by_category(r.category_ids, r.per_category_ap50);
  d["per_category_ar100"] = by_category(r.category_ids, r.per_category_ar100);
  d["per_category_num_gt"] = by_category(r.category_ids, r.per_category_num_gt);
  return d;
}

py::dict evaluate_panoptic(const std::string& gt_json_file, const std::string& pred_json_file,
                           const std::string& gt_folder, const std::string& pred_folder, int threads) {
  segkit::PanopticInputs in{gt_json_file, gt_folder, pred_json_file, pred_folder, threads};
  segkit::PanopticResult r;
  {
    py::gil_scoped_release release;
    r = segkit::evaluate_panoptic(in);
  }
  auto group = [](const segkit::PanopticGroupResult& g) {
    py::dict d;
    d["pq"] = g.pq;
    d["sq"] = g.sq;
    d["rq"] = g.rq;
    d["n"] = g.n;
    return d;
  };
  py::dict d, per_class;
  d["All"] = group(r.all);
  d["Things"] = group(r.things);
  d["Stuff"] = group(r.stuff);
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    py::dict c;
    c["pq"] = r.per_class[k].pq;
    c["sq"] = r.per_class[k].sq;
    c["rq"] = r.per_class[k].rq;
    per_class[py::int_(r.category_ids[k])] = c;
  }
  d["per_class"] = per_class;
  return d;
}

}  // namespace

py::dict segkit::python::semantic_dict(const segkit::SemanticResult& r) {
  py::dict d;
  d["mean_iou"] = r.mean_iou;
  d["mean_accuracy"] = r.mean_accuracy;
  d["overall_accuracy"] = r.overall_accuracy;
  d["per_category_iou"] = numpy_array(r.per_category_iou);
  d["per_category_accuracy"] = numpy_array(r.per_category_accuracy);
  d["mean_dice"] = r.mean_dice;
  d["per_category_dice"] = numpy_array(r.per_category_dice);
  d["total_area_intersect"] = numpy_array(r.area_intersect);
  d["total_area_union"] = numpy_array(r.area_union);
  d["total_area_pred_label"] = numpy_array(r.area_pred);
  d["total_area_label"] = numpy_array(r.area_label);
  d["num_evaluated_pixels"] = r.num_evaluated_pixels;
  d["num_gt_out_of_range_pixels"] = r.num_gt_out_of_range_pixels;
  d["num_pred_out_of_range_pixels"] = r.num_pred_out_of_range_pixels;
  return d;
}

void bind_evaluation(py::module_& m) {
  m.def("evaluate_semantic", &evaluate_semantic, py::arg("predictions"), py::arg("references"),
        py::arg("num_labels"), py::arg("ignore_index"), py::arg("nan_to_num") = py::none(),
        py::arg("label_map") = py::none(), py::arg("reduce_labels") = false,
        "Hugging Face evaluate's mean_iou over lists of C-contiguous integer label maps (pairs of equal "
        "shapes). label_map: [(old, new)] applied in order to the references. Returns evaluate's five "
        "values and the counts behind them (dice, total areas, pixels evaluated and out of range).");
  m.def("evaluate_coco", &evaluate_coco, py::arg("annotation_file"), py::arg("results_file"),
        py::arg("threads") = 0,
        "pycocotools' COCOeval (iouType \"segm\") of a results JSON file against a COCO instances file: "
        "the 12 stats by name and as \"stats\", and per category AP, AP50, AR100 and the number of gts.");
  m.def("evaluate_panoptic", &evaluate_panoptic, py::arg("gt_json_file"), py::arg("pred_json_file"),
        py::arg("gt_folder"), py::arg("pred_folder"), py::arg("threads") = 0,
        "panopticapi's pq_compute: {\"All\"|\"Things\"|\"Stuff\": {pq, sq, rq, n}, \"per_class\": {id: {pq, "
        "sq, rq}}}; NaN for a group without categories.");
}
