// `segkit unet train`: the training loop, its checkpoints, and exact resumption.
//
// Reproducibility: every random choice of step s of epoch e (which images, crop positions,
// augmentations) comes from generators seeded with (seed, e, s, slot), so the data a step sees
// does not depend on what ran before it. Resuming therefore only needs the weights, the
// optimizer moments and the position (epoch, step), all kept in RUN/train_state.safetensors.
//
// Data parallelism (docs/distributed.md): each rank takes its share of every step's crops
// (crop_schedule.h), gradients are averaged over the ranks while backward runs
// (data_parallel.h), batch norm spans all ranks' crops with --sync-batch-norm, and rank 0
// alone validates and writes. The run's batch is the global one (per-rank batch × world
// size), so a run resumes on another number of processes with the same steps and learning
// rates.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Optional.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/json_fields.h"
#include "core/json_read.h"
#include "models/unet/augment.h"
#include "models/unet/border_weights.h"
#include "models/unet/crop_schedule.h"
#include "models/unet/data_parallel.h"
#include "models/unet/dataset.h"
#include "models/unet/loss.h"
#include "models/unet/model_impl.h"
#include "models/unet/predict.h"
#include "models/unet/preprocess.h"
#include "models/unet/validation.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "training/adam.h"
#include "training/plot.h"
#include "training/weight_average.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) { interrupted = true; }

// SIGINT only raises a flag while training runs; the loop saves and returns at the next step.
class SigintGuard {
 public:
  SigintGuard() {
    interrupted = false;
    struct sigaction sa = {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &previous_);
  }
  ~SigintGuard() { ::sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ = {};
};

// LibTorch 2.4 made autocast's switches per device type; the CPU ones before are deprecated
// there (and warn on every call).
#define SEGKIT_DEVICE_TYPE_AUTOCAST (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

// bf16 autocast for the forward pass (weights and optimizer stay fp32).
class Autocast {
 public:
  explicit Autocast(bool on) : on_(on) {
    if (!on_) return;
#if SEGKIT_DEVICE_TYPE_AUTOCAST
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
#else
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
#endif
  }
  ~Autocast() {
    if (!on_) return;
#if SEGKIT_DEVICE_TYPE_AUTOCAST
    at::autocast::set_autocast_enabled(at::kCPU, false);
#else
    at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

struct Position {
  int epoch = 0;          // epochs completed
  int step = 0;           // steps completed within the next epoch
  int64_t global_step = 0;
  double loss_sum = 0;    // training loss summed over this epoch's steps so far
  double best_score = -std::numeric_limits<double>::infinity();
  int best_epoch = -1;
  double seconds = 0;     // training time before this session
  int global_batch = 0;   // crops per step over all ranks
  std::vector<UNetEpochLog> log;
};

nlohmann::json position_json(const Position& p) {
  nlohmann::json log = nlohmann::json::array();
  for (const auto& e : p.log) log.push_back(parse_json(e.to_json(), "epoch log"));
  return {{"epoch", p.epoch},       {"step", p.step},           {"global_step", p.global_step},
          {"loss_sum", p.loss_sum}, {"best_score", p.best_score}, {"best_epoch", p.best_epoch},
          {"seconds", p.seconds},   {"global_batch", p.global_batch}, {"log", log}};
}

// Counts are range-checked (a float like 1e300 must not be converted); the rest is read as is.
Position position_from_json(const nlohmann::json& j, const std::string& context) {
  Position p;
  read_required(j, context, "epoch", p.epoch, 0, INT32_MAX);
  read_required(j, context, "step", p.step, 0, INT32_MAX);
  read_required(j, context, "global_step", p.global_step, 0, INT64_MAX);
  p.loss_sum = j.at("loss_sum");
  p.best_score = j.at("best_score").is_number() ? j.at("best_score").get<double>() : p.best_score;
  read_required(j, context, "best_epoch", p.best_epoch, -1, INT32_MAX);
  p.seconds = j.at("seconds");
  read_optional(&j, context, "global_batch", p.global_batch, 1, INT32_MAX);  // absent before data parallelism
  for (const auto& e : j.at("log")) {
    UNetEpochLog l;
    read_required(e, context, "epoch", l.epoch, 0, INT32_MAX);
    l.train_loss = e.at("train_loss");
    l.lr = e.at("lr");
    l.seconds = e.at("seconds");
    l.val_loss = e.value("val_loss", -1.0);
    l.mean_iou = e.value("mean_iou", -1.0);
    l.pixel_accuracy = e.value("pixel_accuracy", -1.0);
    l.mean_dice = e.value("mean_dice", -1.0);
    if (e.contains("dice")) l.dice = e.at("dice").get<std::vector<double>>();
    p.log.push_back(l);
  }
  return p;
}

uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(a),
                    static_cast<uint32_t>(b), static_cast<uint32_t>(c)};
  uint32_t out[2];
  seq.generate(out, out + 2);
  return (static_cast<uint64_t>(out[0]) << 32) | out[1];
}

// Per-channel mean and std of the training pixels (scaled to 0..1): the input normalisation.
void set_normalisation(UNetConfig& config, const std::vector<unet::Sample>& samples) {
  const int c = config.in_channels;
  std::vector<double> sum(c, 0), sq(c, 0);
  double n = 0;
  for (const auto& s : samples) {
    const uint8_t* p = s.image.data;
    const size_t pixels = s.image.total();
    for (size_t i = 0; i < pixels; ++i)
      for (int ch = 0; ch < c; ++ch) {
        const double v = p[i * c + ch] / 255.0;
        sum[ch] += v;
        sq[ch] += v * v;
      }
    n += static_cast<double>(pixels);
  }
  config.mean.assign(c, 0.5f);
  config.std.assign(c, 0.25f);
  for (int ch = 0; ch < c; ++ch) {
    const double mean = sum[ch] / n, var = std::max(sq[ch] / n - mean * mean, 1e-6);
    config.mean[ch] = static_cast<float>(mean);
    config.std[ch] = static_cast<float>(std::sqrt(var));
  }
}

class Trainer {
 public:
  Trainer(const UNetTrainOptions& given, int64_t stop_after);
  UNetTrainResult run();

 private:
  void prepare(const UNetTrainOptions& given);
  void agree_on_start();
  bool writes() const { return rank_ == 0; }  // rank 0 alone validates, logs and saves
  double train_step(int epoch, int step);
  void validate(UNetEpochLog& entry);
  void save_state() const;
  void save_epoch(const UNetEpochLog& entry, bool best);
  void progress(int epoch, int step, double loss) const;
  // Cosine decay from --lr to 1% of it over the whole run.
  double lr_at(int64_t step) const {
    const double t = static_cast<double>(step) / (static_cast<double>(opt_.epochs) * steps_per_epoch_);
    return opt_.lr * (0.01 + 0.99 * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, t))));
  }
  std::string path(const char* name) const { return (fs::path(opt_.out_dir) / name).string(); }
  // The weights that are validated and saved: the moving average when there is one.
  UNetModel& evaluated() const { return average_ ? *average_ : *model_; }

  UNetTrainOptions opt_;
  int64_t stop_after_;
  std::vector<unet::Sample> train_, val_;
  std::shared_ptr<UNetModel> model_;
  std::shared_ptr<UNetModel> average_;  // with --ema
  std::unique_ptr<training::Adam> adam_;
  unet::Augmentations aug_;
  at::Tensor class_weights_;
  std::vector<cv::Mat> border_weights_;  // per training image; empty without --border-weight
  int steps_per_epoch_ = 0, label_crop_ = 0;
  Position pos_;
  bool tty_ = false;
  std::unique_ptr<unet::DataParallel> parallel_;  // in a process group
  int rank_ = 0, world_size_ = 1;
  bool stop_requested_ = false;     // SIGINT on some rank, agreed by all
  int order_epoch_ = -1;            // the epoch `order_` is for
  std::vector<int64_t> order_;      // this rank's images, one per crop of that epoch
};

// Joining the group comes first so that a rank whose preparation fails (bad data, an occupied
// run folder) tells the others, which then fail at once instead of at the next collective.
Trainer::Trainer(const UNetTrainOptions& given, int64_t stop_after) : stop_after_(stop_after) {
  if (given.distributed.active()) {
    parallel_ = std::make_unique<unet::DataParallel>(given.distributed);
    rank_ = parallel_->rank();
    world_size_ = parallel_->world_size();
  }
  try {
    prepare(given);
  } catch (...) {
    if (parallel_) try {
        parallel_->group().require_all(false, "preparing the run");
      } catch (const Error&) {
      }
    throw;
  }
  if (parallel_) agree_on_start();
}

void Trainer::agree_on_start() {
  parallel_->group().require_all(true, "preparing the run");
  UNetTrainOptions same = opt_;  // where the data lies may differ between machines
  same.data_dir = same.val_dir = same.out_dir = "";
  parallel_->require_same_run(same.to_json() + " on " + std::to_string(train_.size()) + " images, " +
                              std::to_string(steps_per_epoch_) + " steps per epoch");
  unet::DataParallel& p = *parallel_;
  p.share_start(unet::Internals::of(*model_).network(), average_ ? &unet::Internals::of(*average_).network() : nullptr,
                *adam_);
  if (opt_.sync_batch_norm) p.synchronise_batch_norm(unet::Internals::of(*model_).network());
}

void Trainer::prepare(const UNetTrainOptions& given) {
  opt_ = given;
  if (opt_.out_dir.empty()) fail("--out", "no run folder given");
  const std::string state_path = path("train_state.safetensors");
  std::shared_ptr<const SafetensorsFile> state;
  if (given.resume) {
    if (!fs::exists(state_path)) fail(state_path, "nothing to resume (no training state in this run folder)");
    state = SafetensorsFile::open(state_path);
    const auto& meta = state->metadata();
    if (!meta.count("options") || !meta.count("position")) fail(state_path, "not a segkit U-Net training state");
    opt_ = UNetTrainOptions::from_json(meta.at("options"), state_path);
    try {
      pos_ = position_from_json(parse_json(meta.at("position"), state_path + ": position"), state_path + ": position");
    } catch (const nlohmann::json::exception& e) {
      fail(state_path, std::string("bad training position: ") + e.what());
    }
    opt_.out_dir = given.out_dir;
    if (given.epochs > 0) opt_.epochs = given.epochs;
    if (!given.data_dir.empty()) opt_.data_dir = given.data_dir;
    if (!given.val_dir.empty()) opt_.val_dir = given.val_dir;
    opt_.progress = given.progress;
    opt_.quiet = given.quiet;
    if (pos_.global_batch == 0) pos_.global_batch = opt_.batch_size;  // a run from before data parallelism
    if (pos_.global_batch % world_size_ != 0)
      fail("--resume", "the run's batch of " + std::to_string(pos_.global_batch) + " crops per step does not split over " +
                           std::to_string(world_size_) + " processes");
    opt_.batch_size = pos_.global_batch / world_size_;
  } else {
    for (const char* name : {"train_state.safetensors", "last.safetensors"})
      if (fs::exists(path(name)))
        fail(path(name), "the run folder already holds a run: pass --resume to continue it, or choose another --out");
  }
  if (opt_.data_dir.empty()) fail("--data", "no training data folder given");
  if (opt_.epochs < 1) fail("--epochs", "must be at least 1");
  if (opt_.batch_size < 1) fail("--batch-size", "must be at least 1");
  opt_.distributed = given.distributed;
  if (!given.resume) pos_.global_batch = opt_.batch_size * world_size_;
  if (!(opt_.lr > 0)) fail("--lr", "must be positive");
  aug_ = unet::Augmentations::parse(opt_.augment);

  // Data: every file checked before anything is written.
  unet::DatasetOptions data_options;
  data_options.channels = given.resume ? opt_.model.in_channels : 0;
  train_ = unet::load_dataset(opt_.data_dir, data_options);
  data_options.channels = train_[0].image.channels();
  if (!opt_.val_dir.empty()) val_ = unet::load_dataset(opt_.val_dir, data_options);
  else if (!opt_.val_stems.empty()) val_ = unet::split_off(train_, opt_.val_stems, opt_.data_dir);

  UNetConfig& config = opt_.model;
  if (!given.resume) {
    config.in_channels = train_[0].image.channels();
    config.classes = opt_.classes > 0 ? opt_.classes
                                      : std::max({2, unet::max_label(train_) + 1, val_.empty() ? 0 : unet::max_label(val_) + 1});
    set_normalisation(config, train_);
  }
  config.validate();
  unet::check_classes(train_, config.classes);
  unet::check_classes(val_, config.classes);
  if (config.output_size(opt_.crop) < 1)
    fail("--crop", std::to_string(opt_.crop) + " does not fit " + config.describe() + "; the next size that does is " +
                       std::to_string(config.fitting_input_size(opt_.crop)));
  label_crop_ = config.output_size(opt_.crop);
  if (!opt_.class_weights.empty()) {
    if (static_cast<int>(opt_.class_weights.size()) != config.classes)
      fail("--class-weights", "needs " + std::to_string(config.classes) + " values, one per class");
    for (float w : opt_.class_weights)
      if (!(w >= 0)) fail("--class-weights", "weights must be non-negative");
    class_weights_ = at::from_blob(opt_.class_weights.data(), {config.classes}, at::kFloat).clone();
  }
  if (!(opt_.border_weight >= 0)) fail("--border-weight", "must be >= 0");
  if (!(opt_.border_sigma > 0)) fail("--border-sigma", "must be positive");
  if (!(opt_.ema_decay >= 0 && opt_.ema_decay < 1)) fail("--ema", "must be in [0, 1)");
  if (!(opt_.dropout >= 0 && opt_.dropout < 1)) fail("--dropout", "must be in [0, 1)");
  if (opt_.border_weight > 0)
    for (const auto& sample : train_) border_weights_.push_back(unet::border_weights(sample.mask, opt_.border_weight, opt_.border_sigma));

  // Steps per epoch: by default enough crops to cover every training image about once.
  if (opt_.steps_per_epoch > 0) {
    steps_per_epoch_ = opt_.steps_per_epoch;
  } else {
    double area = 0;
    for (const auto& s : train_) area += static_cast<double>(s.image.total());
    const double crops = std::max<double>(train_.size(), std::round(area / (double(opt_.crop) * opt_.crop)));
    steps_per_epoch_ = static_cast<int>(std::ceil(crops / pos_.global_batch));
  }

  model_ = UNetModel::create(config, opt_.seed);
  adam_ = std::make_unique<training::Adam>(unet::Internals::of(*model_).network().parameters(), 0.9, 0.999, 1e-8, opt_.weight_decay);
  if (state) {
    unet::load_state(unet::Internals::of(*model_).network(), *state, "model.", false);
    adam_->load_state(*state, "optimizer.", pos_.global_step);
  }
  if (opt_.ema_decay > 0) {
    average_ = UNetModel::create(config, opt_.seed);
    training::copy_state(unet::Internals::of(*average_).network().tensors(), unet::Internals::of(*model_).network().tensors());
    if (state) unet::load_state(unet::Internals::of(*average_).network(), *state, "average.", false);
  }
  if (!writes()) {
    opt_.quiet = true;
    opt_.progress = false;
    return;
  }
  std::error_code ec;
  fs::create_directories(opt_.out_dir, ec);
  if (ec) fail(opt_.out_dir, "cannot create the run folder: " + ec.message());
  tty_ = opt_.progress && ::isatty(STDERR_FILENO);
}

double Trainer::train_step(int epoch, int step) {
  const UNetConfig& config = opt_.model;
  const int batch = opt_.batch_size;
  if (order_epoch_ != epoch) {
    order_ = unet::epoch_crop_images(static_cast<int64_t>(train_.size()), rank_, world_size_, opt_.seed, epoch,
                                     static_cast<int64_t>(steps_per_epoch_) * batch);
    order_epoch_ = epoch;
  }
  std::vector<cv::Mat> images(batch), masks(batch), weights(batch);
  for (int b = 0; b < batch; ++b) {
    // Seeded by the crop's slot in the whole step, so that it does not depend on the world size.
    std::mt19937_64 rng(mix_seed(opt_.seed, epoch, step, static_cast<uint64_t>(b) * world_size_ + rank_));
    const int64_t i = order_[static_cast<size_t>(step) * batch + b];
    const unet::Sample& s = train_[i];
    unet::random_crop(s.image, s.mask, border_weights_.empty() ? cv::Mat() : border_weights_[i], opt_.crop, aug_, rng,
                      images[b], masks[b], weights[b]);
  }
  at::Tensor input = unet::to_input(images, config);
  at::Tensor target = at::empty({batch, label_crop_, label_crop_}, at::kLong);
  int64_t* t = target.data_ptr<int64_t>();
  const int off = (opt_.crop - label_crop_) / 2;
  for (int b = 0; b < batch; ++b)
    for (int y = 0; y < label_crop_; ++y) {
      const uint8_t* row = masks[b].ptr<uint8_t>(y + off) + off;
      for (int x = 0; x < label_crop_; ++x) *t++ = row[x];
    }
  at::Tensor pixel_weights;
  if (!border_weights_.empty()) {
    pixel_weights = at::empty({batch, label_crop_, label_crop_}, at::kFloat);
    float* w = pixel_weights.data_ptr<float>();
    for (int b = 0; b < batch; ++b)
      for (int y = 0; y < label_crop_; ++y) w = std::copy_n(weights[b].ptr<float>(y + off) + off, label_crop_, w);
  }

  const double lr = lr_at(pos_.global_step);
  adam_->zero_grad();
  if (parallel_) parallel_->share_running_statistics(unet::Internals::of(*model_).network());
  at::Tensor logits;
  {
    Autocast autocast(opt_.bf16);
    // Dropout draws from its own generator per step, like the crops: resuming needs no saved state.
    c10::optional<at::Generator> dropout_rng;
    if (opt_.dropout > 0)
      dropout_rng = at::make_generator<at::CPUGeneratorImpl>(mix_seed(opt_.seed, epoch, step, 0xd0d0 + rank_));
    logits = unet::Internals::of(*model_).network().forward(input, true, opt_.dropout, dropout_rng);
  }
  at::Tensor loss = unet::segmentation_loss(opt_.loss, logits.to(at::kFloat), target, class_weights_, pixel_weights);
  if (parallel_) parallel_->before_backward();
  loss.backward();
  double value = loss.item<double>();
  if (parallel_) {
    parallel_->after_backward();
    const auto agreed = parallel_->agree(value, interrupted);
    value = agreed.mean_loss;
    stop_requested_ = agreed.stop;
  } else {
    stop_requested_ = interrupted;
  }
  adam_->step(lr);
  return value;
}

void Trainer::validate(UNetEpochLog& entry) {
  if (val_.empty()) return;
  unet::Validation v(opt_.model.classes);
  double loss = 0;
  for (const auto& s : val_) {
    at::Tensor logits = unet::predict_logits(unet::Internals::of(evaluated()).network(), s.image);
    at::Tensor target = at::empty({1, s.mask.rows, s.mask.cols}, at::kLong);
    cv::Mat wide;
    s.mask.convertTo(wide, CV_32S);
    std::copy(wide.ptr<int32_t>(), wide.ptr<int32_t>() + wide.total(), target.data_ptr<int64_t>());
    loss += unet::segmentation_loss(opt_.loss, logits.unsqueeze(0), target, class_weights_).item<double>();
    v.add(logits, wide);
  }
  entry.val_loss = loss / static_cast<double>(val_.size());
  v.fill(entry);
}

void Trainer::save_state() const {
  std::vector<TensorRef> refs = unet::state_refs(unet::Internals::of(*model_).network(), "model.");
  for (auto& r : adam_->state_refs("optimizer.")) refs.push_back(r);
  if (average_)
    for (auto& r : unet::state_refs(unet::Internals::of(*average_).network(), "average.")) refs.push_back(r);
  write_safetensors(path("train_state.safetensors"), refs,
                    {{"options", opt_.to_json()}, {"position", position_json(pos_).dump()}, {"config", opt_.model.to_json()}});
}

void Trainer::save_epoch(const UNetEpochLog& entry, bool best) {
  const std::string info = nlohmann::json{{"epoch", entry.epoch}, {"step", pos_.global_step},
                                          {"metrics", parse_json(entry.to_json(), "epoch log")}}.dump();
  if (best) evaluated().save(path("best.safetensors"), info);
  evaluated().save(path("last.safetensors"), info);
  save_state();
  std::string lines;
  for (const auto& e : pos_.log) lines += e.to_json() + "\n";
  write_text_atomically(path("log.jsonl"), lines);
  training::write_curves_png(pos_.log, path("curves.png"));
}

void Trainer::progress(int epoch, int step, double loss) const {
  if (!tty_) return;
  const int width = 30, done = width * step / steps_per_epoch_;
  std::cerr << "\repoch " << epoch << "/" << opt_.epochs << " [" << std::string(done, '#')
            << std::string(width - done, '.') << "] " << step << "/" << steps_per_epoch_ << " loss " << loss << "   "
            << std::flush;
}

UNetTrainResult Trainer::run() {
  SigintGuard sigint;
  UNetTrainResult result;
  const auto session_start = std::chrono::steady_clock::now();
  const double earlier_seconds = pos_.seconds;  // training time of the sessions before this one
  auto elapsed = [&] {
    return earlier_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - session_start).count();
  };
  if (!opt_.quiet)
    std::cerr << "training " << opt_.model.describe() << ", " << model_->parameter_count() << " parameters, "
              << train_.size() << " training / " << val_.size() << " validation images, " << steps_per_epoch_
              << " steps of " << pos_.global_batch << " per epoch"
              << (world_size_ > 1 ? " (" + std::to_string(opt_.batch_size) + " on each of " +
                                        std::to_string(world_size_) + " processes)"
                                  : std::string())
              << "\n";
  while (pos_.epoch < opt_.epochs) {
    const int epoch = pos_.epoch + 1;
    while (pos_.step < steps_per_epoch_) {
      const double loss = train_step(epoch, pos_.step);
      if (!std::isfinite(loss)) fail("training", "loss became " + std::to_string(loss) + " at epoch " + std::to_string(epoch) + "; try a lower --lr");
      pos_.loss_sum += loss;
      ++pos_.step;
      ++pos_.global_step;
      if (average_) training::update_average(unet::Internals::of(*average_).network().tensors(), unet::Internals::of(*model_).network().tensors(), opt_.ema_decay, pos_.global_step);
      progress(epoch, pos_.step, pos_.loss_sum / pos_.step);
      if (stop_requested_ || (stop_after_ > 0 && pos_.global_step >= stop_after_)) {
        if (tty_) std::cerr << "\n";
        pos_.seconds = elapsed();
        if (writes()) {
          evaluated().save(path("last.safetensors"),
                           nlohmann::json{{"epoch", pos_.epoch}, {"step", pos_.global_step}, {"interrupted", true}}.dump());
          save_state();
        }
        result.interrupted = true;
        result.epochs_done = pos_.epoch;
        result.log = pos_.log;
        return result;
      }
    }
    if (tty_) std::cerr << "\n";
    UNetEpochLog entry;
    entry.epoch = epoch;
    entry.train_loss = pos_.loss_sum / steps_per_epoch_;
    entry.lr = lr_at(pos_.global_step);
    if (writes()) validate(entry);
    entry.seconds = elapsed();
    // The best checkpoint: highest validation mIoU, else lowest validation loss, else training loss.
    const double score = entry.mean_iou >= 0 ? entry.mean_iou : entry.val_loss >= 0 ? -entry.val_loss : -entry.train_loss;
    const bool best = score > pos_.best_score;
    if (best) {
      pos_.best_score = score;
      pos_.best_epoch = epoch;
    }
    pos_.log.push_back(entry);
    pos_.epoch = epoch;
    pos_.step = 0;
    pos_.loss_sum = 0;
    pos_.seconds = entry.seconds;
    if (writes()) save_epoch(entry, best);
    if (!opt_.quiet) std::cerr << entry.to_json() << (best ? " (best)" : "") << "\n";
  }
  result.epochs_done = pos_.epoch;
  result.log = pos_.log;
  return result;
}

}  // namespace

UNetTrainResult unet_train(const UNetTrainOptions& options, int64_t stop_after_steps) {
  Trainer trainer(options, stop_after_steps);
  return trainer.run();
}

}  // namespace segkit
