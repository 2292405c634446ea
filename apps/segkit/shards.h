#pragma once
// Splitting a folder run across processes or machines (`--shard K/N`), and putting the pieces
// back together (`segkit merge`). Shard K of N takes the files at positions K, K + N, K + 2N, …
// of the sorted listing, writes its outputs where an unsharded run would, and records what it
// did in OUT/shards/K-of-N.json; `segkit merge OUT` checks that every shard of one run is there
// exactly once, with every file done, and writes the folder-level files.
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace segkit::cli {

struct Shard {
  int index = 0, count = 1;  // shard `index` of `count`, from 0
  bool active() const { return count > 1; }
  std::string name() const;  // "1-of-4"
  bool takes(size_t position) const { return position % static_cast<size_t>(count) == static_cast<size_t>(index); }
};

// "K/N" (0 ≤ K < N), or "env": the launcher's variables, first found of torchrun's RANK and
// WORLD_SIZE, a Slurm job array's SLURM_ARRAY_TASK_ID (from SLURM_ARRAY_TASK_MIN) and
// SLURM_ARRAY_TASK_COUNT, Slurm's SLURM_PROCID and SLURM_NTASKS, Open MPI's
// OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE. Error "--shard '…': …" otherwise.
Shard parse_shard(const std::string& spec);

// One file of a shard's run.
struct ShardFile {
  std::string name;    // the file name in the input folder
  std::string part;    // the per-image file a merge reads (relative to OUT), "" when none
  std::string status;  // "done", "skipped" (done by an earlier run) or "failed"
};

// OUT/shards/<name>.json, atomically: the command, the input folder, the shard, its files and
// `folder` (what the merge needs to write the folder-level files; null for none).
void write_shard_manifest(const std::filesystem::path& out, const Shard& shard, const std::string& command,
                          const std::string& input, const std::vector<ShardFile>& files, const nlohmann::json& folder);

}  // namespace segkit::cli
