#pragma once
// U-Net (Ronneberger et al. 2015) for semantic segmentation: training, resuming, prediction and
// evaluation in native C++.
//
//   auto model = segkit::UNetModel::load("run/best.safetensors");
//   segkit::UNetPrediction p = segkit::unet_predict(*model, segkit::load_image("cells.png"));
//   // p.labels: height × width class indices
//
// Checkpoints are plain safetensors files with PyTorch-style tensor names (docs/unet.md), with
// the network's configuration as JSON in the header metadata and in a .json file beside them.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "segkit/distributed.h"
#include "segkit/image.h"
#include "segkit/metrics.h"
#include "segkit/model.h"

namespace segkit {

namespace unet {
struct Internals;  // the library's own access to the model's internals
}

enum class UNetUpsample { Transpose, Bilinear };
enum class UNetPadding { Same, Valid };

struct UNetConfig {
  int in_channels = 1;  // 1 = grey, 3 = RGB
  int classes = 2;
  int depth = 4;        // number of 2× down steps
  int width = 64;       // channels of the first level; doubled at each down step
  bool batch_norm = true;
  UNetUpsample upsample = UNetUpsample::Transpose;
  // Same: 3×3 convolutions keep the size (input must be a multiple of 2^depth; prediction pads).
  // Valid: no padding, as in the paper; the output is smaller than the input (overlap-tile).
  UNetPadding padding = UNetPadding::Same;
  // Input normalisation, per input channel, applied to pixel values scaled to 0..1.
  std::vector<float> mean{0.5f};
  std::vector<float> std{0.25f};

  void validate() const;  // Error "U-Net config: ..." when inconsistent
  std::string to_json() const;
  static UNetConfig from_json(const std::string& json, const std::string& context);
  std::string describe() const;  // one line, for logs and errors

  // Valid padding: output side for an input side, or -1 if the input side does not fit the
  // pooling grid. Same padding: the input itself if it is a multiple of 2^depth, else -1.
  int output_size(int input_size) const;
  // Smallest input side >= `at_least` whose output_size is defined.
  int fitting_input_size(int at_least) const;
  // How many pixels of context beyond a tile's kept region change a prediction (same padding),
  // or the border the valid network consumes on each side (valid padding).
  int context_margin() const;
};

class UNetModel : public Model {
 public:
  // A freshly initialised network (Kaiming-normal weights from `seed`).
  static std::shared_ptr<UNetModel> create(const UNetConfig& config, uint64_t seed = 0);
  // A checkpoint written by save() or by `segkit unet train`; Error naming the file when it is
  // corrupt, not a U-Net checkpoint, or its tensors do not match its configuration.
  static std::shared_ptr<UNetModel> load(const std::string& path);
  // Several trained networks as one model (ensembles of ensembles are flattened): predictions
  // average the members' class probabilities. Members may differ in architecture but must take
  // the same input channels and give the same classes (Error otherwise). Weights are shared.
  static std::shared_ptr<UNetModel> ensemble(const std::vector<std::shared_ptr<const UNetModel>>& members);
  // Writes weights + config atomically (safetensors), plus `<path without .safetensors>.json`.
  // An ensemble's tensors are named members.<i>.<name>, its configs listed in that order.
  void save(const std::string& path, const std::string& extra_json = "{}") const;
  ~UNetModel() override;
  std::string family() const override;  // "unet"
  ModelInfo info() const override;

  const UNetConfig& config() const;  // an ensemble's first member's
  int member_count() const;          // 1, or the networks of an ensemble
  int64_t parameter_count() const;   // of all members

 private:
  friend struct unet::Internals;
  struct Impl;
  explicit UNetModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct UNetPredictOptions {
  int tile = 0;     // 0 = whole image at once; else input tile side in pixels
  int overlap = -1; // -1 = enough context that tiles match untiled prediction (see context_margin)
  bool probabilities = false;  // also return per-class softmax probabilities
  // Average the class probabilities over the 8 flips and quarter turns of the image (8x the work).
  bool test_time_augmentation = false;
};

struct UNetPrediction {
  int width = 0, height = 0, classes = 0;
  std::vector<int32_t> labels;        // height × width
  std::vector<float> probabilities;   // classes × height × width, if asked for
};

UNetPrediction unet_predict(const UNetModel& model, const Image& image, const UNetPredictOptions& options = {});

// The metrics of `segkit eval semantic` (mIoU, pixel accuracy, per-class IoU and Dice) of the
// model's predictions on DIR/images against DIR/masks (checked as for training; binary 0/255
// masks read as 0/1). Error naming the file for bad data or masks with values >= classes.
SemanticResult unet_evaluate(const UNetModel& model, const std::string& data_dir, const UNetPredictOptions& options = {});

// ---- Training ---------------------------------------------------------------------------

enum class UNetLoss { CrossEntropy, Dice, CrossEntropyDice };
UNetLoss parse_unet_loss(const std::string& name);  // "ce", "dice", "ce+dice"; Error otherwise

struct UNetTrainOptions {
  std::string data_dir;              // DIR/images/*, DIR/masks/* matched by stem
  std::string val_dir;               // optional separate validation set
  std::vector<std::string> val_stems;  // or: these stems of data_dir are held out for validation
  std::string out_dir;
  int classes = 0;                   // 0 = from the masks
  int epochs = 50;
  int steps_per_epoch = 0;           // 0 = one pass over the training images' crops (see docs)
  int batch_size = 4;                // crops per step on each process (see distributed)
  double lr = 1e-3;
  double weight_decay = 0.0;
  int crop = 256;
  UNetConfig model;                  // in_channels and classes are filled from the data
  UNetLoss loss = UNetLoss::CrossEntropyDice;
  std::vector<float> class_weights;  // empty = equal
  // The paper's separation weights on the cross-entropy (0 = off): pixels between two objects
  // (regions of labels other than 0) weigh up to 1 + border_weight, over about border_sigma px.
  double border_weight = 0.0;
  double border_sigma = 5.0;
  // Exponential moving average of the weights (0 = off, else the per-step decay, e.g. 0.995):
  // validation, best.safetensors and last.safetensors then use the averaged weights.
  double ema_decay = 0.0;
  // The paper's dropout at the end of the contracting path: each unit of the bottleneck's output
  // is zeroed with this probability during training (0 = off); inference is unaffected.
  double dropout = 0.0;
  std::vector<std::string> augment;  // subset of flip, rot90, elastic, intensity
  uint64_t seed = 0;
  bool bf16 = false;
  bool resume = false;
  bool progress = false;             // progress bar on stderr
  bool quiet = false;                // no per-epoch summary line on stderr
  // Data-parallel training (docs/distributed.md): each of world_size processes takes batch_size
  // crops per step and gradients are averaged; rank 0 alone validates and writes to out_dir.
  // Not stored with the run: a resumed run may use another world size that divides its batch.
  DistributedOptions distributed;
  // With more than one process, batch norm in training normalises over the crops of all
  // processes together (torch.nn.SyncBatchNorm) instead of each process's own; stored with the
  // run. Nothing changes with one process or without batch norm.
  bool sync_batch_norm = false;

  std::string to_json() const;
  static UNetTrainOptions from_json(const std::string& json, const std::string& context);
};

struct UNetEpochLog {
  int epoch = 0;
  double train_loss = 0, val_loss = -1;
  double mean_iou = -1, pixel_accuracy = -1, mean_dice = -1;
  std::vector<double> dice;  // per class
  double lr = 0, seconds = 0;
  std::string to_json() const;
};

struct UNetTrainResult {
  bool interrupted = false;  // SIGINT: last state saved, resume with resume = true
  int epochs_done = 0;
  std::vector<UNetEpochLog> log;
};

// Trains, writing RUN/last.safetensors, RUN/best.safetensors (+ .json), RUN/train_state.safetensors
// (everything --resume needs), RUN/log.jsonl and RUN/curves.png. Stops after the current step and
// saves on SIGINT. Errors (bad data, unusable run folder) leave no checkpoint behind.
// `stop_after_steps` > 0 stops (and saves, as SIGINT would) after that many steps in total: tests.
UNetTrainResult unet_train(const UNetTrainOptions& options, int64_t stop_after_steps = 0);

}  // namespace segkit
