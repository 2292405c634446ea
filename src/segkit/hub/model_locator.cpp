#include "hub/model_locator.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <vector>

#include "hub/hub_cache.h"
#include "segkit/error.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

[[noreturn]] void model_fail(const std::string& spec, const std::string& message) {
  fail("model '" + spec + "'", message);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A snapshot entry whose blob is gone (deleted or never finished) is a dangling link.
void check_not_dangling(const std::string& spec, const fs::path& p) {
  std::error_code ec;
  if (fs::is_symlink(p, ec) && !fs::exists(p, ec))
    model_fail(spec, p.string() + " is a link to a missing blob (incomplete download?); run segkit pull again");
}

std::string optional_file(const std::string& spec, const fs::path& p) {
  check_not_dangling(spec, p);
  return is_file(p) ? p.string() : std::string();
}

// Extensions decide; anything else is recognised by its first bytes.
WeightsFormat weights_format(const std::string& spec, const fs::path& file) {
  const std::string ext = lower(file.extension().string());
  if (ext == ".safetensors") return WeightsFormat::Safetensors;
  if (ext == ".pth" || ext == ".pt" || ext == ".bin" || ext == ".ckpt") return WeightsFormat::TorchPickle;
  unsigned char head[9] = {};
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  if (in.gcount() >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
    return WeightsFormat::TorchPickle;
  if (in.gcount() >= 1 && head[0] == 0x80) return WeightsFormat::TorchPickle;  // legacy torch.save
  if (in.gcount() == 9 && head[8] == '{') return WeightsFormat::Safetensors;
  model_fail(spec, "unknown model format for " + file.string() +
                       " (expected a .safetensors file or a torch.save checkpoint .pth/.pt/.bin)");
}

ModelLocation from_file(const std::string& spec, const fs::path& file, const std::string& description) {
  ModelLocation loc;
  loc.weights = file.string();
  loc.format = weights_format(spec, file);
  loc.description = description;
  // Hugging Face exports keep their config beside the weights; official .pth files stand alone.
  const std::string ext = lower(file.extension().string());
  if (loc.format == WeightsFormat::Safetensors || ext == ".bin") {
    loc.config = optional_file(spec, file.parent_path() / "config.json");
    loc.preprocessor_config = optional_file(spec, file.parent_path() / "preprocessor_config.json");
  }
  return loc;
}

ModelLocation from_folder(const std::string& spec, const fs::path& dir, const std::string& description) {
  for (const char* name : {"model.safetensors", "pytorch_model.bin"}) {
    check_not_dangling(spec, dir / name);
    if (is_file(dir / name)) return from_file(spec, dir / name, description);
  }
  if (is_file(dir / "model.safetensors.index.json") || is_file(dir / "pytorch_model.bin.index.json"))
    model_fail(spec, dir.string() + " holds sharded weights (*.index.json), which segkit does not read; "
                                    "merge them into one model.safetensors");
  // A folder holding a single checkpoint file (e.g. a repo with only sam_vit_b_01ec64.pth).
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string ext = lower(entry.path().extension().string());
    if ((ext == ".safetensors" || ext == ".pth" || ext == ".pt") && is_file(entry.path()))
      candidates.push_back(entry.path());
  }
  if (candidates.size() == 1) return from_file(spec, candidates[0], description);
  if (candidates.size() > 1) {
    std::sort(candidates.begin(), candidates.end());
    std::string names;
    for (const auto& c : candidates) names += (names.empty() ? "" : ", ") + c.filename().string();
    model_fail(spec, dir.string() + " holds several checkpoints (" + names + "); pass one of them");
  }
  model_fail(spec, dir.string() + " has no model.safetensors or pytorch_model.bin (nor a single .safetensors/.pth file)");
}

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

ModelLocation from_hub_cache(const std::string& spec, const std::string& repo, std::string revision) {
  if (revision.empty()) revision = "main";
  const std::string pull = "segkit pull " + repo + (revision == "main" ? "" : " --revision " + revision);
  if (!is_safe_revision(revision)) model_fail(spec, "invalid revision '" + revision + "'");
  const HubCacheDir cache = hub_cache_dir();
  const fs::path folder = hub_repo_folder(cache.path, repo);
  const fs::path ref = folder / "refs" / revision;
  std::string commit;
  if (is_file(ref)) {
    std::ifstream in(ref);
    std::getline(in, commit);
    commit = trim(commit);
    if (!is_commit_hash(commit)) model_fail(spec, ref.string() + " does not hold a commit hash");
  } else if (is_commit_hash(revision) && fs::is_directory(folder / "snapshots" / revision)) {
    commit = revision;
  } else {
    model_fail(spec, "not a local file or folder, and not in the Hugging Face cache (looked for " + ref.string() +
                         "; cache " + cache.path + " chosen by " + cache.chosen_by + "); download it with: " + pull);
  }
  const fs::path snapshot = folder / "snapshots" / commit;
  if (!fs::is_directory(snapshot))
    model_fail(spec, ref.string() + " points to commit " + commit + " but " + snapshot.string() +
                         " is missing; download it again with: " + pull);
  ModelLocation loc = from_folder(spec, snapshot, repo + "@" + revision + " (snapshot " + commit + ")");
  loc.found_as = "hub cache";
  return loc;
}

}  // namespace

ModelLocation locate_model(const std::string& spec, const std::string& revision) {
  if (spec.empty()) fail("--model", "empty model name");
  std::error_code ec;
  const fs::path path(spec);
  const fs::file_status st = fs::status(path, ec);
  if (fs::is_directory(st)) {
    ModelLocation loc = from_folder(spec, path, spec);
    loc.found_as = "folder";
    return loc;
  }
  if (fs::is_regular_file(st)) {
    ModelLocation loc = from_file(spec, path, spec);
    loc.found_as = "file";
    return loc;
  }
  if (fs::exists(st)) model_fail(spec, "not a regular file or folder");
  check_not_dangling(spec, path);

  std::string repo = spec, rev = revision;
  if (const size_t at = spec.rfind('@'); at != std::string::npos) {
    repo = spec.substr(0, at);
    if (rev.empty()) rev = spec.substr(at + 1);
  }
  if (!is_hub_repo_id(repo))
    model_fail(spec, "no such file or folder (and not a Hugging Face repo id ORG/NAME)");
  return from_hub_cache(spec, repo, rev);
}

}  // namespace segkit
