#pragma once
// The loop of every command that works through a folder (`generate`, `segment`, `unet predict`):
// the files of this shard in order under a progress bar; a file whose last output exists is
// skipped (so a rerun resumes); a file that fails (a segkit::Error, or out of memory) is warned
// about, counted, and the run goes on. The record of what happened feeds the shard manifest.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "shards.h"

namespace segkit::cli {

struct FolderFile {
  std::filesystem::path file;
  std::filesystem::path done_marker;  // written last: where it exists, the file is done; empty: never skipped
  std::string part;                   // ShardFile::part
};

struct FolderRun {
  size_t done = 0, skipped = 0, failed = 0;
  std::vector<ShardFile> record;  // one per file, in order
};

// `work(i)` makes the outputs of files[i]. With `stop_on_error` (one image named on the command
// line) a failure ends the run instead: the error propagates.
FolderRun run_folder(const std::vector<FolderFile>& files, bool quiet, const std::function<void(size_t)>& work,
                     bool stop_on_error = false);

}  // namespace segkit::cli
