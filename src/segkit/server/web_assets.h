#pragma once
// The browser UI's static files (src/segkit/server/web/), compiled into the binary at build
// time so that serving them never touches the file system and works offline.
#include <cstddef>
#include <string_view>

namespace segkit::server {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// nullptr for an unknown path; "/" is "/index.html".
const WebAsset* find_web_asset(std::string_view path);

}  // namespace segkit::server
