#pragma once
// Long-running requests (segment everything) as jobs: each runs on a thread of its own, reports
// progress, can be cancelled, and keeps its result until a bounded number of newer jobs finish.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace segkit::server {

enum class JobState { Running, Done, Failed, Cancelled };
const char* job_state_name(JobState state);

// What a job's work sees: report progress in [0, 1], and poll cancelled() where it can stop.
class JobControl {
 public:
  void set_progress(double fraction) { progress_ = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction; }
  double progress() const { return progress_; }
  bool cancelled() const { return cancel_; }
  void cancel() { cancel_ = true; }

 private:
  std::atomic<double> progress_{0};
  std::atomic<bool> cancel_{false};
};

struct JobSnapshot {
  std::string id, kind, image_id;
  JobState state = JobState::Running;
  double progress = 0;
  double seconds = 0;  // since start
  std::string error;   // Failed
  std::shared_ptr<const std::string> result;  // Done: the JSON text the work returned
};

class JobRegistry {
 public:
  explicit JobRegistry(int max_running, size_t keep_finished = 32);
  ~JobRegistry();  // cancels every job and waits for them
  JobRegistry(const JobRegistry&) = delete;
  JobRegistry& operator=(const JobRegistry&) = delete;

  // Returns the JSON result text; throws to fail the job.
  using Work = std::function<std::string(JobControl&)>;
  // HttpError 429 when max_running jobs are running, 503 after shutdown().
  std::string start(const std::string& kind, const std::string& image_id, Work work);
  // Heavy work answered within its request (a Mask2Former segmentation): runs `work` on the
  // calling thread, counted against the same max_running as jobs. HttpError 429 when they are
  // all taken, 503 after shutdown(); the work's own exceptions pass through.
  std::string run_now(Work work);
  std::optional<JobSnapshot> get(const std::string& id) const;
  // False for an unknown id. A job that has finished keeps its state.
  bool cancel(const std::string& id);
  int running() const;
  // Cancels everything and waits for running work to return; idempotent.
  void shutdown();

 private:
  struct Job;
  void reap_locked();

  int busy_locked() const;

  int max_running_;
  size_t keep_finished_;
  int running_now_ = 0;  // run_now() calls in progress
  mutable std::mutex mutex_;
  bool stopping_ = false;
  uint64_t next_finish_ = 0;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
};

}  // namespace segkit::server
