// locate_model: --model strings to files, with the Hugging Face cache faked in a temp folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "hub/hub_cache.h"
#include "hub/model_locator.h"
#include "segkit/error.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using segkit::ModelLocation;
using segkit::WeightsFormat;
using segkit::locate_model;
using segkit::test::ScopedEnv;
using segkit::test::TempDir;

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kOtherCommit = "fedcba9876543210fedcba9876543210fedcba98";

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// models--acme--tiny-sam with main -> kCommit (config + safetensors linked into blobs/) and
// v1 -> kOtherCommit (a lone .pth).
std::string make_fake_cache(const TempDir& dir) {
  const fs::path repo = fs::path(dir.path()) / "hub" / "models--acme--tiny-sam";
  write(repo / "refs" / "main", kCommit);
  write(repo / "refs" / "v1", kOtherCommit + "\n");
  fs::create_directories(repo / "blobs");
  fs::copy_file(segkit::test::data_path("sam-tiny/hf/model.safetensors"), repo / "blobs" / "aaaa");
  write(repo / "blobs" / "bbbb", "{}");
  const fs::path snap = repo / "snapshots" / kCommit;
  fs::create_directories(snap);
  fs::create_symlink("../../blobs/aaaa", snap / "model.safetensors");
  fs::create_symlink("../../blobs/bbbb", snap / "config.json");
  write(repo / "snapshots" / kOtherCommit / "sam_tiny.pth", "PK\x03\x04");
  return (fs::path(dir.path()) / "hub").string();
}

std::string locate_error(const std::string& spec, const std::string& revision = "") {
  try {
    locate_model(spec, revision);
  } catch (const segkit::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelLocator, HuggingFaceFolder) {
  const std::string dir = segkit::test::data_path("sam-tiny/hf");
  ModelLocation loc = locate_model(dir);
  EXPECT_EQ(loc.weights, (fs::path(dir) / "model.safetensors").string());
  EXPECT_EQ(loc.format, WeightsFormat::Safetensors);
  EXPECT_EQ(loc.config, (fs::path(dir) / "config.json").string());
  EXPECT_EQ(loc.preprocessor_config, (fs::path(dir) / "preprocessor_config.json").string());
}

TEST(ModelLocator, FolderWithPytorchModelBin) {
  TempDir dir;
  write(fs::path(dir.path()) / "config.json", "{}");
  write(fs::path(dir.path()) / "pytorch_model.bin", "PK\x03\x04");
  ModelLocation loc = locate_model(dir.path());
  EXPECT_EQ(loc.format, WeightsFormat::TorchPickle);
  EXPECT_EQ(fs::path(loc.weights).filename(), "pytorch_model.bin");
  EXPECT_EQ(fs::path(loc.config).filename(), "config.json");
  EXPECT_EQ(loc.preprocessor_config, "");
}

TEST(ModelLocator, SingleFiles) {
  const std::string pth = segkit::test::data_path("sam-tiny/original/sam_tiny.pth");
  ModelLocation loc = locate_model(pth);
  EXPECT_EQ(loc.weights, pth);
  EXPECT_EQ(loc.format, WeightsFormat::TorchPickle);
  EXPECT_EQ(loc.config, "");  // official checkpoints stand alone

  const std::string st = segkit::test::data_path("sam-tiny/hf/model.safetensors");
  loc = locate_model(st);
  EXPECT_EQ(loc.format, WeightsFormat::Safetensors);
  EXPECT_NE(loc.config, "");

  // Unknown extensions are sniffed.
  TempDir dir;
  fs::copy_file(pth, dir.file("weights.data"));
  fs::copy_file(st, dir.file("weights.model"));
  EXPECT_EQ(locate_model(dir.file("weights.data")).format, WeightsFormat::TorchPickle);
  EXPECT_EQ(locate_model(dir.file("weights.model")).format, WeightsFormat::Safetensors);
  write(dir.file("notes.txt"), "hello");
  EXPECT_NE(locate_error(dir.file("notes.txt")).find("unknown model format"), std::string::npos);
}

TEST(ModelLocator, FolderProblems) {
  TempDir dir;
  const fs::path d = dir.path();
  EXPECT_NE(locate_error(dir.path()).find("has no model.safetensors or pytorch_model.bin"), std::string::npos);
  write(d / "a.pth", "x");
  EXPECT_EQ(fs::path(locate_model(dir.path()).weights).filename(), "a.pth");  // a lone checkpoint
  write(d / "b.pth", "x");
  EXPECT_NE(locate_error(dir.path()).find("several checkpoints (a.pth, b.pth)"), std::string::npos);
  write(d / "model.safetensors.index.json", "{}");
  EXPECT_NE(locate_error(dir.path()).find("sharded"), std::string::npos);
}

TEST(ModelLocator, RepoIdFromHubCache) {
  TempDir dir;
  const std::string cache = make_fake_cache(dir);
  ScopedEnv hub("HF_HUB_CACHE", cache);
  ModelLocation loc = locate_model("acme/tiny-sam");
  const fs::path snap = fs::path(cache) / "models--acme--tiny-sam" / "snapshots" / kCommit;
  EXPECT_EQ(loc.weights, (snap / "model.safetensors").string());
  EXPECT_EQ(loc.config, (snap / "config.json").string());
  EXPECT_EQ(loc.format, WeightsFormat::Safetensors);
  EXPECT_NE(loc.description.find(kCommit), std::string::npos);

  // A tag, by argument or with @; a commit hash without a ref.
  for (const auto& [spec, rev] : {std::pair<std::string, std::string>{"acme/tiny-sam", "v1"},
                                  {"acme/tiny-sam@v1", ""},
                                  {"acme/tiny-sam@" + kOtherCommit, ""}}) {
    SCOPED_TRACE(spec + " " + rev);
    loc = locate_model(spec, rev);
    EXPECT_EQ(fs::path(loc.weights).filename(), "sam_tiny.pth");
    EXPECT_EQ(loc.format, WeightsFormat::TorchPickle);
  }
}

TEST(ModelLocator, CacheDirectoryFromEnvironment) {
  TempDir dir;
  make_fake_cache(dir);  // under <dir>/hub, i.e. HF_HOME=<dir>
  ScopedEnv no_hub("HF_HUB_CACHE", std::nullopt);
  ScopedEnv home("HF_HOME", dir.path());
  EXPECT_EQ(segkit::hub_cache_dir().path, dir.path() + "/hub");
  EXPECT_EQ(segkit::hub_cache_dir().chosen_by, "$HF_HOME/hub");
  EXPECT_NO_THROW(locate_model("acme/tiny-sam"));
  ScopedEnv no_home("HF_HOME", std::nullopt);
  ScopedEnv no_xdg("XDG_CACHE_HOME", std::nullopt);
  ScopedEnv user_home("HOME", dir.path());
  EXPECT_EQ(segkit::hub_cache_dir().path, dir.path() + "/.cache/huggingface/hub");
}

TEST(ModelLocator, MissingRepoSaysWhereItLookedAndHowToPull) {
  TempDir dir;
  const std::string cache = make_fake_cache(dir);
  ScopedEnv hub("HF_HUB_CACHE", cache);
  std::string err = locate_error("facebook/sam-vit-base");
  EXPECT_NE(err.find("model 'facebook/sam-vit-base'"), std::string::npos) << err;
  EXPECT_NE(err.find(cache + "/models--facebook--sam-vit-base/refs/main"), std::string::npos) << err;
  EXPECT_NE(err.find("$HF_HUB_CACHE"), std::string::npos) << err;
  EXPECT_NE(err.find("segkit pull facebook/sam-vit-base"), std::string::npos) << err;

  err = locate_error("acme/tiny-sam", "v2");
  EXPECT_NE(err.find("segkit pull acme/tiny-sam --revision v2"), std::string::npos) << err;

  EXPECT_NE(locate_error("no-such-model.pth").find("no such file or folder"), std::string::npos);
  EXPECT_NE(locate_error("acme/tiny-sam", "../../etc").find("invalid revision"), std::string::npos);
  EXPECT_NE(locate_error("").find("empty model name"), std::string::npos);

  // A snapshot whose blob vanished.
  fs::remove(fs::path(cache) / "models--acme--tiny-sam" / "blobs" / "aaaa");
  EXPECT_NE(locate_error("acme/tiny-sam").find("missing blob"), std::string::npos);
  // A ref to a snapshot that does not exist.
  fs::remove_all(fs::path(cache) / "models--acme--tiny-sam" / "snapshots" / kCommit);
  EXPECT_NE(locate_error("acme/tiny-sam").find("is missing; download it again"), std::string::npos);
}

TEST(ModelLocator, RepoIdSyntax) {
  EXPECT_TRUE(segkit::is_hub_repo_id("facebook/sam-vit-base"));
  EXPECT_TRUE(segkit::is_hub_repo_id("wanglab/medsam-vit-base"));
  EXPECT_TRUE(segkit::is_hub_repo_id("Zigeng/SlimSAM-uniform-77"));
  EXPECT_FALSE(segkit::is_hub_repo_id("sam-vit-base"));
  EXPECT_FALSE(segkit::is_hub_repo_id("a/b/c"));
  EXPECT_FALSE(segkit::is_hub_repo_id("../x"));
  EXPECT_FALSE(segkit::is_hub_repo_id("a--b/c"));
  EXPECT_FALSE(segkit::is_hub_repo_id("a/b c"));
  EXPECT_EQ(segkit::hub_repo_folder("/c", "facebook/sam-vit-base"), "/c/models--facebook--sam-vit-base");
  EXPECT_TRUE(segkit::is_safe_revision("refs/pr/1"));
  EXPECT_FALSE(segkit::is_safe_revision("a/../b"));
}

}  // namespace
