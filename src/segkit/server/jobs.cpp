#include "server/jobs.h"

#include <algorithm>
#include <random>
#include <vector>

#include "server/http_error.h"

namespace segkit::server {

const char* job_state_name(JobState state) {
  switch (state) {
    case JobState::Running: return "running";
    case JobState::Done: return "done";
    case JobState::Failed: return "failed";
    case JobState::Cancelled: return "cancelled";
  }
  return "unknown";
}

struct JobRegistry::Job {
  std::string id, kind, image_id;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point finished;
  JobControl control;
  JobState state = JobState::Running;  // guarded by the registry's mutex
  bool thread_done = false;            // the work has returned (a cancelled job may still be running)
  uint64_t finish_order = 0;
  std::string error;
  std::shared_ptr<const std::string> result;
  std::thread thread;
};

namespace {
std::string random_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) s.push_back(digits[rng() & 15]);
  return s;
}
}  // namespace

JobRegistry::JobRegistry(int max_running, size_t keep_finished) : max_running_(max_running), keep_finished_(keep_finished) {}

JobRegistry::~JobRegistry() { shutdown(); }

int JobRegistry::busy_locked() const {
  int n = running_now_;
  for (const auto& [id, job] : jobs_) n += !job->thread_done;  // cancelled work still uses the CPU
  return n;
}

int JobRegistry::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_locked();
}

std::string JobRegistry::run_now(Work work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw HttpError(503, "the server is shutting down");
    const int busy = busy_locked();
    if (busy >= max_running_)
      throw HttpError(429, std::to_string(busy) + " jobs are running (the limit is " + std::to_string(max_running_) +
                               "); try again when one has finished");
    ++running_now_;
  }
  struct Release {
    JobRegistry* self;
    ~Release() {
      std::lock_guard<std::mutex> lock(self->mutex_);
      --self->running_now_;
    }
  } release{this};
  JobControl control;
  return work(control);
}

std::string JobRegistry::start(const std::string& kind, const std::string& image_id, Work work) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) throw HttpError(503, "the server is shutting down");
  reap_locked();
  const int busy = busy_locked();
  if (busy >= max_running_)
    throw HttpError(429, std::to_string(busy) + " jobs are running (the limit is " + std::to_string(max_running_) +
                             "); wait for one to finish or cancel it");
  auto job = std::make_shared<Job>();
  do job->id = random_id();
  while (jobs_.count(job->id));
  job->kind = kind;
  job->image_id = image_id;
  jobs_[job->id] = job;
  job->thread = std::thread([this, job, work = std::move(work)] {
    std::string result, error;
    bool ok = false;
    try {
      result = work(job->control);
      ok = true;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error";
    }
    std::lock_guard<std::mutex> lock(mutex_);
    job->thread_done = true;
    job->finished = std::chrono::steady_clock::now();
    job->finish_order = ++next_finish_;
    if (job->state != JobState::Running) return;  // cancelled meanwhile: drop the result
    if (job->control.cancelled()) {
      job->state = JobState::Cancelled;
    } else if (ok) {
      job->state = JobState::Done;
      job->control.set_progress(1);
      job->result = std::make_shared<const std::string>(std::move(result));
    } else {
      job->state = JobState::Failed;
      job->error = error;
    }
  });
  return job->id;
}

// Joins finished threads and forgets the oldest finished jobs beyond keep_finished_.
void JobRegistry::reap_locked() {
  std::vector<std::shared_ptr<Job>> finished;
  for (auto& [id, job] : jobs_) {
    if (!job->thread_done) continue;
    if (job->thread.joinable()) job->thread.join();  // returns at once: the work has returned
    finished.push_back(job);
  }
  if (finished.size() <= keep_finished_) return;
  std::sort(finished.begin(), finished.end(), [](const auto& a, const auto& b) { return a->finish_order < b->finish_order; });
  for (size_t i = 0; i + keep_finished_ < finished.size(); ++i) jobs_.erase(finished[i]->id);
}

std::optional<JobSnapshot> JobRegistry::get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  const Job& job = *it->second;
  JobSnapshot s;
  s.id = job.id;
  s.kind = job.kind;
  s.image_id = job.image_id;
  s.state = job.state;
  s.progress = job.control.progress();
  auto end = job.thread_done ? job.finished : std::chrono::steady_clock::now();
  s.seconds = std::chrono::duration<double>(end - job.started).count();
  s.error = job.error;
  s.result = job.result;
  return s;
}

bool JobRegistry::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  Job& job = *it->second;
  if (job.state == JobState::Running) {
    job.control.cancel();
    job.state = JobState::Cancelled;
  }
  return true;
}

void JobRegistry::shutdown() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) {
      job->control.cancel();
      all.push_back(job);
    }
  }
  for (auto& job : all)
    if (job->thread.joinable()) job->thread.join();
}

}  // namespace segkit::server
