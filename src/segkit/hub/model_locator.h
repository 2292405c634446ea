#pragma once
// Turns what a user passes as --model into files on disk, without touching the network:
//  - a folder with config.json and model.safetensors (or pytorch_model.bin): a Hugging Face
//    model folder, e.g. a snapshot of facebook/sam-vit-base;
//  - a weights file: .safetensors, or a torch.save checkpoint (.pth / .pt / .bin); files with
//    other extensions are recognised by their first bytes;
//  - ORG/NAME[@REVISION]: a Hugging Face repo id, resolved in the local hub cache
//    (see hub_cache.h) at refs/<revision> (default main), or a commit hash.
// A local path wins over a repo id of the same spelling.
#include <string>

namespace segkit {

enum class WeightsFormat { Safetensors, TorchPickle };

struct ModelLocation {
  std::string weights;               // the weights file
  WeightsFormat format = WeightsFormat::Safetensors;
  std::string config;                // config.json next to the weights, "" when there is none
  std::string preprocessor_config;   // preprocessor_config.json, "" when there is none
  std::string description;           // for messages: "facebook/sam-vit-base@main (snapshot 1a2b3c...)"
  std::string found_as;              // what the spec named: "file", "folder" or "hub cache"
};

// Error "model 'SPEC': ..." saying what was tried and where it looked; for a repo id missing
// from the cache, the message suggests `segkit pull ORG/NAME`. `revision` overrides any
// @REVISION in the spec; empty means main.
ModelLocation locate_model(const std::string& spec, const std::string& revision = "");

}  // namespace segkit
