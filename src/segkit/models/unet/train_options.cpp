// JSON forms of the training options (stored in the run so --resume needs no flags) and of
// one epoch's log line.
#include <nlohmann/json.hpp>

#include "core/json_fields.h"
#include "core/json_read.h"
#include "segkit/error.h"
#include "segkit/unet.h"

namespace segkit {

namespace {
const char* loss_name(UNetLoss l) {
  switch (l) {
    case UNetLoss::CrossEntropy: return "ce";
    case UNetLoss::Dice: return "dice";
    case UNetLoss::CrossEntropyDice: return "ce+dice";
  }
  return "ce";
}
}  // namespace

UNetLoss parse_unet_loss(const std::string& name) {
  if (name == "ce") return UNetLoss::CrossEntropy;
  if (name == "dice") return UNetLoss::Dice;
  if (name == "ce+dice") return UNetLoss::CrossEntropyDice;
  fail("--loss", "unknown loss '" + name + "' (ce, dice, ce+dice)");
}

std::string UNetTrainOptions::to_json() const {
  nlohmann::json j = {{"data_dir", data_dir},     {"val_dir", val_dir},
                      {"val_stems", val_stems},   {"classes", classes},
                      {"epochs", epochs},         {"steps_per_epoch", steps_per_epoch},
                      {"batch_size", batch_size}, {"lr", lr},
                      {"weight_decay", weight_decay}, {"crop", crop},
                      {"model", parse_json(model.to_json(), "U-Net config")},
                      {"loss", loss_name(loss)},  {"class_weights", class_weights},
                      {"augment", augment},       {"seed", seed},
                      {"border_weight", border_weight}, {"border_sigma", border_sigma},
                      {"ema_decay", ema_decay},   {"dropout", dropout},
                      {"precision", bf16 ? "bf16" : "fp32"}, {"sync_batch_norm", sync_batch_norm}};
  return j.dump();
}

UNetTrainOptions UNetTrainOptions::from_json(const std::string& text, const std::string& context) {
  UNetTrainOptions o;
  const nlohmann::json j = parse_json(text, context, JsonLimits::config());
  try {
    o.data_dir = j.at("data_dir").get<std::string>();
    o.val_dir = j.at("val_dir").get<std::string>();
    o.val_stems = j.at("val_stems").get<std::vector<std::string>>();
    read_required(j, context, "classes", o.classes, INT32_MIN, INT32_MAX);
    read_required(j, context, "epochs", o.epochs, INT32_MIN, INT32_MAX);
    read_required(j, context, "steps_per_epoch", o.steps_per_epoch, INT32_MIN, INT32_MAX);
    read_required(j, context, "batch_size", o.batch_size, INT32_MIN, INT32_MAX);
    read_required(j, context, "lr", o.lr);
    read_required(j, context, "weight_decay", o.weight_decay);
    read_required(j, context, "crop", o.crop, INT32_MIN, INT32_MAX);
    o.model = UNetConfig::from_json(j.at("model").dump(), context);
    o.loss = parse_unet_loss(j.at("loss").get<std::string>());
    read_required(j, context, "class_weights", o.class_weights);
    o.augment = j.at("augment").get<std::vector<std::string>>();
    o.seed = j.at("seed").get<uint64_t>();
    o.border_weight = j.value("border_weight", 0.0);  // absent in runs saved before it existed
    o.border_sigma = j.value("border_sigma", 5.0);
    o.ema_decay = j.value("ema_decay", 0.0);
    o.dropout = j.value("dropout", 0.0);
    o.bf16 = j.at("precision").get<std::string>() == "bf16";
    o.sync_batch_norm = j.value("sync_batch_norm", false);
  } catch (const nlohmann::json::exception& e) {
    fail(context, std::string("bad training options: ") + e.what());
  }
  return o;
}

std::string UNetEpochLog::to_json() const {
  nlohmann::json j = {{"epoch", epoch}, {"train_loss", train_loss}, {"lr", lr}, {"seconds", seconds}};
  if (val_loss >= 0) j["val_loss"] = val_loss;
  if (mean_iou >= 0) {
    j["mean_iou"] = mean_iou;
    j["pixel_accuracy"] = pixel_accuracy;
    j["mean_dice"] = mean_dice;
    j["dice"] = dice;
  }
  return j.dump();
}

}  // namespace segkit
