#include "segkit/files.h"

#include <atomic>
#include <csignal>
#include <mutex>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "segkit/error.h"

namespace fs = std::filesystem;

namespace segkit {

namespace {

// Temporary files being written right now, so that Ctrl-C (SIGINT), SIGTERM or SIGHUP removes
// them before the process dies: an interrupted run leaves neither a half-written file under
// the final name nor a temporary beside it. Fixed slots: the handler may only unlink().
constexpr int kSlots = 64;
struct Slot {
  std::atomic<bool> claimed{false};
  std::atomic<bool> armed{false};
  char path[4096];
};
Slot g_slots[kSlots];

void remove_temporaries_and_reraise(int sig) {
  for (Slot& s : g_slots)
    if (s.armed.load()) ::unlink(s.path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      // Leave handlers that the program installed itself (e.g. a server's) alone.
      if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa {};
        sa.sa_handler = remove_temporaries_and_reraise;
        sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);
      }
    }
  });
}

// Returns the slot holding `tmp`, or -1 when all are busy or the path is too long (then the
// file is still written atomically, only not removed on a signal).
int track(const std::string& tmp) {
  install_handlers_once();
  if (tmp.size() >= sizeof(Slot::path)) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_slots[i].claimed.compare_exchange_strong(expected, true)) {
      std::memcpy(g_slots[i].path, tmp.c_str(), tmp.size() + 1);
      g_slots[i].armed.store(true);
      return i;
    }
  }
  return -1;
}

void untrack(int slot) {
  if (slot < 0) return;
  g_slots[slot].armed.store(false);
  g_slots[slot].claimed.store(false);
}

std::string temporary_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  fs::path p(path);
  std::string name = "." + p.filename().string() + ".tmp" + std::to_string(::getpid()) + "_" +
                     std::to_string(counter++);
  return (p.parent_path() / name).string();
}
}  // namespace

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent)) fail(path, "output folder does not exist");
  const std::string tmp = temporary_name(path);
  const int slot = track(tmp);
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    untrack(slot);
    throw;
  }
  const bool renamed = std::rename(tmp.c_str(), path.c_str()) == 0;
  const int err = errno;
  if (!renamed) std::remove(tmp.c_str());
  untrack(slot);
  if (!renamed) fail(path, std::string("cannot write: ") + std::strerror(err));
}

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  write_atomically(path, [&](const std::string& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(path, std::string("cannot write: ") + std::strerror(errno));
    bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
    ok = (std::fflush(f) == 0) && ok;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) fail(path, "cannot write (disk full?)");
  });
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, text.data(), text.size());
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(path, "is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot read");
  in.seekg(0);
  std::vector<uint8_t> data(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(data.data()), size)) fail(path, "cannot read");
  return data;
}

std::string read_text_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace segkit
