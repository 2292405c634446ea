// `segkit merge`: after a folder run split with --shard, checks that every shard of it finished
// (each once, every file done, no file in two shards, none of the folder left out) and writes
// the folder-level files an unsharded run writes (results.json, panoptic.json, labels.json, …).
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "command.h"
#include "folder_segmenter.h"
#include "image_folder.h"
#include "segkit/error.h"
#include "segkit/files.h"

namespace fs = std::filesystem;

namespace {

struct MergeArgs {
  std::string out;
  bool json = false;
  segkit::cli::CommonOptions common;
} args;

struct Manifest {
  std::string path, command, input;
  int shard = 0, of = 0;
  nlohmann::json files, folder;
};

Manifest read_manifest(const fs::path& path) {
  const std::string where = path.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(segkit::read_text_file(where));
  } catch (const nlohmann::json::exception& e) {
    segkit::fail(where, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", "") != "segkit-shard" || !j.contains("files") || !j["files"].is_array() ||
      !j.contains("shard") || !j["shard"].is_number_integer() || !j.contains("of") || !j["of"].is_number_integer() ||
      !j.contains("command") || !j["command"].is_string() || !j.contains("input") || !j["input"].is_string())
    segkit::fail(where, "not a shard manifest of segkit (format \"segkit-shard\" with command, input, shard, of, files)");
  Manifest m{where, j["command"], j["input"], j["shard"], j["of"], j["files"], j.value("folder", nlohmann::json())};
  if (m.of < 1 || m.shard < 0 || m.shard >= m.of) segkit::fail(where, "shard " + std::to_string(m.shard) + " of " + std::to_string(m.of) + " is not a shard");
  for (const auto& f : m.files)
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("status") || !f["status"].is_string() ||
        (f.contains("part") && !f["part"].is_string()))
      segkit::fail(where, "every file needs a \"name\" and a \"status\"");
  return m;
}

std::string shard_name(int shard, int of) { return std::to_string(shard) + "-of-" + std::to_string(of); }

void run() {
  segkit::cli::apply_common_options(args.common);
  const fs::path out = args.out, dir = out / "shards";
  std::vector<Manifest> manifests;
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".json") manifests.push_back(read_manifest(entry.path()));
  if (manifests.empty())
    segkit::fail(args.out, "no shard manifests in " + dir.string() + " (segkit generate, segment or unet predict --shard K/N write them)");

  const Manifest& first = manifests.front();
  std::map<int, const Manifest*> by_shard;
  for (const Manifest& m : manifests) {
    if (m.command != first.command || m.of != first.of || m.input != first.input)
      segkit::fail(m.path, "from another run (" + m.command + " of " + m.input + " in " + std::to_string(m.of) +
                               " shards; " + first.path + ": " + first.command + " of " + first.input + " in " +
                               std::to_string(first.of) + ")");
    if (m.folder != first.folder) segkit::fail(m.path, "another model or task than " + first.path);
    if (!by_shard.emplace(m.shard, &m).second) segkit::fail(m.path, "shard " + shard_name(m.shard, m.of) + " twice");
  }
  std::string missing;
  for (int k = 0; k < first.of; ++k)
    if (!by_shard.count(k)) missing += (missing.empty() ? "" : ", ") + shard_name(k, first.of);
  if (!missing.empty()) segkit::fail(args.out, "shard(s) " + missing + " missing: run them, then merge again");

  // Every file once, done; in name order, as an unsharded run lists the folder.
  std::map<std::string, std::string> part_of, shard_of;
  for (const auto& [k, m] : by_shard) {
    size_t failed = 0;
    for (const auto& f : m->files) {
      const std::string name = f["name"];
      if (shard_of.count(name))
        segkit::fail(m->path, name + " is also in shard " + shard_of[name] + " (overlapping runs)");
      shard_of[name] = shard_name(k, m->of);
      part_of[name] = f.value("part", "");
      failed += f["status"] != "done" && f["status"] != "skipped";
    }
    if (failed)
      segkit::fail(m->path, std::to_string(failed) + " image(s) failed in this shard: run it again (finished images are skipped)");
  }
  if (fs::is_directory(first.input, ec)) {
    size_t left_out = 0;
    std::string example;
    for (const fs::path& f : segkit::cli::list_images(first.input))
      if (!shard_of.count(f.filename().string())) {
        if (example.empty()) example = f.filename().string();
        ++left_out;
      }
    if (left_out)
      segkit::fail(first.input, std::to_string(left_out) + " image(s) in no shard, e.g. " + example +
                                    " (the folder changed since the shards ran: rerun them)");
  }

  std::string wrote;
  if (!first.folder.is_null()) {
    std::vector<fs::path> parts;
    for (const auto& [name, part] : part_of)
      if (!part.empty()) parts.push_back(out / part);
    segkit::cli::write_folder_files(out, first.folder, parts);
    const std::string kind = first.folder.value("kind", "");
    wrote = kind == "semantic" ? "labels.json" : kind == "panoptic" ? "panoptic.json" : "results.json";
  }
  if (args.json) {
    std::cout << nlohmann::json{{"command", first.command}, {"shards", first.of}, {"images", shard_of.size()}, {"wrote", wrote}}.dump()
              << "\n";
  } else if (!args.common.quiet) {
    std::cout << "merged " << first.of << " shards of " << first.command << ": " << shard_of.size() << " images"
              << (wrote.empty() ? std::string() : ", wrote " + (out / wrote).string()) << "\n";
  }
}

}  // namespace

SEGKIT_COMMAND("merge", "Check the shards of a folder run (--shard K/N) and write its folder-level files", [](CLI::App& cmd) {
  cmd.add_option("out", args.out, "The output folder the shards wrote to (OUT of generate, segment or unet predict --shard)")->required();
  cmd.add_flag("--json", args.json, "Print the summary as JSON");
  segkit::cli::add_common_options(cmd, args.common);
  cmd.callback(run);
});
