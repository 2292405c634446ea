// server/jobs: run_now (work answered within its request) shares max_running with jobs.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <future>

#include "server/http_error.h"
#include "server/jobs.h"

using segkit::server::HttpError;
using segkit::server::JobControl;
using segkit::server::JobRegistry;

namespace {
int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}
}  // namespace

TEST(ServerJobs, RunNowTakesAJobSlot) {
  JobRegistry jobs(1);
  // While run_now's work runs, the one slot is taken: a job is refused, and another run_now too.
  const std::string out = jobs.run_now([&](JobControl&) {
    EXPECT_EQ(jobs.running(), 1);
    EXPECT_EQ(status_of([&] { jobs.start("generate", "img", [](JobControl&) { return std::string("[]"); }); }), 429);
    EXPECT_EQ(status_of([&] { jobs.run_now([](JobControl&) { return std::string(); }); }), 429);
    return std::string("done");
  });
  EXPECT_EQ(out, "done");
  EXPECT_EQ(jobs.running(), 0);
  // The slot is released when the work throws, and the exception reaches the caller.
  EXPECT_THROW(jobs.run_now([](JobControl&) -> std::string { throw std::runtime_error("model failed"); }), std::runtime_error);
  EXPECT_EQ(jobs.running(), 0);
}

TEST(ServerJobs, RunNowWaitsForNoJobButIsRefusedWhileOneRuns) {
  JobRegistry jobs(1);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  jobs.start("generate", "img", [go](JobControl&) {
    go.wait();
    return std::string("[]");
  });
  EXPECT_EQ(status_of([&] { jobs.run_now([](JobControl&) { return std::string(); }); }), 429);
  release.set_value();
  jobs.shutdown();  // waits for the job
  EXPECT_EQ(status_of([&] { jobs.run_now([](JobControl&) { return std::string(); }); }), 503);
}

#endif
