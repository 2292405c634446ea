#pragma once
// SHA-256 (OpenSSL libcrypto), used to check downloads against the hub's LFS ETags.
#include <string>

namespace segkit {

// Lowercase hex digest of a file's contents; Error naming the file if it cannot be read.
std::string sha256_file_hex(const std::string& path);

// Lowercase hex digest of a byte string.
std::string sha256_hex(const std::string& bytes);

}  // namespace segkit
