// `segkit unet ensemble`: several trained U-Nets combined into one checkpoint whose predictions
// average the members' class probabilities.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cmd_unet.h"
#include "command.h"
#include "segkit/error.h"
#include "segkit/unet.h"

namespace segkit::cli {

void add_unet_ensemble(CLI::App& unet) {
  struct Flags {
    CommonOptions common;
    std::vector<std::string> models;
    std::string out;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = unet.add_subcommand(
      "ensemble", "Combine trained U-Nets (e.g. runs with other seeds) into one checkpoint that averages their class probabilities");
  cmd->add_option("models", f->models, "Checkpoints to combine (an ensemble's members count one by one)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("-o,--out", f->out, "The ensemble checkpoint to write (OUT.safetensors, plus OUT.json)")->required();
  add_common_options(*cmd, f->common);
  cmd->callback([f] {
    apply_common_options(f->common);
    std::vector<std::shared_ptr<const UNetModel>> members;
    for (const auto& path : f->models) {
      auto model = UNetModel::load(require_model_family(path, "unet").weights);
      if (!members.empty()) {
        const UNetConfig &first = members.front()->config(), &c = model->config();
        if (c.in_channels != first.in_channels || c.classes != first.classes)
          fail(path, "takes " + std::to_string(c.in_channels) + " input channel(s) and gives " + std::to_string(c.classes) +
                         " classes; " + f->models.front() + " takes " + std::to_string(first.in_channels) + " and gives " +
                         std::to_string(first.classes));
      }
      members.push_back(std::move(model));
    }
    const auto ensemble = UNetModel::ensemble(members);
    ensemble->save(f->out, nlohmann::json{{"members", f->models}}.dump());
    if (!f->common.quiet)
      std::cerr << "wrote " << f->out << ": " << ensemble->member_count() << " networks, " << ensemble->parameter_count()
                << " parameters\n";
  });
}

}  // namespace segkit::cli
