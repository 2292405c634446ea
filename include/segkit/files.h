#pragma once
// Output files are written to a temporary name in the destination folder and renamed into
// place, so a crash or Ctrl-C never leaves a half-written file under the final name.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace segkit {

// Calls write(tmp_path) and renames tmp_path to path; removes tmp_path if write throws.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

void write_file_atomically(const std::string& path, const void* data, size_t size);
void write_text_atomically(const std::string& path, const std::string& text);

// Whole file into memory; Error naming the file when it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);

}  // namespace segkit
