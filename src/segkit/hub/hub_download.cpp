#include "hub/hub_download.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/json_read.h"
#include "hub/http_client.h"
#include "hub/hub_cache.h"
#include "hub/sha256.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

constexpr const char* kDefaultEndpoint = "https://huggingface.co";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// As huggingface_hub: $HF_TOKEN, else the file `huggingface-cli login` writes.
std::string default_token() {
  if (std::string t = trim(env("HF_TOKEN")); !t.empty()) return t;
  std::string file = env("HF_TOKEN_PATH");
  if (file.empty()) {
    std::string home = env("HF_HOME");
    if (home.empty()) {
      const std::string xdg = env("XDG_CACHE_HOME");
      home = (xdg.empty() ? env("HOME") + "/.cache" : xdg) + "/huggingface";
    }
    file = home + "/token";
  }
  std::ifstream in(file);
  std::string token;
  std::getline(in, token);
  return trim(token);
}

bool is_hex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Repository file names come from the server: refuse anything that could leave the snapshot.
bool is_safe_relative_path(const std::string& name) {
  if (name.empty() || name.size() > 1024 || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return std::none_of(name.begin(), name.end(), [](char c) { return c == '\\' || static_cast<unsigned char>(c) < 32; });
}

// ETags name the blobs: W/"abc" and "abc" are both abc, and only a plain token is accepted.
std::string normalize_etag(std::string e) {
  if (e.compare(0, 2, "W/") == 0) e = e.substr(2);
  e.erase(std::remove(e.begin(), e.end(), '"'), e.end());
  return trim(e);
}

bool is_safe_etag(const std::string& e) {
  if (e.empty() || e.size() > 128 || e.front() == '.') return false;
  return std::all_of(e.begin(), e.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Weights in formats segkit cannot use are not worth gigabytes when safetensors are there.
bool wanted(const std::string& name, bool has_safetensors) {
  if (name == ".gitattributes") return false;
  for (const char* ext : {".h5", ".msgpack", ".onnx", ".onnx_data", ".tflite", ".ot", ".mlmodel"})
    if (ends_with(name, ext)) return false;
  if (name.compare(0, 5, "onnx/") == 0 || name.compare(0, 7, "coreml/") == 0) return false;
  if (has_safetensors && name.compare(0, 13, "pytorch_model") == 0 &&
      (ends_with(name, ".bin") || ends_with(name, ".bin.index.json")))
    return false;
  return true;
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GB", n / 1e9);
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MB", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f kB", n / 1e3);
  return buf;
}

struct RemoteFile {
  std::string name;
  std::string etag;
  uint64_t size = 0;
  bool size_known = false;
};

class Downloader {
 public:
  explicit Downloader(const HubDownloadOptions& o) : opts_(o) {
    if (!is_hub_repo_id(o.repo_id)) fail(o.repo_id, "not a Hugging Face repo id (expected ORG/NAME)");
    if (!is_safe_revision(o.revision)) fail(o.repo_id, "invalid revision '" + o.revision + "'");
    endpoint_ = !o.endpoint.empty() ? o.endpoint : !env("HF_ENDPOINT").empty() ? env("HF_ENDPOINT") : kDefaultEndpoint;
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
    const std::string token = o.token.empty() ? default_token() : o.token;
    if (!token.empty()) auth_ = "Authorization: Bearer " + token;
    cache_ = o.cache_dir.empty() ? hub_cache_dir().path : o.cache_dir;
    repo_dir_ = hub_repo_folder(cache_, o.repo_id);
  }

  HubDownloadResult run() {
    HubDownloadResult result;
    const nlohmann::json info = repo_info();
    result.commit = info["sha"].get<std::string>();
    std::vector<std::string> names;
    bool has_safetensors = false;
    for (const auto& s : info["siblings"]) {
      const std::string name = s.at("rfilename").get<std::string>();
      if (!is_safe_relative_path(name)) fail(opts_.repo_id, "the hub listed an unsafe file name '" + name + "'");
      names.push_back(name);
      has_safetensors = has_safetensors || ends_with(name, ".safetensors");
    }
    std::vector<RemoteFile> files;
    for (const auto& name : names)
      if (opts_.all_files || wanted(name, has_safetensors)) {
        files.emplace_back();
        files.back().name = name;
      }
    if (files.empty()) fail(opts_.repo_id, "revision " + opts_.revision + " has no files to download");

    std::error_code ec;
    fs::create_directories(repo_dir_ + "/blobs", ec);
    if (ec) fail(repo_dir_, "cannot create the cache folder: " + ec.message());
    // First every blob, complete and verified; only then the snapshot and the ref.
    for (auto& f : files) {
      f = describe(result.commit, f.name);
      result.bytes_downloaded += fetch_blob(result.commit, f);
    }
    result.snapshot_dir = repo_dir_ + "/snapshots/" + result.commit;
    for (const auto& f : files) {
      link_into_snapshot(result.snapshot_dir, f);
      result.files.push_back(f.name);
    }
    if (opts_.revision != result.commit) {
      const std::string ref = repo_dir_ + "/refs/" + opts_.revision;
      fs::create_directories(fs::path(ref).parent_path(), ec);
      write_text_atomically(ref, result.commit);
    }
    return result;
  }

 private:
  std::vector<std::string> headers() const {
    std::vector<std::string> h;
    if (!auth_.empty()) h.push_back(auth_);
    return h;
  }

  void log(const std::string& line) const {
    if (opts_.log) opts_.log(line);
  }

  [[noreturn]] void http_fail(const std::string& what, const HttpResponse& r, const std::string& url) const {
    std::string msg;
    const std::string server = r.header("x-error-message");
    if (r.status == 401 || r.status == 403) {
      msg = "access denied (HTTP " + std::to_string(r.status) + "): the repository is private or gated; " +
            (auth_.empty() ? "set HF_TOKEN to a token that has access" : "the token in use has no access to it");
    } else if (r.status == 404) {
      msg = "not found (HTTP 404) at " + url + "; check the repository id and revision";
    } else {
      msg = "HTTP " + std::to_string(r.status) + " from " + url;
    }
    if (!server.empty()) msg += " (" + server + ")";
    fail(what, msg);
  }

  // Retries requests that never got an answer (connection refused, reset...).
  HttpResponse request_with_retries(const HttpRequest& req, const std::string& what) const {
    for (int attempt = 1;; ++attempt) {
      HttpResponse r = http_request(req);
      if (r.transfer_ok) return r;
      if (attempt >= opts_.max_attempts) fail(what, "cannot reach " + req.url + ": " + r.error);
      pause(attempt);
    }
  }

  void pause(int attempt) const {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(opts_.retry_delay_ms) * attempt));
  }

  nlohmann::json repo_info() const {
    const std::string url =
        endpoint_ + "/api/models/" + opts_.repo_id + "/revision/" + url_escape(opts_.revision, false);
    HttpRequest req;
    req.url = url;
    req.headers = headers();
    const HttpResponse r = request_with_retries(req, opts_.repo_id);
    if (r.status != 200) http_fail(opts_.repo_id, r, url);
    nlohmann::json info;
    try {
      // The answer lists the repo's files: kilobytes for real model repos.
      JsonLimits limits;
      limits.max_bytes = size_t(64) << 20;
      info = parse_json(r.body, opts_.repo_id + ": the hub's answer from " + url, limits);
    } catch (const JsonError& e) {
      if (e.syntax_error().empty()) throw;
      fail(opts_.repo_id, "the hub's answer from " + url + " is not JSON");
    }
    if (!info.is_object() || !info.contains("sha") || !info["sha"].is_string() || !is_hex(info["sha"].get<std::string>(), 40) ||
        !info.contains("siblings") || !info["siblings"].is_array())
      fail(opts_.repo_id, "the hub's answer from " + url + " lacks a commit sha or file list");
    for (const auto& s : info["siblings"])
      if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
        fail(opts_.repo_id, "the hub's file list from " + url + " is malformed");
    return info;
  }

  std::string resolve_url(const std::string& commit, const std::string& name) const {
    return endpoint_ + "/" + opts_.repo_id + "/resolve/" + commit + "/" + url_escape(name, true);
  }

  // HEAD without following the redirect to the CDN: the hub's own response carries the LFS
  // file's SHA-256 (X-Linked-Etag) and size. Redirects without it (renamed repos) are followed.
  RemoteFile describe(const std::string& commit, const std::string& name) const {
    const std::string what = opts_.repo_id + "/" + name;
    std::string url = resolve_url(commit, name);
    for (int hop = 0; hop < 10; ++hop) {
      HttpRequest req;
      req.url = url;
      req.head = true;
      req.follow_redirects = false;
      req.headers = headers();
      const HttpResponse r = request_with_retries(req, what);
      const bool redirect = r.status >= 300 && r.status < 400;
      if (redirect && r.header("x-linked-etag").empty()) {
        if (r.redirect_url.empty()) fail(what, "redirect without a location from " + url);
        url = r.redirect_url;
        continue;
      }
      if (!redirect && r.status != 200) http_fail(what, r, url);
      RemoteFile f;
      f.name = name;
      const std::string linked = r.header("x-linked-etag");
      f.etag = normalize_etag(linked.empty() ? r.header("etag") : linked);
      if (!is_safe_etag(f.etag)) fail(what, "the server sent no usable ETag ('" + f.etag + "')");
      const std::string size = redirect ? r.header("x-linked-size")
                                        : (!r.header("x-linked-size").empty() ? r.header("x-linked-size")
                                                                              : r.header("content-length"));
      if (!size.empty() && std::all_of(size.begin(), size.end(), ::isdigit)) {
        f.size = std::stoull(size);
        f.size_known = true;
      }
      return f;
    }
    fail(what, "too many redirects from " + resolve_url(commit, name));
  }

  // Downloads blobs/<etag> unless cached; returns the bytes transferred.
  uint64_t fetch_blob(const std::string& commit, const RemoteFile& f) const {
    const std::string what = opts_.repo_id + "/" + f.name;
    const std::string blob = repo_dir_ + "/blobs/" + f.etag;
    if (fs::exists(blob) && (!f.size_known || file_size_or_zero(blob) == f.size)) {
      log(f.name + ": already in the cache");
      return 0;
    }
    const std::string partial = blob + ".incomplete";
    uint64_t transferred = 0;
    std::string last_error;
    bool complete = false;
    for (int attempt = 1; attempt <= opts_.max_attempts && !complete; ++attempt) {
      uint64_t offset = file_size_or_zero(partial);
      if (f.size_known && offset > f.size) offset = 0;  // not ours: start over
      if (f.size_known && offset == f.size) break;       // finished before a crash; verify below
      if (offset > 0) log(f.name + ": resuming at " + human_bytes(offset));
      const TransferResult t = transfer(commit, f, partial, offset);
      transferred += t.bytes;
      if (t.http_error) {
        std::remove(partial.c_str());
        http_fail(what, t.response, resolve_url(commit, f.name));
      }
      if (t.response.transfer_ok) {
        const uint64_t got = file_size_or_zero(partial);
        if (!f.size_known || got == f.size) {
          complete = true;
          break;
        }
        last_error = "received " + std::to_string(got) + " bytes, expected " + std::to_string(f.size);
      } else {
        last_error = t.response.error;
      }
      if (attempt < opts_.max_attempts) {
        log(f.name + ": transfer interrupted (" + last_error + "), retrying");
        pause(attempt);
      }
    }
    if (!complete && !(f.size_known && file_size_or_zero(partial) == f.size))
      fail(what, "download failed after " + std::to_string(opts_.max_attempts) + " attempts (" + last_error +
                     "); run the command again to resume");
    verify(what, f, partial);
    if (std::rename(partial.c_str(), blob.c_str()) != 0)
      fail(blob, std::string("cannot move the download into place: ") + std::strerror(errno));
    return transferred;
  }

  struct TransferResult {
    HttpResponse response;
    uint64_t bytes = 0;
    bool http_error = false;
  };

  // One GET of the file (following the redirect to the CDN), appended to `partial` from
  // `offset` with a Range request. A server that ignores the range gets a fresh file.
  TransferResult transfer(const std::string& commit, const RemoteFile& f, const std::string& partial,
                          uint64_t offset) const {
    TransferResult result;
    std::FILE* out = std::fopen(partial.c_str(), offset > 0 ? "ab" : "wb");
    if (!out) fail(partial, std::string("cannot write: ") + std::strerror(errno));
    bool first = true, write_failed = false;
    std::string error_body;
    int last_percent = -1;

    HttpRequest req;
    req.url = resolve_url(commit, f.name);
    req.headers = headers();
    if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
    req.on_body = [&](const char* data, size_t n, long status) {
      if (status >= 400) {
        result.http_error = true;
        if (error_body.size() < 4096) error_body.append(data, std::min<size_t>(n, 4096));
        return true;
      }
      if (first) {
        first = false;
        if (offset > 0 && status != 206) {  // the whole file, not the rest of it
          out = std::freopen(partial.c_str(), "wb", out);
          if (!out) return false;
          offset = 0;
        }
      }
      if (std::fwrite(data, 1, n, out) != n) {
        write_failed = true;
        return false;
      }
      result.bytes += n;
      return true;
    };
    if (opts_.progress) {
      req.on_progress = [&](uint64_t received, uint64_t total) {
        const uint64_t done = offset + received;
        const uint64_t all = f.size_known ? f.size : offset + total;
        const int percent = all ? static_cast<int>(100 * done / all) : 0;
        if (percent == last_percent) return;
        last_percent = percent;
        std::fprintf(stderr, "\r%s  %3d%%  %s / %s   ", f.name.c_str(), percent, human_bytes(done).c_str(),
                     human_bytes(all).c_str());
        std::fflush(stderr);
      };
    }
    result.response = http_request(req);
    if (opts_.progress) std::fprintf(stderr, "\n");
    const bool close_failed = out ? std::fclose(out) != 0 : true;
    if (write_failed || close_failed) fail(partial, "cannot write the download (disk full?)");
    if (result.response.status >= 400) result.http_error = true;
    if (result.http_error && result.response.status >= 500) {  // server trouble: retry, keep what we have
      result.http_error = false;
      result.response.transfer_ok = false;
      result.response.error = "HTTP " + std::to_string(result.response.status);
    } else if (result.http_error && result.response.status == 416) {
      // Our partial file does not fit the remote one: start over next attempt.
      std::remove(partial.c_str());
      result.http_error = false;
      result.response.transfer_ok = false;
      result.response.error = "range not satisfiable";
    }
    return result;
  }

  void verify(const std::string& what, const RemoteFile& f, const std::string& partial) const {
    if (f.size_known && file_size_or_zero(partial) != f.size) {
      std::remove(partial.c_str());
      fail(what, "size mismatch after download (expected " + std::to_string(f.size) + " bytes); download discarded");
    }
    // LFS files are named by their SHA-256; other ETags (git blob ids) are not checked.
    if (!is_hex(f.etag, 64)) return;
    const std::string actual = sha256_file_hex(partial);
    std::string expected = f.etag;
    std::transform(expected.begin(), expected.end(), expected.begin(), ::tolower);
    if (actual != expected) {
      std::remove(partial.c_str());
      fail(what, "checksum mismatch: expected sha256 " + expected + ", got " + actual + "; download discarded");
    }
  }

  // snapshots/<commit>/<name> -> ../../blobs/<etag> (one more ../ per folder level), replaced
  // atomically. Where links are impossible, the blob is copied.
  void link_into_snapshot(const std::string& snapshot, const RemoteFile& f) const {
    const fs::path link = fs::path(snapshot) / f.name;
    std::error_code ec;
    fs::create_directories(link.parent_path(), ec);
    if (ec) fail(link.parent_path().string(), "cannot create: " + ec.message());
    std::string target;
    for (size_t i = 0, depth = std::count(f.name.begin(), f.name.end(), '/') + 2; i < depth; ++i) target += "../";
    target += "blobs/" + f.etag;
    const fs::path tmp = link.parent_path() / ("." + link.filename().string() + ".segkit-link");
    fs::remove(tmp, ec);
    fs::create_symlink(target, tmp, ec);
    if (ec) fs::copy_file(repo_dir_ + "/blobs/" + f.etag, tmp, ec);
    if (!ec) fs::rename(tmp, link, ec);
    if (ec) fail(link.string(), "cannot place the file in the snapshot: " + ec.message());
    log(f.name + ": ok");
  }

  const HubDownloadOptions& opts_;
  std::string endpoint_, auth_, cache_, repo_dir_;
};

}  // namespace

HubDownloadResult hub_download(const HubDownloadOptions& options) { return Downloader(options).run(); }

}  // namespace segkit
