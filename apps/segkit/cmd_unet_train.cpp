// `segkit unet train`: flags into UNetTrainOptions; the loop lives in the library.
#include <cstdlib>
#include <iostream>

#include "cmd_unet.h"
#include "command.h"
#include "segkit/distributed.h"
#include "segkit/error.h"
#include "segkit/unet.h"

namespace segkit::cli {

namespace {
struct TrainFlags {
  CommonOptions common;
  UNetTrainOptions options;
  std::string val_split, class_weights, augment = "flip,rot90", upsample = "transpose", padding = "same",
              loss = "ce+dice", precision = "fp32";
  bool no_batch_norm = false;
  int epochs = 0;
  std::string dist_url;
  int rank = -1, world_size = -1;
  double dist_timeout = 300;
};

}  // namespace

void add_unet_train(CLI::App& unet) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = unet.add_subcommand("train", "Train a U-Net on DIR/images + DIR/masks (label PNGs)");
  UNetTrainOptions& o = flags->options;
  o.model.width = 16;
  cmd->add_option("--data", o.data_dir, "Training data: DIR/images/* and DIR/masks/* matched by file stem");
  cmd->add_option("-o,--out", o.out_dir, "Run folder for checkpoints, log.jsonl and curves.png")->required();
  cmd->add_option("--val", o.val_dir, "Validation data folder (same layout as --data)");
  cmd->add_option("--val-split", flags->val_split, "Comma-separated stems of --data held out for validation");
  cmd->add_option("--classes", o.classes, "Number of classes (default: largest mask value + 1)");
  cmd->add_option("--epochs", flags->epochs, "Epochs (default 50; with --resume: the saved value)");
  cmd->add_option("--steps-per-epoch", o.steps_per_epoch, "Steps per epoch (default: cover the images about once)");
  cmd->add_option("--batch-size", o.batch_size, "Crops per step")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Peak learning rate of Adam (cosine decay)")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "Decoupled weight decay (AdamW)")->capture_default_str();
  cmd->add_option("--crop", o.crop, "Side of the random training crops")->capture_default_str();
  cmd->add_option("--depth", o.model.depth, "Down steps")->capture_default_str();
  cmd->add_option("--width", o.model.width, "Channels of the first level")->capture_default_str();
  cmd->add_option("--upsample", flags->upsample, "transpose or bilinear")->capture_default_str()
      ->check(CLI::IsMember({"transpose", "bilinear"}));
  cmd->add_option("--padding", flags->padding, "same or valid (the paper's unpadded convolutions)")
      ->capture_default_str()->check(CLI::IsMember({"same", "valid"}));
  cmd->add_flag("--no-batch-norm", flags->no_batch_norm, "Convolutions with bias instead of batch norm");
  cmd->add_option("--loss", flags->loss, "ce, dice or ce+dice")->capture_default_str()
      ->check(CLI::IsMember({"ce", "dice", "ce+dice"}));
  cmd->add_option("--class-weights", flags->class_weights, "Comma-separated weight per class");
  cmd->add_option("--border-weight", o.border_weight,
                  "The paper's separation weight w0: pixels between two objects (labels other than 0) weigh up to 1 + w0 "
                  "in the cross-entropy (0 = off)")
      ->capture_default_str();
  cmd->add_option("--border-sigma", o.border_sigma, "Width in pixels of the separation weights")->capture_default_str();
  cmd->add_option("--ema", o.ema_decay,
                  "Validate and save an exponential moving average of the weights with this per-step decay "
                  "(e.g. 0.995; 0 = off)")
      ->capture_default_str();
  cmd->add_option("--dropout", o.dropout,
                  "Dropout probability on the bottleneck's output during training, as the paper (0 = off)")
      ->capture_default_str();
  cmd->add_option("--augment", flags->augment, "Comma-separated: flip, rot90, elastic, intensity (or none)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  cmd->add_option("--precision", flags->precision, "fp32 or bf16 (autocast forward)")->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--resume", o.resume, "Continue the run in --out exactly where it stopped");
  cmd->add_option("--dist-url", flags->dist_url,
                  "Data-parallel training: tcp://HOST:PORT where rank 0 listens, or env:// (MASTER_ADDR/MASTER_PORT); "
                  "torchrun, srun and mpirun variables are read without it (docs/distributed.md)");
  cmd->add_option("--rank", flags->rank, "This process's rank (from 0) with --dist-url");
  cmd->add_option("--world-size", flags->world_size, "Number of processes with --dist-url");
  cmd->add_flag("--sync-batch-norm", o.sync_batch_norm,
                "With several processes: batch norm over all processes' crops together (default: each "
                "process's own, as DDP)");
  cmd->add_option("--dist-timeout", flags->dist_timeout,
                  "Seconds a rank waits for the others (joining, each all-reduce) before failing")
      ->capture_default_str();
  add_common_options(*cmd, flags->common);
  cmd->callback([flags] {
    apply_common_options(flags->common);
    UNetTrainOptions o = flags->options;
    o.epochs = flags->epochs > 0 ? flags->epochs : (o.resume ? 0 : 50);
    o.val_stems = split_commas(flags->val_split);
    for (const auto& w : split_commas(flags->class_weights)) {
      char* end = nullptr;
      const float v = std::strtof(w.c_str(), &end);
      if (end == w.c_str() || *end) fail("--class-weights", "'" + w + "' is not a number");
      o.class_weights.push_back(v);
    }
    o.augment = split_commas(flags->augment);
    o.model.upsample = flags->upsample == "bilinear" ? UNetUpsample::Bilinear : UNetUpsample::Transpose;
    o.model.padding = flags->padding == "valid" ? UNetPadding::Valid : UNetPadding::Same;
    o.model.batch_norm = !flags->no_batch_norm;
    o.loss = parse_unet_loss(flags->loss);
    o.bf16 = flags->precision == "bf16";
    o.quiet = flags->common.quiet;
    o.progress = !flags->common.quiet;
    if (!o.resume && o.data_dir.empty()) fail("--data", "required (except with --resume)");
    o.distributed = resolve_distributed({flags->dist_url, flags->rank, flags->world_size, flags->dist_timeout});
    UNetTrainResult r = unet_train(o);
    if (r.interrupted) {
      std::cerr << "segkit: interrupted after epoch " << r.epochs_done << "; state saved in " << o.out_dir
                << " (continue with --resume)\n";
      std::exit(130);
    }
  });
}

}  // namespace segkit::cli
