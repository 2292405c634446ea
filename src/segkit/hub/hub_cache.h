#pragma once
// The Hugging Face hub cache layout, shared with the Python huggingface_hub library so that
// models downloaded by either tool are found by both:
//   <cache>/models--ORG--NAME/refs/<revision>        the commit a branch/tag pointed to
//   <cache>/models--ORG--NAME/snapshots/<commit>/... files, as links into blobs/
//   <cache>/models--ORG--NAME/blobs/<etag>           file contents, named by their ETag
#include <string>

namespace segkit {

struct HubCacheDir {
  std::string path;
  std::string chosen_by;  // "$HF_HUB_CACHE", "$HF_HOME/hub" or "the default ~/.cache/huggingface/hub"
};

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
HubCacheDir hub_cache_dir();

// ORG/NAME as the hub spells repo ids: two names of [A-Za-z0-9._-], no "--" or "..".
bool is_hub_repo_id(const std::string& s);

// <cache>/models--ORG--NAME
std::string hub_repo_folder(const std::string& cache, const std::string& repo_id);

// A revision as a file name under refs/ (branch names may contain '/': "refs/pr/1").
bool is_safe_revision(const std::string& revision);

}  // namespace segkit
