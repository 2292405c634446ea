#include "folder_segmenter.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "segkit/error.h"
#include "segkit/files.h"

namespace fs = std::filesystem;

namespace segkit::cli {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// COCO image ids by file stem, from a COCO JSON's "images" list.
std::map<std::string, int64_t> read_image_ids(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array())
    fail(path, "no \"images\" list (a COCO JSON gives each file_name its id)");
  std::map<std::string, int64_t> ids;
  for (const auto& image : j["images"]) {
    if (!image.is_object() || !image.contains("id") || !image["id"].is_number_integer() || !image.contains("file_name") ||
        !image["file_name"].is_string())
      fail(path, "every entry of \"images\" needs an integer \"id\" and a string \"file_name\"");
    ids[fs::path(image["file_name"].get<std::string>()).stem().string()] = image["id"].get<int64_t>();
  }
  return ids;
}

// The JSON files among `parts` that exist (images done), in order.
std::vector<nlohmann::json> read_image_parts(const std::vector<fs::path>& parts) {
  std::vector<nlohmann::json> out;
  for (const fs::path& part : parts) {
    if (!fs::exists(part)) continue;
    try {
      out.push_back(nlohmann::json::parse(read_text_file(part.string())));
    } catch (const nlohmann::json::exception& e) {
      fail(part.string(), std::string("not valid JSON (delete it to redo the image): ") + e.what());
    }
  }
  return out;
}

}  // namespace

std::vector<int64_t> image_ids_for(const std::vector<fs::path>& files, const std::string& ids_file) {
  const std::map<std::string, int64_t> given = ids_file.empty() ? std::map<std::string, int64_t>{} : read_image_ids(ids_file);
  const bool numeric = std::all_of(files.begin(), files.end(), [](const fs::path& f) { return all_digits(f.stem().string()); });
  std::vector<int64_t> ids;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string stem = files[i].stem().string();
    if (!ids_file.empty()) {
      const auto it = given.find(stem);
      if (it == given.end()) fail(ids_file, "no image named like " + files[i].filename().string());
      ids.push_back(it->second);
    } else {
      ids.push_back(numeric ? std::stoll(stem) : static_cast<int64_t>(i + 1));
    }
  }
  return ids;
}

void write_folder_files(const fs::path& out, const nlohmann::json& info, const std::vector<fs::path>& parts) {
  const std::string kind = info.value("kind", "");
  if (kind == "semantic") {
    write_text_atomically((out / "labels.json").string(), info.at("labels_json").get<std::string>());
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  for (const nlohmann::json& image : read_image_parts(parts)) {
    if (kind == "instance")
      for (const auto& record : image) all.push_back(record);
    else
      all.push_back(image);
  }
  if (kind == "instance") {
    write_text_atomically((out / "results.json").string(), all.dump() + "\n");
    if (info.contains("categories_json"))
      write_text_atomically((out / "categories.json").string(), info.at("categories_json").get<std::string>());
  } else {
    const nlohmann::json panoptic{{"annotations", all}, {"categories", info.at("categories")}};
    write_text_atomically((out / "panoptic.json").string(), panoptic.dump() + "\n");
  }
}

void ensure_folder(const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail(folder.string(), "cannot create folder: " + ec.message());
}

}  // namespace segkit::cli
