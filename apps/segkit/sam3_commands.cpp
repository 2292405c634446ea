// SAM 3 in `segkit predict` (--text, --box), `embed` and `segment --text`.
#include "sam3_commands.h"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "prompt_args.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "segkit/overlay.h"
#include "segkit/sam3_output.h"

namespace segkit::cli {

namespace {

std::shared_ptr<const Sam3Model> load_sam3_model(const std::string& model, const LoadArgs& args) {
  const LoadOptions options = args.options();
  require_model_family(model, "sam3");
  return Sam3Model::load(model, options);
}

Sam3ImageEmbedding load_embedding(const std::string& path) {
  try {
    return Sam3ImageEmbedding::load(path);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    fail(path, what);
  }
}

std::string summary(const Sam3Result& r) {
  std::ostringstream s;
  s << '"' << r.text << "\": " << r.size() << (r.size() == 1 ? " instance" : " instances");
  constexpr int kShown = 8;  // the first scores, in query order; the records have them all
  for (int i = 0; i < std::min(r.size(), kShown); ++i)
    s << (i ? ", " : " (scores ") << std::fixed << std::setprecision(3) << r.scores[i];
  if (r.size() > kShown) s << ", …";
  if (r.size() > 0) s << ")";
  return s.str();
}

}  // namespace

std::vector<Sam3Prompt> sam3_prompts(const std::vector<std::string>& texts, const std::vector<std::string>& boxes) {
  Sam3Prompt exemplars;
  for (const std::string& b : boxes) {
    const ExemplarBoxArg box = parse_exemplar_box(b);
    exemplars.boxes.push_back(box.box);
    exemplars.box_labels.push_back(box.label);
  }
  if (texts.empty() && boxes.empty()) throw Error("a SAM 3 model needs --text PHRASE and/or --box X0,Y0,X1,Y1");
  if (texts.empty()) return {exemplars};
  std::vector<Sam3Prompt> prompts;
  for (const std::string& t : texts) {
    Sam3Prompt p = exemplars;
    p.text = t;
    prompts.push_back(std::move(p));
  }
  return prompts;
}

void warn_truncated(const std::vector<Sam3Result>& results, int text_length) {
  for (const Sam3Result& r : results)
    if (r.truncated)
      std::cerr << "segkit: warning: --text \"" << r.text << "\" is longer than the text model's " << text_length
                << " tokens; only its beginning was read\n";
}

void predict_sam3(const Sam3PredictArgs& a) {
  if (a.image.empty() == a.embedding.empty()) throw Error("give exactly one of --image or --embedding");
  if (!a.overlay.empty() && a.image.empty()) throw Error("--overlay needs --image");
  const std::vector<Sam3Prompt> prompts = sam3_prompts(a.texts, a.boxes);
  const auto model = load_sam3_model(a.model, a.load);

  Image image;
  Sam3ImageEmbedding embedding;
  if (!a.image.empty()) {
    image = load_image(a.image);
    embedding = model->encode_image(image);
  } else {
    embedding = load_embedding(a.embedding);
  }
  std::vector<std::string> phrases;
  for (const Sam3Prompt& p : prompts) phrases.push_back(p.phrase());
  Sam3RawOutput raw;
  try {
    raw = model->detect(embedding, model->encode_text(phrases), prompts);
  } catch (const Error& e) {
    if (a.embedding.empty()) throw;
    fail(a.embedding, e.what());  // an embedding of another model: name the file
  }
  if (!a.raw.empty()) save_sam3_raw(raw, a.raw);
  const std::vector<Sam3Result> results = model->postprocess(raw, a.options);
  warn_truncated(results, model->text_length());
  save_sam3_results(results, a.out);
  if (!a.overlay.empty()) {
    std::vector<const uint8_t*> masks;
    for (const Sam3Result& r : results)
      for (int i = 0; i < r.size(); ++i) masks.push_back(r.mask(i));
    Image pic = overlay_masks(image, masks);
    for (const auto& b : prompts.front().boxes) draw_box(pic, b);
    save_png(a.overlay, pic);
  }
  if (a.json) {
    std::cout << sam3_records_json(results);
  } else if (!a.quiet) {
    for (const Sam3Result& r : results) std::cout << summary(r) << "\n";
    std::cout << "wrote " << a.out << "\n";
  }
}

namespace {

class Sam3Segmenter : public FolderSegmenter {
 public:
  explicit Sam3Segmenter(const Sam3SegmentArgs& args) : args_(args), out_(args.out) {
    if (args.texts.empty()) throw Error("a SAM 3 model needs --text PHRASE (each becomes a category)");
    prompts_ = sam3_prompts(args.texts, {});
    model_ = load_sam3_model(args.model, args.load);
  }
  std::filesystem::path done_marker(const std::string& base) const override { return out_ / part(base); }
  size_t segment(const ImageJob& job, const Image& image) override {
    const std::vector<Sam3Result> results = model_->segment(image, prompts_, args_.options);
    if (!warned_) warn_truncated(results, model_->text_length());
    warned_ = true;
    size_t instances = 0;
    std::vector<const uint8_t*> masks;
    for (const Sam3Result& r : results) {
      instances += r.scores.size();
      for (int i = 0; i < r.size(); ++i) masks.push_back(r.mask(i));
    }
    if (args_.overlay) {
      ensure_folder(out_ / "overlay");
      save_png((out_ / "overlay" / (job.base + ".png")).string(), overlay_masks(image, masks));
    }
    ensure_folder(out_ / "instances");
    write_text_atomically(done_marker(job.base).string(), sam3_coco_results_json(results, job.image_id) + "\n");
    return instances;
  }
  std::string part(const std::string& base) const override { return "instances/" + base + ".json"; }
  nlohmann::json folder_info() const override {
    return {{"kind", "instance"}, {"categories_json", sam3_categories_json(args_.texts)}};
  }

 private:
  Sam3SegmentArgs args_;
  std::filesystem::path out_;
  std::vector<Sam3Prompt> prompts_;
  std::shared_ptr<const Sam3Model> model_;
  bool warned_ = false;
};

}  // namespace

std::unique_ptr<FolderSegmenter> sam3_folder_segmenter(const Sam3SegmentArgs& args) {
  return std::make_unique<Sam3Segmenter>(args);
}

void embed_sam3(const std::string& model_source, const LoadArgs& load, const std::string& image,
                const std::string& out, bool quiet) {
  const auto model = load_sam3_model(model_source, load);
  model->encode_image(load_image(image)).save(out);
  if (!quiet) std::cout << "wrote " << out << "\n";
}

}  // namespace segkit::cli
