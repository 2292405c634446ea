#include "hub/hub_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace segkit {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string home = env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_dir;
  return "/";
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

bool is_hub_name(const std::string& s) {
  if (s.empty() || s.size() > 96 || s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.')
    return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return s.find("--") == std::string::npos && s.find("..") == std::string::npos;
}

}  // namespace

HubCacheDir hub_cache_dir() {
  if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return {v, "$HF_HUB_CACHE"};
  if (std::string v = env("HF_HOME"); !v.empty()) return {v + "/hub", "$HF_HOME/hub"};
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty()) return {v + "/huggingface/hub", "$XDG_CACHE_HOME/huggingface/hub"};
  return {home_dir() + "/.cache/huggingface/hub", "the default ~/.cache/huggingface/hub"};
}

bool is_hub_repo_id(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return false;
  return is_hub_name(s.substr(0, slash)) && is_hub_name(s.substr(slash + 1));
}

std::string hub_repo_folder(const std::string& cache, const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  folder.replace(folder.find('/'), 1, "--");
  return cache + "/" + folder;
}

bool is_safe_revision(const std::string& revision) {
  if (revision.empty() || revision.size() > 255 || revision.front() == '/' || revision.back() == '/') return false;
  size_t start = 0;
  while (start <= revision.size()) {
    const size_t end = std::min(revision.find('/', start), revision.size());
    const std::string part = revision.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (!is_name_char(c)) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace segkit
