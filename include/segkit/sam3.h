#pragma once
// SAM 3 (Meta 2025), promptable concept segmentation: every instance of what a short noun
// phrase names and/or exemplar boxes show, with masks, boxes and scores, computed as
// transformers' Sam3Model and Sam3Processor compute them.
//
//   auto model = segkit::Sam3Model::load("facebook/sam3");  // folder, repo id in the HF cache
//   segkit::Sam3Result r = model->segment(segkit::load_image("street.jpg"), {"yellow truck"});
//   // r.scores[i], r.boxes[i], r.mask(i): every matching instance, in query order
//
// Or stage by stage, the image encoded once for any number of phrases:
//   Sam3ImageEmbedding image = model->encode_image(picture);        // the expensive part
//   Sam3TextEmbedding text = model->encode_text({"car", "person"});  // one row per phrase
//   Sam3RawOutput raw = model->detect(image, text);                  // transformers' raw outputs
//   std::vector<Sam3Result> results = model->postprocess(raw);       // one per phrase
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "segkit/float_array.h"
#include "segkit/image.h"
#include "segkit/model.h"

namespace segkit {

namespace sam3 {
struct Internals;  // the library's own access to the model's internals
}

// One query. With boxes alone the phrase is "visual", as Sam3Processor makes it.
struct Sam3Prompt {
  std::string text;                         // a noun phrase: "yellow truck"
  std::vector<std::array<float, 4>> boxes;  // exemplar boxes x0, y0, x1, y1 in image pixels
  std::vector<int> box_labels;              // 1 positive, 0 negative; empty: all positive

  Sam3Prompt() = default;
  Sam3Prompt(std::string phrase) : text(std::move(phrase)) {}  // NOLINT: a phrase is a prompt
  Sam3Prompt(const char* phrase) : text(phrase) {}             // NOLINT
  // What the text encoder reads: the phrase, or "visual" for boxes alone.
  std::string phrase() const { return text.empty() && !boxes.empty() ? "visual" : text; }
};

// Sam3Processor.post_process_instance_segmentation's parameters, same names and defaults.
struct Sam3Options {
  float threshold = 0.3f;       // keep a query whose score is above this (strictly)
  float mask_threshold = 0.5f;  // a pixel belongs to a mask where its probability is above this
};

// One prompt's instances on one image, at the image's size.
struct Sam3Result {
  std::string text;  // the phrase the model read ("visual" for boxes alone)
  int height = 0, width = 0;
  std::vector<float> scores;                // sigmoid(logit) · sigmoid(presence), in query order
  std::vector<std::array<float, 4>> boxes;  // x0, y0, x1, y1 in pixels, not clamped
  std::vector<int> queries;                 // the query each instance comes from, ascending
  std::vector<uint8_t> masks;               // size() × height × width, 0/1
  bool truncated = false;                   // the phrase was cut to the text model's length

  int size() const { return static_cast<int>(scores.size()); }
  const uint8_t* mask(int i) const { return masks.data() + static_cast<size_t>(i) * height * width; }
};

// The vision encoder's output for one image, reusable for any phrase and storable on disk.
struct Sam3ImageEmbedding {
  std::vector<FloatArray> levels;  // the FPN levels the detector reads, 1 × C × h × w, finest first
  // The mask decoder's convolutions of the finer levels, one per upsampling stage (coarsest
  // first), 1 × h × w × C (channels last, as the decoder reads them): its part that depends on
  // the image alone, so that each phrase runs only the rest. Empty from encode_image; filled by
  // Sam3Model::compute_mask_skips for an embedding that will be asked many phrases, and kept in
  // memory only (save() leaves them out, load() gives none). detect() without them computes
  // them itself when it has several prompts.
  std::vector<FloatArray> mask_skips;
  int original_height = 0, original_width = 0;
  std::string model_fingerprint;
  void save(const std::string& path) const;  // the levels as safetensors, atomically
  static Sam3ImageEmbedding load(const std::string& path);  // Error naming the file
};

// Phrases through the text encoder, one row each.
struct Sam3TextEmbedding {
  std::vector<std::string> phrases;  // as read ("visual" where a prompt had boxes alone)
  FloatArray tokens;                 // phrases × length × C
  std::vector<uint8_t> mask;         // phrases × length, 1 on real tokens
  std::vector<bool> truncated;       // per phrase: cut to the text model's length
};

// transformers' raw outputs, a row per prompt.
struct Sam3RawOutput {
  FloatArray pred_logits;      // P × Q
  FloatArray pred_boxes;       // P × Q × 4, x0, y0, x1, y1 normalized to the image
  FloatArray presence_logits;  // P × 1
  FloatArray pred_masks;       // P × Q × h × w mask logits
  FloatArray semantic_seg;     // P × 1 × h × w
  std::vector<std::string> phrases;
  std::vector<bool> truncated;
  int original_height = 0, original_width = 0;
};

class Sam3Model : public Model {
 public:
  // A Hugging Face folder (config.json of model_type sam3 or sam3_video, model.safetensors, the
  // tokenizer as tokenizer.json or vocab.json + merges.txt, processor_config.json), or a repo id
  // in the local cache. Error naming the file for anything missing, malformed or mis-shaped,
  // including a tokenizer whose vocabulary differs from the text embedding's.
  static std::shared_ptr<const Sam3Model> load(const std::string& source, const LoadOptions& options = {});
  ~Sam3Model() override;
  std::string family() const override;  // "sam3"
  ModelInfo info() const override;
  Precision precision() const;           // as resolved at load
  int image_size() const;                // the square the image is resized to (1008)
  int text_length() const;               // tokens per phrase, padding included (32)
  const std::string& fingerprint() const;  // stored with embeddings

  // Every instance each prompt names, the image encoded once. Error for a prompt with neither
  // words nor boxes, box labels that do not match, or a box without area inside the image.
  std::vector<Sam3Result> segment(const Image& image, const std::vector<Sam3Prompt>& prompts,
                                  const Sam3Options& options = {}) const;
  Sam3Result segment(const Image& image, const Sam3Prompt& prompt, const Sam3Options& options = {}) const;

  // The stages. tokenize: <|startoftext|> … <|endoftext|> padded to text_length(), as the
  // processor gives them (a longer phrase is cut, and `truncated` set).
  std::vector<int64_t> tokenize(const std::string& phrase, bool* truncated = nullptr) const;
  Sam3ImageEmbedding encode_image(const Image& image) const;
  // Fills embedding.mask_skips (unless it has them): about 60 G multiply-adds at 1008 px once,
  // after which every detect() of it runs about 34 G fewer per prompt. Worth it where one image
  // is asked several prompts over several calls (a server); a single detect() with several
  // prompts does it by itself. Error, as detect(), for an embedding of another model.
  void compute_mask_skips(Sam3ImageEmbedding& embedding) const;
  Sam3TextEmbedding encode_text(const std::vector<std::string>& phrases) const;
  // Row i detects prompt i: its boxes with text row i (or row 0 when `text` has one row).
  // `prompts` empty: text alone, one row per phrase. The prompts' own text is not read.
  Sam3RawOutput detect(const Sam3ImageEmbedding& image, const Sam3TextEmbedding& text,
                       const std::vector<Sam3Prompt>& prompts = {}) const;
  std::vector<Sam3Result> postprocess(const Sam3RawOutput& raw, const Sam3Options& options = {}) const;

 private:
  friend struct sam3::Internals;
  struct Impl;
  explicit Sam3Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
