// UNetModel and unet_train: `segkit unet predict | eval | train` from Python, with the CLI's
// options under Python's names and defaults (docs/python.md).
#include "unet.h"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evaluation.h"
#include "segkit/distributed.h"
#include "segkit/error.h"

namespace py = pybind11;

namespace segkit::python {

namespace {

PyUNet load_unet(const std::filesystem::path& path) {
  return load_family<PyUNet, segkit::UNetModel>(path, "fp32", "cpu", true, "UNetModel.load", "U-Net");
}

segkit::UNetPredictOptions predict_options(int tile, int overlap, bool probabilities, bool test_time_augmentation) {
  if (tile < 0) throw py::value_error("tile: expected 0 (whole image) or a side in pixels, got " + std::to_string(tile));
  segkit::UNetPredictOptions o;
  o.tile = tile;
  o.overlap = overlap;
  o.probabilities = probabilities;
  o.test_time_augmentation = test_time_augmentation;
  return o;
}

// {"labels": H×W int32, "probabilities": C×H×W float32 or None}
py::dict unet_predict(const PyUNet& self, const py::handle& image, int tile, int overlap, bool probabilities,
                      bool test_time_augmentation) {
  const auto options = predict_options(tile, overlap, probabilities, test_time_augmentation);
  const segkit::Image rgb = image_from_array(image, false, "image", true);
  segkit::UNetPrediction p;
  {
    py::gil_scoped_release release;
    p = segkit::unet_predict(*self.unet, rgb, options);  // const model: no lock
  }
  const py::ssize_t h = p.height, w = p.width, c = p.classes;
  py::dict out;
  out["labels"] = owned_array<int32_t>(std::move(p.labels), {h, w});
  out["probabilities"] = probabilities ? py::object(owned_array<float>(std::move(p.probabilities), {c, h, w}))
                                       : py::object(py::none());
  return out;
}

py::dict unet_evaluate(const PyUNet& self, const std::filesystem::path& data_dir, int tile, int overlap,
                       bool test_time_augmentation) {
  const auto options = predict_options(tile, overlap, false, test_time_augmentation);
  std::error_code ec;
  if (!std::filesystem::is_directory(data_dir, ec)) throw NotFound(data_dir.string() + ": no such folder");
  segkit::SemanticResult r;
  {
    py::gil_scoped_release release;
    r = segkit::unet_evaluate(*self.unet, data_dir.string(), options);
  }
  return semantic_dict(r);
}

void unet_save(const PyUNet& self, const std::filesystem::path& path) {
  py::gil_scoped_release release;
  self.unet->save(path.string());
}

py::dict config_dict(const PyUNet& self) {
  return py::module_::import("json").attr("loads")(self.unet->config().to_json());
}

template <class E>
E choice(const std::string& given, const char* name, std::initializer_list<std::pair<const char*, E>> choices) {
  std::string known;
  for (const auto& c : choices) {
    if (given == c.first) return c.second;
    known += std::string(known.empty() ? "" : ", ") + '"' + c.first + '"';
  }
  throw py::value_error(std::string(name) + ": expected one of " + known + ", got \"" + given + "\"");
}

struct TrainArgs {
  std::optional<std::filesystem::path> data;
  std::filesystem::path out;
  std::optional<std::filesystem::path> val;
  std::vector<std::string> val_split;
  int classes, epochs, steps_per_epoch, batch_size;
  double lr, weight_decay;
  int crop, depth, width;
  std::string upsample, padding;
  bool batch_norm;
  std::string loss;
  std::vector<float> class_weights;
  double border_weight, border_sigma, ema, dropout;
  std::vector<std::string> augment;
  uint64_t seed;
  std::string precision;
  bool resume, quiet;
  std::optional<std::string> dist_url;
  std::optional<int> rank, world_size;
  double dist_timeout;
  bool sync_batch_norm;
};

segkit::UNetTrainOptions train_options(const TrainArgs& a) {
  segkit::UNetTrainOptions o;
  if (!a.data && !a.resume) throw py::value_error("data: required (except with resume=True)");
  if (a.data) o.data_dir = a.data->string();
  o.out_dir = a.out.string();
  if (a.val) o.val_dir = a.val->string();
  o.val_stems = a.val_split;
  o.classes = a.classes;
  o.epochs = a.epochs > 0 ? a.epochs : (a.resume ? 0 : 50);  // resume: the run's own, as the CLI
  o.steps_per_epoch = a.steps_per_epoch;
  o.batch_size = a.batch_size;
  o.lr = a.lr;
  o.weight_decay = a.weight_decay;
  o.crop = a.crop;
  o.model.depth = a.depth;
  o.model.width = a.width;
  o.model.upsample = choice<segkit::UNetUpsample>(a.upsample, "upsample",
                            {{"transpose", segkit::UNetUpsample::Transpose}, {"bilinear", segkit::UNetUpsample::Bilinear}});
  o.model.padding =
      choice<segkit::UNetPadding>(a.padding, "padding", {{"same", segkit::UNetPadding::Same}, {"valid", segkit::UNetPadding::Valid}});
  o.model.batch_norm = a.batch_norm;
  o.loss = choice<segkit::UNetLoss>(a.loss, "loss",
                  {{"ce", segkit::UNetLoss::CrossEntropy},
                   {"dice", segkit::UNetLoss::Dice},
                   {"ce+dice", segkit::UNetLoss::CrossEntropyDice}});
  o.class_weights = a.class_weights;
  o.border_weight = a.border_weight;
  o.border_sigma = a.border_sigma;
  o.ema_decay = a.ema;
  o.dropout = a.dropout;
  o.augment = a.augment;
  o.seed = a.seed;
  o.bf16 = choice<bool>(a.precision, "precision", {{"fp32", false}, {"bf16", true}});
  o.resume = a.resume;
  o.quiet = a.quiet;
  o.progress = !a.quiet;  // a bar only where stderr is a terminal
  o.distributed = segkit::resolve_distributed(
      {a.dist_url.value_or(""), a.rank.value_or(-1), a.world_size.value_or(-1), a.dist_timeout},
      {"dist_url", "rank", "world_size"});
  o.sync_batch_norm = a.sync_batch_norm;
  return o;
}

// {"epochs_done", "log": [per-epoch dicts, as log.jsonl], "best", "last"}; KeyboardInterrupt
// after saving when SIGINT stopped it (the library's handler holds SIGINT while training runs).
py::dict unet_train(const TrainArgs& args) {
  const segkit::UNetTrainOptions options = train_options(args);
  segkit::UNetTrainResult r;
  {
    py::gil_scoped_release release;
    r = segkit::unet_train(options);
  }
  if (r.interrupted) {
    PyErr_SetString(PyExc_KeyboardInterrupt, ("interrupted after epoch " + std::to_string(r.epochs_done) +
                                              "; state saved in " + options.out_dir + " (continue with resume=True)")
                                                 .c_str());
    throw py::error_already_set();
  }
  const py::object loads = py::module_::import("json").attr("loads");
  py::list log;
  for (const auto& epoch : r.log) log.append(loads(epoch.to_json()));
  const std::filesystem::path out(options.out_dir);
  py::dict d;
  d["epochs_done"] = r.epochs_done;
  d["log"] = log;
  d["best"] = (out / "best.safetensors").string();
  d["last"] = (out / "last.safetensors").string();
  return d;
}

}  // namespace

void bind_unet(py::module_& m) {
  py::class_<PyUNet, PyModel>(m, "UNetModel", "A U-Net (segkit unet train's checkpoints): a class per pixel")
      .def_static("load", &load_unet, py::arg("path"),
                  "Loads a checkpoint written by segkit unet train (or an ensemble); FileNotFoundError when it is "
                  "missing, ValueError when it is not a U-Net checkpoint.")
      .def_property_readonly("config", &config_dict, "The network's configuration (the checkpoint's JSON).")
      .def_property_readonly("classes", [](const PyUNet& self) { return self.unet->config().classes; })
      .def_property_readonly("in_channels", [](const PyUNet& self) { return self.unet->config().in_channels; })
      .def("predict", &unet_predict, py::arg("image"), py::arg("tile") = 0, py::arg("overlap") = -1,
           py::arg("probabilities") = false, py::arg("test_time_augmentation") = false,
           "Labels a uint8 image, H×W (grey) or H×W×3 (RGB), as segkit unet predict does. tile: input tile side "
           "(0 = whole image); overlap: -1 = exact. Returns {\"labels\": H×W int32, \"probabilities\": C×H×W "
           "float32 (with probabilities=True) or None}.")
      .def("evaluate", &unet_evaluate, py::arg("data_dir"), py::arg("tile") = 0, py::arg("overlap") = -1,
           py::arg("test_time_augmentation") = false,
           "segkit unet eval: mean IoU and friends (segkit.evaluate.mean_iou's dict) of the predictions on "
           "DATA_DIR/images against DATA_DIR/masks.")
      .def("save", &unet_save, py::arg("path"), "Writes the weights and config (.safetensors + .json), atomically.")
      .def("__repr__", [](const PyUNet& self) {
        return "<segkit.UNetModel " + self.model->info().architecture + " from '" + self.source + "'>";
      });

  m.def(
      "unet_train",
      [](std::optional<std::filesystem::path> data, std::filesystem::path out, std::optional<std::filesystem::path> val,
         std::vector<std::string> val_split, int classes, int epochs, int steps_per_epoch, int batch_size, double lr,
         double weight_decay, int crop, int depth, int width, std::string upsample, std::string padding,
         bool batch_norm, std::string loss, std::vector<float> class_weights, double border_weight,
         double border_sigma, double ema, double dropout, std::vector<std::string> augment, uint64_t seed,
         std::string precision, bool resume, bool quiet, std::optional<std::string> dist_url,
         std::optional<int> rank, std::optional<int> world_size, double dist_timeout, bool sync_batch_norm) {
        return unet_train(TrainArgs{std::move(data), std::move(out), std::move(val), std::move(val_split), classes,
                                    epochs, steps_per_epoch, batch_size, lr, weight_decay, crop, depth, width,
                                    std::move(upsample), std::move(padding), batch_norm, std::move(loss),
                                    std::move(class_weights), border_weight, border_sigma, ema, dropout,
                                    std::move(augment), seed, std::move(precision), resume, quiet,
                                    std::move(dist_url), rank, world_size, dist_timeout, sync_batch_norm});
      },
      py::kw_only(), py::arg("data") = py::none(), py::arg("out"), py::arg("val") = py::none(),
      py::arg("val_split") = std::vector<std::string>{}, py::arg("classes") = 0, py::arg("epochs") = 0,
      py::arg("steps_per_epoch") = 0, py::arg("batch_size") = 4, py::arg("lr") = 1e-3, py::arg("weight_decay") = 0.0,
      py::arg("crop") = 256, py::arg("depth") = 4, py::arg("width") = 16, py::arg("upsample") = "transpose",
      py::arg("padding") = "same", py::arg("batch_norm") = true, py::arg("loss") = "ce+dice",
      py::arg("class_weights") = std::vector<float>{}, py::arg("border_weight") = 0.0, py::arg("border_sigma") = 5.0,
      py::arg("ema") = 0.0, py::arg("dropout") = 0.0,
      py::arg("augment") = std::vector<std::string>{"flip", "rot90"}, py::arg("seed") = 0,
      py::arg("precision") = "fp32", py::arg("resume") = false, py::arg("quiet") = false,
      py::arg("dist_url") = py::none(), py::arg("rank") = py::none(), py::arg("world_size") = py::none(),
      py::arg("dist_timeout") = 300.0, py::arg("sync_batch_norm") = false,
      "segkit unet train: trains on DATA/images + DATA/masks into OUT (checkpoints, log.jsonl, curves.png).");
}

}  // namespace segkit::python
