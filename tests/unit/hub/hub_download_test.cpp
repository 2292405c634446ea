// hub_download / `segkit pull` against a fake hub: a cpp-httplib server on a loopback port
// serving the hub's URL layout and headers (API file list, /resolve/ with ETag or
// X-Linked-Etag + redirect to a CDN path that honours Range requests).
#include <gtest/gtest.h>

#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "hub/hub_download.h"
#include "hub/model_locator.h"
#include "hub/sha256.h"
#include "segkit/error.h"
#include "segkit/safetensors.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using segkit::test::ScopedEnv;
using segkit::test::TempDir;

const std::string kCommit = "4b3c2a1f00000000000000000000000000c0ffee";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct FakeFile {
  std::string content;
  bool lfs = false;
  std::string announced_sha256;  // X-Linked-Etag; "" = the true SHA-256
};

class FakeHub {
 public:
  FakeHub() {
    server_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      auto it = repos_.find(req.matches[1]);
      if (it == repos_.end()) return not_found(res);
      if (it->second.gated && req.get_header_value("Authorization").empty()) {
        res.status = 401;
        res.set_header("X-Error-Message", "Access to model is restricted.");
        return;
      }
      if (!it->second.info_body.empty()) return res.set_content(it->second.info_body, "application/json");
      nlohmann::json siblings = nlohmann::json::array();
      for (const auto& kv : it->second.files) siblings.push_back({{"rfilename", kv.first}});
      res.set_content(nlohmann::json{{"id", req.matches[1]}, {"sha", kCommit}, {"siblings", siblings}}.dump(),
                      "application/json");
    });
    server_.Get(R"(/([^/]+/[^/]+)/resolve/([0-9a-f]{40})/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      auto repo = repos_.find(req.matches[1]);
      if (repo == repos_.end() || req.matches[2] != kCommit) return not_found(res);
      auto file = repo->second.files.find(req.matches[3]);
      if (file == repo->second.files.end()) return not_found(res);
      const FakeFile& f = file->second;
      res.set_header("X-Repo-Commit", kCommit);
      if (!f.lfs) {  // git-stored: served directly, ETag = the git blob id
        res.set_header("ETag", "\"" + segkit::sha256_hex(f.content).substr(0, 40) + "\"");
        res.set_content(f.content, "text/plain");
        return;
      }
      const std::string sha = segkit::sha256_hex(f.content);
      cdn_[sha] = f.content;
      res.status = 302;
      res.set_header("Location", endpoint() + "/cdn/" + sha + "?signature=x");
      res.set_header("ETag", "\"pointer-etag\"");
      res.set_header("X-Linked-Etag", "\"" + (f.announced_sha256.empty() ? sha : f.announced_sha256) + "\"");
      res.set_header("X-Linked-Size", std::to_string(f.content.size()));
    });
    server_.Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      ranges_.push_back(req.get_header_value("Range"));
      const std::string content = cdn_.at(req.matches[1]);
      if (cut_next_transfer_at_ > 0 && req.get_header_value("Range").empty()) {
        // Announce the whole file, send part of it, drop the connection.
        const size_t cut = cut_next_transfer_at_;
        cut_next_transfer_at_ = 0;
        res.set_content_provider(content.size(), "application/octet-stream",
                                 [content, cut](size_t, size_t, httplib::DataSink& sink) {
                                   sink.write(content.data(), cut);
                                   return false;
                                 });
        return;
      }
      res.set_content(content, "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add_repo(const std::string& id, std::map<std::string, FakeFile> files, bool gated = false) {
    repos_[id] = Repo{std::move(files), gated};
  }
  // The repo's answer to /api/models/... is this text instead of its file list.
  void answer_repo_info_with(const std::string& id, std::string body) { repos_[id].info_body = std::move(body); }
  void cut_next_transfer_at(size_t bytes) { cut_next_transfer_at_ = bytes; }
  std::vector<std::string> ranges() {
    std::lock_guard<std::mutex> lock(mu_);
    return ranges_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_;
  }

 private:
  struct Repo {
    std::map<std::string, FakeFile> files;
    bool gated = false;
    std::string info_body;
  };
  void record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    auth_.push_back(req.get_header_value("Authorization"));
  }
  static void not_found(httplib::Response& res) {
    res.status = 404;
    res.set_header("X-Error-Message", "Repository not found");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> cdn_;
  std::vector<std::string> ranges_, auth_;
  size_t cut_next_transfer_at_ = 0;
};

std::string weights() { return slurp(segkit::test::data_path("sam-tiny/hf/model.safetensors")); }

std::map<std::string, FakeFile> tiny_repo_files() {
  return {{"config.json", {slurp(segkit::test::data_path("sam-tiny/hf/config.json"))}},
          {"model.safetensors", {weights(), true}},
          {"docs/notes.txt", {"nested file"}},
          {"tf_model.h5", {"tensorflow weights", true}},
          {".gitattributes", {"*.safetensors filter=lfs"}}};
}

segkit::HubDownloadOptions options(const FakeHub& hub, const TempDir& cache, const std::string& repo) {
  segkit::HubDownloadOptions o;
  o.repo_id = repo;
  o.endpoint = hub.endpoint();
  o.cache_dir = cache.path();
  o.token = "hf_test_token";
  o.retry_delay_ms = 0;
  return o;
}

TEST(HubDownload, PullsIntoTheCacheLayoutThatTheLocatorReads) {
  FakeHub hub;
  hub.add_repo("acme/tiny-sam", tiny_repo_files());
  TempDir cache;
  const segkit::HubDownloadResult r = segkit::hub_download(options(hub, cache, "acme/tiny-sam"));

  const fs::path repo = fs::path(cache.path()) / "models--acme--tiny-sam";
  const std::string sha = segkit::sha256_hex(weights());
  EXPECT_EQ(r.commit, kCommit);
  EXPECT_EQ(r.snapshot_dir, (repo / "snapshots" / kCommit).string());
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "docs/notes.txt", "model.safetensors"}));
  EXPECT_GT(r.bytes_downloaded, weights().size());
  EXPECT_EQ(slurp((repo / "refs" / "main").string()), kCommit);
  EXPECT_EQ(slurp((repo / "blobs" / sha).string()), weights());
  EXPECT_EQ(fs::read_symlink(repo / "snapshots" / kCommit / "model.safetensors"), "../../blobs/" + sha);
  EXPECT_EQ(fs::read_symlink(repo / "snapshots" / kCommit / "docs" / "notes.txt").string().substr(0, 15),
            "../../../blobs/");
  EXPECT_EQ(slurp((repo / "snapshots" / kCommit / "docs" / "notes.txt").string()), "nested file");
  EXPECT_FALSE(fs::exists(repo / "snapshots" / kCommit / "tf_model.h5"));  // not a format segkit reads
  for (const auto& a : hub.authorizations()) EXPECT_EQ(a, "Bearer hf_test_token");

  ScopedEnv env("HF_HUB_CACHE", cache.path());
  const segkit::ModelLocation loc = segkit::locate_model("acme/tiny-sam");
  EXPECT_EQ(loc.format, segkit::WeightsFormat::Safetensors);
  EXPECT_TRUE(segkit::SafetensorsFile::open(loc.weights)->contains("vision_encoder.pos_embed"));

  // Pulling again transfers nothing.
  EXPECT_EQ(segkit::hub_download(options(hub, cache, "acme/tiny-sam")).bytes_downloaded, 0u);
}

TEST(HubDownload, ResumesAnInterruptedTransfer) {
  FakeHub hub;
  hub.add_repo("acme/tiny-sam", tiny_repo_files());
  hub.cut_next_transfer_at(300000);
  TempDir cache;
  const segkit::HubDownloadResult r = segkit::hub_download(options(hub, cache, "acme/tiny-sam"));
  const auto ranges = hub.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1].substr(0, 6), "bytes=");
  const size_t resumed_at = std::stoul(ranges[1].substr(6));
  EXPECT_GT(resumed_at, 0u);
  EXPECT_LE(resumed_at, 300000u);
  EXPECT_EQ(slurp(r.snapshot_dir + "/model.safetensors"), weights());
}

TEST(HubDownload, ResumesAPartialFileFromAnEarlierRun) {
  FakeHub hub;
  hub.add_repo("acme/tiny-sam", tiny_repo_files());
  TempDir cache;
  const fs::path blobs = fs::path(cache.path()) / "models--acme--tiny-sam" / "blobs";
  fs::create_directories(blobs);
  const std::string sha = segkit::sha256_hex(weights());
  std::ofstream(blobs / (sha + ".incomplete"), std::ios::binary) << weights().substr(0, 5000);
  const segkit::HubDownloadResult r = segkit::hub_download(options(hub, cache, "acme/tiny-sam"));
  EXPECT_EQ(hub.ranges(), (std::vector<std::string>{"bytes=5000-"}));
  EXPECT_EQ(slurp(r.snapshot_dir + "/model.safetensors"), weights());
  EXPECT_FALSE(fs::exists(blobs / (sha + ".incomplete")));
}

TEST(HubDownload, ChecksumMismatchLeavesNothingBehind) {
  FakeHub hub;
  auto files = tiny_repo_files();
  files["model.safetensors"].announced_sha256 = segkit::sha256_hex("something else");
  hub.add_repo("acme/tampered", files);
  TempDir cache;
  try {
    segkit::hub_download(options(hub, cache, "acme/tampered"));
    FAIL() << "no error";
  } catch (const segkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("acme/tampered/model.safetensors: checksum mismatch: expected sha256 " +
                                         segkit::sha256_hex("something else") + ", got " +
                                         segkit::sha256_hex(weights())),
              std::string::npos)
        << e.what();
  }
  const fs::path repo = fs::path(cache.path()) / "models--acme--tampered";
  EXPECT_FALSE(fs::exists(repo / "snapshots"));
  EXPECT_FALSE(fs::exists(repo / "refs"));
  for (const auto& blob : fs::directory_iterator(repo / "blobs"))
    EXPECT_EQ(blob.path().string().find("incomplete"), std::string::npos) << blob.path();
  EXPECT_FALSE(fs::exists(repo / "blobs" / segkit::sha256_hex("something else")));
}

TEST(HubDownload, ReportsHttpErrorsClearly) {
  FakeHub hub;
  hub.add_repo("acme/gated", tiny_repo_files(), /*gated=*/true);
  TempDir cache;
  auto error_of = [&](segkit::HubDownloadOptions o) {
    try {
      segkit::hub_download(o);
    } catch (const segkit::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string err = error_of(options(hub, cache, "acme/missing"));
  EXPECT_NE(err.find("acme/missing: not found (HTTP 404)"), std::string::npos) << err;
  EXPECT_NE(err.find("Repository not found"), std::string::npos) << err;

  ScopedEnv no_token("HF_TOKEN", std::nullopt);
  ScopedEnv no_token_file("HF_TOKEN_PATH", cache.file("no-token"));
  auto o = options(hub, cache, "acme/gated");
  o.token.clear();
  err = error_of(o);
  EXPECT_NE(err.find("access denied (HTTP 401)"), std::string::npos) << err;
  EXPECT_NE(err.find("set HF_TOKEN"), std::string::npos) << err;
  {
    ScopedEnv token("HF_TOKEN", "hf_from_env");
    EXPECT_EQ(error_of(o), "");
    EXPECT_EQ(hub.authorizations().back(), "Bearer hf_from_env");
  }

  o.endpoint = "http://127.0.0.1:1";  // nothing listens there
  o.max_attempts = 2;
  err = error_of(o);
  EXPECT_NE(err.find("cannot reach http://127.0.0.1:1/api/models/acme/gated/revision/main"), std::string::npos) << err;

  o.repo_id = "not a repo";
  EXPECT_NE(error_of(o).find("not a Hugging Face repo id"), std::string::npos);
}

// The hub's answer is outside input: it goes through the JSON reader's limits.
TEST(HubDownload, RefusesAHostileRepoAnswer) {
  FakeHub hub;
  TempDir cache;
  auto error_of = [&](const std::string& repo) {
    try {
      segkit::hub_download(options(hub, cache, repo));
    } catch (const segkit::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string url = hub.endpoint() + "/api/models/acme/deep/revision/main";
  hub.answer_repo_info_with("acme/deep", R"({"sha": ")" + kCommit + R"(", "siblings": )" + std::string(100000, '[') +
                                             std::string(100000, ']') + "}");
  EXPECT_EQ(error_of("acme/deep"), "acme/deep: the hub's answer from " + url + ": JSON nested deeper than 512 levels");
  hub.answer_repo_info_with("acme/cut", R"({"sha": ")" + kCommit + R"(", "siblings": [)");
  EXPECT_NE(error_of("acme/cut").find("is not JSON"), std::string::npos) << error_of("acme/cut");
}

TEST(HubDownloadCli, PullHonoursHfEndpointAndCache) {
  FakeHub hub;
  hub.add_repo("acme/tiny-sam", tiny_repo_files());
  TempDir cache;
  ScopedEnv endpoint("HF_ENDPOINT", hub.endpoint());
  ScopedEnv hub_cache("HF_HUB_CACHE", cache.path());
  ScopedEnv token("HF_TOKEN", "hf_cli");
  auto r = segkit::test::run_cli({"pull", "acme/tiny-sam", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["commit"], kCommit);
  EXPECT_EQ(j["snapshot"], cache.path() + "/models--acme--tiny-sam/snapshots/" + kCommit);
  EXPECT_EQ(hub.authorizations().back(), "Bearer hf_cli");

  r = segkit::test::run_cli({"pull", "acme/tiny-sam", "--revision", "nope/../x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("invalid revision"), std::string::npos) << r.err;
}

}  // namespace
