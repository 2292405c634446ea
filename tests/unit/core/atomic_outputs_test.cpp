// Outputs are all-or-nothing: a write interrupted by a signal removes its temporary file, and
// temporaries left by a killed run are cleaned up when a folder run resumes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/stale_temporaries.h"
#include "segkit/files.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_in(const std::string& folder) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(folder)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(AtomicOutputs, SignalDuringAWriteLeavesNoFileBehind) {
  for (int sig : {SIGINT, SIGTERM}) {
    segkit::test::TempDir dir;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      segkit::write_atomically(dir.file("out.png"), [&](const std::string& tmp) {
        std::ofstream(tmp) << "half a file";
        std::raise(sig);  // Ctrl-C in the middle of writing
      });
      ::_exit(0);  // not reached: the signal ends the process
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "the signal still ends the process";
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{}) << "signal " << sig;
  }
}

TEST(AtomicOutputs, StaleTemporariesOfDeadProcessesAreRemoved) {
  segkit::test::TempDir dir;
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  const std::string dead = "." + std::string("3.png.tmp") + std::to_string(gone) + "_7";
  const std::string live = ".4.png.tmp" + std::to_string(::getpid()) + "_0";
  for (const std::string& name : {dead, live, std::string("3.png"), std::string(".hidden.tmp")})
    std::ofstream(dir.file(name)) << "x";
  EXPECT_EQ(segkit::remove_stale_temporaries(dir.path()), 1);
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{live, ".hidden.tmp", "3.png"}));
  EXPECT_EQ(segkit::remove_stale_temporaries(dir.file("missing")), 0);
}
