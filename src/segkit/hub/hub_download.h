#pragma once
// Downloading a model repository from the Hugging Face hub (or a mirror at $HF_ENDPOINT)
// into the hub cache layout that locate_model() and Python's huggingface_hub both read
// (see hub_cache.h). Transfers resume from blobs/<etag>.incomplete with HTTP Range requests,
// LFS files are checked against the SHA-256 their ETag announces, and nothing appears under
// snapshots/ or refs/ until every file of the snapshot is complete and verified.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace segkit {

struct HubDownloadOptions {
  std::string repo_id;              // ORG/NAME
  std::string revision = "main";    // branch, tag or commit
  std::string endpoint;             // "" = $HF_ENDPOINT, else https://huggingface.co
  std::string token;                // "" = $HF_TOKEN, else the token file `huggingface-cli login` wrote
  std::string cache_dir;            // "" = hub_cache_dir()
  bool all_files = false;           // false: skip weights in formats segkit does not read when
                                    // model.safetensors is there (pytorch_model.bin, TF, Flax, ONNX)
  bool progress = false;            // progress bar on stderr (callers pass isatty(2))
  std::function<void(const std::string&)> log;  // one line per file; may be empty
  int max_attempts = 5;             // per file, resuming after interrupted transfers
  int retry_delay_ms = 1000;        // multiplied by the attempt number
};

struct HubDownloadResult {
  std::string commit;
  std::string snapshot_dir;         // <cache>/models--ORG--NAME/snapshots/<commit>
  std::vector<std::string> files;   // relative to snapshot_dir
  uint64_t bytes_downloaded = 0;    // 0 when everything was already cached
};

// Error "<repo or file>: ..." on network, HTTP, permission, size or checksum problems.
HubDownloadResult hub_download(const HubDownloadOptions& options);

}  // namespace segkit
