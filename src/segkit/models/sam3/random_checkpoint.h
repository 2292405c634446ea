#pragma once
// Random-weight SAM 3 model folders in the Hugging Face layout, for benchmarks on machines
// without the real weights (facebook/sam3 is gated): every tensor of transformers' Sam3Model at
// its shape, with values of a scale that keeps activations O(1) through all 32 ViT layers (not
// transformers' init, whose zero biases and unit norms would make the arithmetic
// unrepresentative), and a synthetic CLIP tokenizer of the configured vocabulary size.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/sam3/checkpoint.h"
#include "models/sam3/config.h"

namespace segkit::sam3 {

// transformers' config.json of a Sam3Model with `config` (model_type "sam3", every block and
// field written out, so that parse_config gives `config` back whatever its defaults).
nlohmann::json config_json(const Sam3Config& config);

// Sam3Processor's processor_config.json for the config's input size (mask size ×4 the grid,
// the ×4 FPN level), otherwise transformers' defaults.
nlohmann::json processor_config_json(const Sam3Config& config);

// Every tensor of transformers' Sam3Model state dict (the image model: vision and text
// encoders, geometry encoder, DETR encoder and decoder, scoring, mask decoder) with its shape,
// without config.weight_prefix. Sam3Model::load reads each of them (CLIP's own
// text_encoder.text_projection only where present).
Shapes model_shapes(const Sam3Config& config);

// A CLIP byte-level BPE vocabulary of exactly `vocab_size` ids laid out as CLIP's: the 256 byte
// symbols (GPT-2's byte-to-unicode order), the same with "</w>", one token per merge, then
// <|startoftext|> and <|endoftext|> as the last two ids (49406 and 49407 for 49408). The merges
// are generated, not learned: lowercase letter strings, shortest first, each with and without
// "</w>". Error when vocab_size is below the 514 ids the bytes and the specials take.
struct ClipVocabFiles {
  std::string vocab_json;  // vocab.json: {"token": id, ...}
  std::string merges_txt;  // merges.txt: "#version: 0.2" then one "left right" per line
};
ClipVocabFiles synthetic_clip_vocab(int64_t vocab_size);

// Writes config.json, model.safetensors (float32, tensors generated and written one at a time:
// memory stays at the largest tensor, not the checkpoint), processor_config.json, vocab.json
// and merges.txt into `folder`, created if needed. `config_path` "": the released model's
// configuration (Sam3Config's defaults = transformers' Sam3Config()); else that config.json
// (sam3 or sam3_video, copied as it is; its tensors then carry "detector_model.") with the
// processor_config.json beside it when there is one. Same seed, same bytes. Error naming the
// file for a config without model_type or one segkit cannot run, and before writing anything when `folder` already holds
// a tokenizer.json (it would shadow the synthetic vocabulary).
void write_random_checkpoint(const std::string& folder, const std::string& config_path = "", uint64_t seed = 0);

}  // namespace segkit::sam3
