#include "shards.h"

#include <optional>

#include "core/whole_number.h"
#include "segkit/distributed.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace fs = std::filesystem;

namespace segkit::cli {

namespace {

Shard checked(long index, long count, const std::string& spec, const std::string& source) {
  if (count < 1) fail("--shard '" + spec + "'", source + "the shard count must be at least 1");
  if (index >= count)
    fail("--shard '" + spec + "'", source + "shard " + std::to_string(index) + " of " + std::to_string(count) +
                                       " (shards are numbered from 0 to " + std::to_string(count - 1) + ")");
  return Shard{static_cast<int>(index), static_cast<int>(count)};
}

}  // namespace

std::string Shard::name() const { return std::to_string(index) + "-of-" + std::to_string(count); }

Shard parse_shard(const std::string& spec) {
  if (spec == "env") {
    const auto launched = launcher_rank("--shard 'env'", true);
    if (!launched)
      fail("--shard 'env'", "none of RANK/WORLD_SIZE, SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, "
                            "SLURM_PROCID/SLURM_NTASKS or OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE is set");
    return checked(launched->rank, launched->world_size, spec, launched->source + ": ");
  }
  const size_t slash = spec.find('/');
  const auto index = slash == std::string::npos ? std::nullopt : whole_number(spec.substr(0, slash));
  const auto count = slash == std::string::npos ? std::nullopt : whole_number(spec.substr(slash + 1));
  if (!index || !count) fail("--shard '" + spec + "'", "expected K/N (shard K of N, from 0) or env");
  return checked(*index, *count, spec, "");
}

void write_shard_manifest(const fs::path& out, const Shard& shard, const std::string& command,
                          const std::string& input, const std::vector<ShardFile>& files, const nlohmann::json& folder) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ShardFile& f : files) {
    nlohmann::ordered_json j{{"name", f.name}, {"status", f.status}};
    if (!f.part.empty()) j["part"] = f.part;
    list.push_back(std::move(j));
  }
  std::error_code ec;
  const fs::path absolute = fs::absolute(input, ec);  // merge may run from another folder
  nlohmann::ordered_json manifest{{"format", "segkit-shard"}, {"command", command},
                                  {"input", ec ? input : absolute.lexically_normal().string()},
                                  {"shard", shard.index},     {"of", shard.count},     {"files", list}};
  if (!folder.is_null()) manifest["folder"] = folder;
  fs::create_directories(out / "shards", ec);
  if (ec) fail((out / "shards").string(), "cannot create folder: " + ec.message());
  write_text_atomically((out / "shards" / (shard.name() + ".json")).string(), manifest.dump(1) + "\n");
}

}  // namespace segkit::cli
