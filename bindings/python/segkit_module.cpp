// _segkit: the Python extension module. A thin shell over the library, as the CLI is: it turns
// NumPy arrays and keyword arguments into the library's types, releases the GIL while the
// library computes, and hands results back as NumPy arrays that own the library's buffers.
//
// Errors: segkit::Error (bad input, one line) becomes ValueError; a model or image path that
// does not exist FileNotFoundError; a call out of order (predict before set_image) and anything
// else RuntimeError. Wrong dtypes, shapes and non-contiguous arrays are refused with ValueError
// before the library sees them.
//
// Models: load_model gives a Model, or its subclass Mask2FormerModel for a Mask2Former folder,
// Sam3Model for a SAM 3 folder (segment() in one call) or UNetModel for a U-Net checkpoint; SAM
// models go to SamPredictor and SamMaskGenerator. segkit.evaluate's functions are in
// evaluation.cpp, the U-Net's in unet.cpp, what they share in module_common.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "array_text.h"
#include "evaluation.h"
#include "module_common.h"
#include "unet.h"
#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/mask2former.h"
#include "segkit/model.h"
#include "segkit/rle.h"
#include "segkit/sam.h"
#include "segkit/sam3.h"
#include "segkit/sam_generator.h"
#include "segkit/threads.h"
#include "segkit/version.h"

namespace py = pybind11;
using segkit::python::image_from_array;
using segkit::python::load_any_model;
using segkit::python::load_family;
using segkit::python::NotFound;
using segkit::python::owned_array;
using segkit::python::PyModel;
using segkit::python::shape_text;
using segkit::python::type_name;

namespace {

// RuntimeError: a call out of order.
struct StateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

py::array image_to_array(segkit::Image&& image) {
  const py::ssize_t h = image.height, w = image.width;
  return owned_array<uint8_t>(std::move(image.rgb), {h, w, 3});
}

bool parse_image_format(const std::string& format) {
  if (format == "RGB") return false;
  if (format == "BGR") return true;
  throw py::value_error("image_format: expected \"RGB\" or \"BGR\", got \"" + format + "\"");
}

// A float array of `name` from any array-like of numbers (a list, a tuple, an array of any
// numeric dtype), C-contiguous.
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
FloatArray float_array(const py::handle& obj, const std::string& name) {
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj))
    throw py::value_error(name + ": expected numbers, got " + type_name(obj));
  auto a = FloatArray::ensure(obj);
  if (!a) throw py::value_error(name + ": expected an array of numbers, got " + type_name(obj));
  return a;
}

// ---------------------------------------------------------------------------------------------
// Models

// A Mask2Former model: the Model it is, and the Mask2Former API.
struct PyMask2Former : PyModel {
  std::shared_ptr<const segkit::Mask2FormerModel> mask2former;
};

// A SAM 3 model: the Model it is, and the SAM 3 API.
struct PySam3 : PyModel {
  std::shared_ptr<const segkit::Sam3Model> sam3;
};

// The Python object for a loaded model: a Mask2FormerModel or Sam3Model where it is one, else a Model.
py::object model_object(PyModel m) {
  if (auto m2f = std::dynamic_pointer_cast<const segkit::Mask2FormerModel>(m.model))
    return py::cast(PyMask2Former{std::move(m), std::move(m2f)});
  if (auto sam3 = std::dynamic_pointer_cast<const segkit::Sam3Model>(m.model))
    return py::cast(PySam3{std::move(m), std::move(sam3)});
  if (auto unet = std::dynamic_pointer_cast<const segkit::UNetModel>(m.model))
    return py::cast(segkit::python::PyUNet{std::move(m), std::move(unet)});
  return py::cast(std::move(m));
}

std::shared_ptr<const segkit::SamModel> sam_of(const PyModel& m, const std::string& who) {
  auto sam = std::dynamic_pointer_cast<const segkit::SamModel>(m.model);
  if (!sam)
    throw py::value_error(who + ": " + m.source + " is a " + m.model->info().family_title +
                          " model; this needs a SAM model");
  return sam;
}

py::object load_model(const std::string& source, const std::string& precision, const std::string& device,
                      bool warn_unused) {
  return model_object(load_any_model(source, precision, device, warn_unused));
}

py::array load_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw NotFound(path + ": no such file");
  segkit::Image image;
  {
    py::gil_scoped_release release;
    image = segkit::load_image(path);
  }
  return image_to_array(std::move(image));
}

// ---------------------------------------------------------------------------------------------
// SamPredictor (segment-anything's)

class PyPredictor {
 public:
  explicit PyPredictor(const PyModel& model) : model_(sam_of(model, "SamPredictor")), predictor_(model_) {}

  void set_image(const py::handle& image, const std::string& image_format) {
    const segkit::Image rgb = image_from_array(image, parse_image_format(image_format));
    py::gil_scoped_release release;
    const std::lock_guard<std::mutex> lock(mutex_);
    predictor_.set_image(rgb);
  }

  void reset_image() {
    py::gil_scoped_release release;
    const std::lock_guard<std::mutex> lock(mutex_);
    predictor_ = segkit::SamPredictor(model_);
  }
  bool is_image_set() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return predictor_.has_image();
  }

  py::tuple predict(const py::object& point_coords, const py::object& point_labels, const py::object& box,
                    const py::object& mask_input, bool multimask_output, bool return_logits) const {
    segkit::SamPrompt prompt;
    prompt.multimask = multimask_output;
    if (!point_coords.is_none()) {
      if (point_labels.is_none()) throw py::value_error("point_labels must be supplied if point_coords is supplied");
      const FloatArray xy = float_array(point_coords, "point_coords");
      if (xy.ndim() != 2 || xy.shape(1) != 2 || xy.shape(0) < 1)
        throw py::value_error("point_coords: expected shape (N, 2), got " + shape_text(xy));
      const FloatArray labels = float_array(point_labels, "point_labels");
      if (labels.ndim() != 1 || labels.shape(0) != xy.shape(0))
        throw py::value_error("point_labels: expected shape (" + std::to_string(xy.shape(0)) + ",), one per point; got " +
                              shape_text(labels));
      for (py::ssize_t i = 0; i < xy.shape(0); ++i) {
        prompt.points.push_back({xy.at(i, 0), xy.at(i, 1)});
        const float l = labels.at(i);
        if (l != 0.0f && l != 1.0f) throw py::value_error("point_labels: each label must be 1 (foreground) or 0 (background)");
        prompt.labels.push_back(int(l));
      }
    } else if (!point_labels.is_none()) {
      throw py::value_error("point_coords must be supplied if point_labels is supplied");
    }
    if (!box.is_none()) {
      const FloatArray b = float_array(box, "box");
      if (b.size() != 4 || !(b.ndim() == 1 || (b.ndim() == 2 && b.shape(0) == 1)))
        throw py::value_error("box: expected shape (4,) as x0, y0, x1, y1; got " + shape_text(b));
      const float* v = b.data();
      prompt.box = std::array<float, 4>{v[0], v[1], v[2], v[3]};
    }
    if (!mask_input.is_none()) {
      const py::ssize_t low = model_->config().low_res_size();
      const FloatArray m = float_array(mask_input, "mask_input");
      const bool square = m.ndim() >= 2 && m.shape(m.ndim() - 1) == low && m.shape(m.ndim() - 2) == low;
      if (!square || m.ndim() > 3 || (m.ndim() == 3 && m.shape(0) != 1))
        throw py::value_error("mask_input: expected shape (1, " + std::to_string(low) + ", " + std::to_string(low) +
                              ") low-res logits, got " + shape_text(m));
      prompt.mask_input.assign(m.data(), m.data() + m.size());
    }
    segkit::SamPrediction p;
    {
      py::gil_scoped_release release;
      const std::lock_guard<std::mutex> lock(mutex_);
      require_image("predict");
      p = predictor_.predict(prompt, return_logits);
    }
    const py::ssize_t k = p.num_masks, h = p.height, w = p.width, low = p.low_res;
    py::array masks = return_logits ? owned_array<float>(std::move(p.mask_logits), {k, h, w})
                                    : owned_array<bool>(std::move(p.masks), {k, h, w});
    return py::make_tuple(masks, owned_array<float>(std::move(p.iou_predictions), {k}),
                          owned_array<float>(std::move(p.low_res_logits), {k, low, low}));
  }

  // Upstream's shape: 1 × C × g × g.
  py::array get_image_embedding() const {
    segkit::SamEmbedding e;
    {
      py::gil_scoped_release release;
      const std::lock_guard<std::mutex> lock(mutex_);
      require_image("get_image_embedding");
      e = predictor_.embedding();
    }
    const py::ssize_t c = e.channels, g = e.grid;
    return owned_array<float>(std::move(e.data), {1, c, g, g});
  }

  py::tuple original_size() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    require_image("original_size");
    const auto s = predictor_.original_size();
    return py::make_tuple(s[0], s[1]);
  }
  py::tuple input_size() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    require_image("input_size");
    const auto s = predictor_.input_size();
    return py::make_tuple(s[0], s[1]);
  }
  PyModel model() const { return {model_, model_->source()}; }

 private:
  void require_image(const char* what) const {
    if (!predictor_.has_image())
      throw StateError(std::string(what) + ": an image must be set with .set_image(...) first");
  }
  std::shared_ptr<const segkit::SamModel> model_;
  segkit::SamPredictor predictor_;
  // Python threads may share a predictor: the GIL is released while it computes, so calls are
  // serialised here (locked only after the GIL is released, never the other way round).
  mutable std::mutex mutex_;
};

// ---------------------------------------------------------------------------------------------
// SamAutomaticMaskGenerator (segment-anything's)

segkit::SamGeneratorParams params_from_dict(const py::dict& given) {
  segkit::SamGeneratorParams params;
  const auto& fields = segkit::sam_generator_param_fields();
  for (const auto& item : given) {
    const std::string name = py::str(item.first);
    const py::handle value = item.second;
    const segkit::SamGeneratorParamField* field = nullptr;
    for (const auto& f : fields)
      if (name == f.name) field = &f;
    if (!field) {
      std::string known;
      for (const auto& f : fields) known += std::string(known.empty() ? "" : ", ") + f.name;
      throw py::type_error("unexpected keyword argument '" + name + "' (known: " + known + ")");
    }
    if (field->int_member) {
      if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value))
        throw py::type_error(name + ": expected an int, got " + type_name(value));
      const long long v = value.cast<long long>();
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
        throw py::value_error(name + ": " + std::to_string(v) + " is out of range");
      params.*(field->int_member) = int(v);
    } else {
      if (!(py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) || py::isinstance<py::bool_>(value))
        throw py::type_error(name + ": expected a number, got " + type_name(value));
      params.*(field->double_member) = value.cast<double>();
    }
  }
  return params;
}

py::list int_list(const std::array<int64_t, 4>& v) { return py::cast(std::vector<int64_t>(v.begin(), v.end())); }

class PyGenerator {
 public:
  PyGenerator(const PyModel& model, const py::dict& params, const std::string& output_mode)
      : mode_(segkit::parse_mask_output_mode(output_mode)),
        generator_(sam_of(model, "SamAutomaticMaskGenerator"), params_from_dict(params)) {}

  // Upstream's list of records, in upstream's order.
  py::list generate(const py::handle& image) {
    const segkit::Image rgb = image_from_array(image, false);
    std::vector<segkit::SamMaskRecord> records;
    {
      py::gil_scoped_release release;
      const std::lock_guard<std::mutex> lock(mutex_);  // as PyPredictor's
      records = generator_.generate(rgb);
    }
    py::list out;
    for (auto& r : records) {
      py::dict d;
      const py::ssize_t h = r.segmentation.height, w = r.segmentation.width;
      if (mode_ == segkit::MaskOutputMode::BinaryMask) {
        d["segmentation"] = owned_array<bool>(segkit::rle_decode(r.segmentation), {h, w});
      } else {
        py::dict rle;
        rle["size"] = std::vector<py::ssize_t>{h, w};
        if (mode_ == segkit::MaskOutputMode::CocoRle) rle["counts"] = segkit::rle_to_string(r.segmentation);
        else rle["counts"] = r.segmentation.counts;
        d["segmentation"] = rle;
      }
      d["area"] = r.area;
      d["bbox"] = int_list(r.bbox);
      d["predicted_iou"] = r.predicted_iou;
      d["point_coords"] = std::vector<std::vector<double>>{{r.point_coords[0], r.point_coords[1]}};
      d["stability_score"] = r.stability_score;
      d["crop_box"] = int_list(r.crop_box);
      out.append(d);
    }
    return out;
  }

  py::dict params() const {
    py::dict d;
    for (const auto& f : segkit::sam_generator_param_fields()) {
      if (f.int_member) d[f.name] = generator_.params().*(f.int_member);
      else d[f.name] = generator_.params().*(f.double_member);
    }
    return d;
  }
  std::string output_mode() const { return segkit::mask_output_mode_name(mode_); }

 private:
  segkit::MaskOutputMode mode_;
  segkit::SamMaskGenerator generator_;
  std::mutex mutex_;
};

// ---------------------------------------------------------------------------------------------
// Mask2FormerModel: segment() in one call, transformers' post-processing parameters by name.

PyMask2Former load_mask2former(const std::filesystem::path& path, const std::string& precision,
                               const std::string& device, bool warn_unused) {
  return load_family<PyMask2Former, segkit::Mask2FormerModel>(path, precision, device, warn_unused,
                                                              "Mask2FormerModel.load", "Mask2Former");
}

// label_ids_to_fuse: None or an iterable of label ids (ints, NumPy's included) the model has.
std::vector<int> label_ids(const py::object& given, int num_labels) {
  std::vector<int> ids;
  if (given.is_none()) return ids;
  if (py::isinstance<py::str>(given) || py::isinstance<py::bytes>(given) || !py::isinstance<py::iterable>(given))
    throw py::type_error("label_ids_to_fuse: expected a list of label ids, got " + type_name(given));
  for (const py::handle item : given) {
    if (py::isinstance<py::bool_>(item) || py::isinstance<py::float_>(item))
      throw py::type_error("label_ids_to_fuse: expected int label ids, got " + type_name(item));
    long long id = 0;
    try {
      id = item.cast<long long>();
    } catch (const py::cast_error&) {
      throw py::type_error("label_ids_to_fuse: expected int label ids, got " + type_name(item));
    }
    if (id < 0 || id >= num_labels)
      throw py::value_error("label_ids_to_fuse: label " + std::to_string(id) + " is not one of the model's 0.." +
                            std::to_string(num_labels - 1));
    ids.push_back(int(id));
  }
  return ids;
}

// {"ids": H×W int32, "segments": [{"id", "label_id", "score", "was_fused"}], "instance_masks":
// K×H×W bool (instance) or None}: transformers' ids, segments and order (mask2former.h).
py::dict mask2former_segment(const PyMask2Former& self, const py::handle& image, const std::string& task,
                             double threshold, double mask_threshold, double overlap_mask_area_threshold,
                             const py::object& label_ids_to_fuse) {
  const segkit::SegmentationTask t = segkit::parse_segmentation_task(task);
  segkit::SegmentationOptions options;  // floats, as the CLI's; compared as written (0.9f as 0.9)
  options.threshold = float(threshold);
  options.mask_threshold = float(mask_threshold);
  options.overlap_mask_area_threshold = float(overlap_mask_area_threshold);
  options.label_ids_to_fuse = label_ids(label_ids_to_fuse, self.mask2former->config().num_labels());
  const segkit::Image rgb = image_from_array(image, false);
  segkit::Segmentation s;
  {
    py::gil_scoped_release release;
    s = self.mask2former->segment(rgb, t, options);  // const: no state, no lock
  }
  const py::ssize_t h = s.height, w = s.width, k = py::ssize_t(s.segments.size());
  // Scores as transformers gives them: Python's round(score, 6) of the float32 score (the
  // library's float is that value's nearest float, which rounds back to it).
  const py::object round = py::module_::import("builtins").attr("round");
  py::list segments;
  for (const segkit::Segment& seg : s.segments) {
    py::dict d;
    d["id"] = seg.id;
    d["label_id"] = seg.label_id;
    d["score"] = t == segkit::SegmentationTask::Semantic ? py::object(py::none()) : round(double(seg.score), 6);
    d["was_fused"] = seg.was_fused;
    segments.append(d);
  }
  py::dict out;
  out["ids"] = owned_array<int32_t>(std::move(s.ids), {h, w});
  out["segments"] = segments;
  out["instance_masks"] = t == segkit::SegmentationTask::Instance
                              ? py::object(owned_array<bool>(std::move(s.instance_masks), {k, h, w}))
                              : py::object(py::none());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sam3Model: segment() with a phrase and/or exemplar boxes, Sam3Processor's thresholds by name.

PySam3 load_sam3(const std::filesystem::path& path, const std::string& precision, const std::string& device,
                 bool warn_unused) {
  return load_family<PySam3, segkit::Sam3Model>(path, precision, device, warn_unused, "Sam3Model.load", "SAM 3");
}

// The prompt of one call: a phrase (None: boxes alone) and boxes as N×4 (or one box of 4)
// x0, y0, x1, y1 in pixels, with 1/0 labels (None: all positive).
segkit::Sam3Prompt sam3_prompt(const py::object& text, const py::object& boxes, const py::object& box_labels) {
  segkit::Sam3Prompt prompt;
  if (!text.is_none()) {
    if (!py::isinstance<py::str>(text)) throw py::type_error("text: expected a str, got " + type_name(text));
    prompt.text = text.cast<std::string>();
  }
  if (!boxes.is_none()) {
    const FloatArray a = float_array(boxes, "boxes");
    const bool one = a.ndim() == 1 && a.shape(0) == 4, many = a.ndim() == 2 && a.shape(1) == 4;
    if (!one && !many) throw py::value_error("boxes: expected shape (N, 4) or (4,), got " + shape_text(a));
    const py::ssize_t n = one ? 1 : a.shape(0);
    for (py::ssize_t i = 0; i < n; ++i)
      prompt.boxes.push_back({a.data()[4 * i], a.data()[4 * i + 1], a.data()[4 * i + 2], a.data()[4 * i + 3]});
  }
  if (!box_labels.is_none()) {
    if (boxes.is_none()) throw py::value_error("box_labels: given without boxes");
    const auto labels = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(box_labels);
    if (!labels || labels.ndim() > 1 || labels.size() != py::ssize_t(prompt.boxes.size()))
      throw py::value_error("box_labels: expected " + std::to_string(prompt.boxes.size()) +
                            " labels (one per box, 1 positive, 0 negative)");
    for (py::ssize_t i = 0; i < labels.size(); ++i) {
      const int64_t label = labels.data()[i];
      if (label != 0 && label != 1)
        throw py::value_error("box_labels: expected 1 (positive) or 0 (negative), got " + std::to_string(label));
      prompt.box_labels.push_back(int(label));
    }
  }
  if (prompt.text.empty() && prompt.boxes.empty())
    throw py::value_error("Sam3Model.segment: give text, boxes or both");
  return prompt;
}

// {"text": the phrase read ("visual" for boxes alone), "scores": N float32, "boxes": N×4 float32
// x0, y0, x1, y1 in pixels, "queries": N int64, "masks": N×H×W bool, "truncated": bool}, in
// query order as Sam3Processor.post_process_instance_segmentation gives them.
py::dict sam3_segment(const PySam3& self, const py::handle& image, const py::object& text, const py::object& boxes,
                      const py::object& box_labels, double threshold, double mask_threshold) {
  const segkit::Sam3Prompt prompt = sam3_prompt(text, boxes, box_labels);
  segkit::Sam3Options options;  // floats, as the CLI's
  options.threshold = float(threshold);
  options.mask_threshold = float(mask_threshold);
  const segkit::Image rgb = image_from_array(image, false);
  segkit::Sam3Result r;
  {
    py::gil_scoped_release release;
    r = self.sam3->segment(rgb, prompt, options);  // const: no state, no lock
  }
  const py::ssize_t n = r.size(), h = r.height, w = r.width;
  std::vector<float> box_values;
  for (const auto& b : r.boxes) box_values.insert(box_values.end(), b.begin(), b.end());
  std::vector<int64_t> queries(r.queries.begin(), r.queries.end());
  py::dict out;
  out["text"] = r.text;
  out["scores"] = owned_array<float>(std::move(r.scores), {n});
  out["boxes"] = owned_array<float>(std::move(box_values), {n, 4});
  out["queries"] = owned_array<int64_t>(std::move(queries), {n});
  out["masks"] = owned_array<bool>(std::move(r.masks), {n, h, w});
  out["truncated"] = r.truncated;
  return out;
}

}  // namespace

PYBIND11_MODULE(_segkit, m) {
  m.doc() = "segkit's native core (use the segkit package, which re-exports it)";
  m.attr("__version__") = segkit::version_string();
  // Every core by default, as the CLI and PyTorch do; OMP_NUM_THREADS, where set, stays in charge.
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  if (omp_threads == nullptr || *omp_threads == '\0') segkit::set_num_threads(0);

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NotFound& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    } catch (const StateError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const segkit::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::class_<PyModel>(m, "Model",
                      "A loaded model (load_model); SAM models go to SamPredictor and SamAutomaticMaskGenerator, "
                      "Mask2Former models are a Mask2FormerModel, SAM 3 models a Sam3Model")
      .def_property_readonly("family", [](const PyModel& self) { return self.model->family(); })
      .def_property_readonly("source", [](const PyModel& self) { return self.source; })
      .def_property_readonly("architecture", [](const PyModel& self) { return self.model->info().architecture; })
      .def("__repr__", [](const PyModel& self) {
        return "<segkit.Model " + self.model->info().architecture + " from '" + self.source + "'>";
      });

  segkit::python::bind_unet(m);

  py::class_<PyMask2Former, PyModel>(m, "Mask2FormerModel",
                                     "A Mask2Former model: semantic, instance and panoptic segmentation in one call")
      .def_static("load", &load_mask2former, py::arg("name_or_path"), py::arg("precision") = "fp32",
                  py::arg("device") = "cpu", py::arg("warn_unused") = true,
                  "Loads a Mask2Former model as load_model does; ValueError for a model of another family.")
      .def_property_readonly("labels", [](const PyMask2Former& self) { return self.mask2former->labels(); },
                             "Class names by label id (config.json's id2label).")
      .def("segment", &mask2former_segment, py::arg("image"), py::arg("task"), py::arg("threshold") = 0.5,
           py::arg("mask_threshold") = 0.5, py::arg("overlap_mask_area_threshold") = 0.8,
           py::arg("label_ids_to_fuse") = py::none(),
           "Segments a uint8 H×W×3 RGB array; task \"semantic\", \"instance\" or \"panoptic\". Parameters are "
           "Mask2FormerImageProcessor's, with its defaults. Returns {\"ids\": H×W int32, \"segments\": [{\"id\", "
           "\"label_id\", \"score\", \"was_fused\"}], \"instance_masks\": K×H×W bool (instance) or None}.")
      .def("__repr__", [](const PyMask2Former& self) {
        return "<segkit.Mask2FormerModel " + self.model->info().architecture + " from '" + self.source + "'>";
      });

  py::class_<PySam3, PyModel>(m, "Sam3Model", "A SAM 3 model: every instance a phrase and/or exemplar boxes name")
      .def_static("load", &load_sam3, py::arg("name_or_path"), py::arg("precision") = "fp32",
                  py::arg("device") = "cpu", py::arg("warn_unused") = true,
                  "Loads a SAM 3 model as load_model does; ValueError for a model of another family.")
      .def("segment", &sam3_segment, py::arg("image"), py::arg("text") = py::none(), py::arg("boxes") = py::none(),
           py::arg("box_labels") = py::none(), py::arg("threshold") = 0.3, py::arg("mask_threshold") = 0.5,
           "Segments a uint8 H×W×3 RGB array: every instance of the phrase `text` and/or like the exemplar "
           "`boxes` (N×4 x0, y0, x1, y1 in pixels; `box_labels` 1 positive, 0 negative). Thresholds are "
           "Sam3Processor's, with its defaults. Returns {\"text\", \"scores\": N float32, \"boxes\": N×4 "
           "float32, \"queries\": N int64, \"masks\": N×H×W bool, \"truncated\"}, in query order.")
      .def("__repr__", [](const PySam3& self) {
        return "<segkit.Sam3Model " + self.model->info().architecture + " from '" + self.source + "'>";
      });

  m.def("load_model", &load_model, py::arg("name_or_path"), py::arg("precision") = "fp32",
        py::arg("device") = "cpu", py::arg("warn_unused") = true,
        "Loads a model: a Hugging Face model folder, a repo id in the local Hugging Face cache, a .safetensors "
        "or an official .pth checkpoint. precision: fp32, bf16 or auto; device: cpu.");
  m.def("load_image", &load_image, py::arg("path"),
        "Decodes an image file to a uint8 H×W×3 RGB array (EXIF orientation applied, as segkit's CLI reads it).");
  m.def("set_num_threads", &segkit::set_num_threads, py::arg("threads"),
        "Threads LibTorch and segkit's loops use; 0 = all cores.");
  m.def("num_threads", &segkit::num_threads);

  py::class_<PyPredictor>(m, "SamPredictor", "segment-anything's SamPredictor: encode an image once, prompt it often")
      .def(py::init<const PyModel&>(), py::arg("sam_model"))
      .def("set_image", &PyPredictor::set_image, py::arg("image"), py::arg("image_format") = "RGB",
           "Runs the image encoder on a uint8 H×W×3 array (RGB, or BGR with image_format=\"BGR\").")
      .def("predict", &PyPredictor::predict, py::arg("point_coords") = py::none(), py::arg("point_labels") = py::none(),
           py::arg("box") = py::none(), py::arg("mask_input") = py::none(), py::arg("multimask_output") = true,
           py::arg("return_logits") = false,
           "Returns (masks C×H×W bool, or float logits with return_logits; iou_predictions C; low_res_masks C×L×L).")
      .def("get_image_embedding", &PyPredictor::get_image_embedding, "The image embedding, 1×C×g×g float32.")
      .def("reset_image", &PyPredictor::reset_image)
      .def_property_readonly("is_image_set", &PyPredictor::is_image_set)
      .def_property_readonly("original_size", &PyPredictor::original_size)
      .def_property_readonly("input_size", &PyPredictor::input_size)
      .def_property_readonly("model", &PyPredictor::model);

  py::class_<PyGenerator>(m, "SamMaskGenerator", "segment-anything's SamAutomaticMaskGenerator (parameters by name)")
      .def(py::init<const PyModel&, const py::dict&, const std::string&>(), py::arg("model"), py::arg("params"),
           py::arg("output_mode") = "binary_mask")
      .def("generate", &PyGenerator::generate, py::arg("image"))
      .def_property_readonly("params", &PyGenerator::params)
      .def_property_readonly("output_mode", &PyGenerator::output_mode);

  bind_evaluation(m);
}
