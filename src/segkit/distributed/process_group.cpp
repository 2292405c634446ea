#include "distributed/process_group.h"

#include "segkit/error.h"

#if SEGKIT_HAVE_C10D_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO  // ProcessGroupGloo.hpp declares nothing without it; Debian's torch target defines it
#endif
#include <ATen/ops/zeros.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <thread>
#endif

namespace segkit {

#if SEGKIT_HAVE_C10D_GLOO

bool distributed_available() { return true; }

namespace distributed {

namespace {

using Clock = std::chrono::steady_clock;

// c10d's messages carry C++ stack traces after the first line.
std::string first_line(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  const size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// Standard error sent to /dev/null for a scope.
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (saved_ >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }

 private:
  int saved_;
};

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

}  // namespace

struct ProcessGroup::Impl {
  DistributedOptions options;
  std::string host;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;  // segkit's keys of this attempt, in the TCPStore
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;

  std::string seconds() const { return std::to_string(static_cast<long long>(options.timeout_seconds)) + " s"; }

  // Rank 0 publishes the world size; every rank claims its number and checks the size; rank 0
  // waits for all, then says "ready". A rank that finds a problem posts it so the others fail
  // at once rather than at the timeout.
  void rendezvous() {
    const int rank = options.rank, size = options.world_size;
    if (rank == 0) store->set("segkit/world_size", bytes(std::to_string(size)));
    if (rank != 0) {
      const std::string theirs = text(store->get("segkit/world_size"));
      if (theirs != std::to_string(size))
        post_problem("this process has --world-size " + std::to_string(size) + " but rank 0 has " + theirs);
    }
    // Claimed only once the size matches, so that rank 0 never counts a rank of another world.
    if (store->add("segkit/rank/" + std::to_string(rank), 1) > 1)
      post_problem("another process already joined as rank " + std::to_string(rank));
    std::vector<std::string> awaited;
    if (rank == 0)
      for (int r = 1; r < size; ++r) awaited.push_back("segkit/rank/" + std::to_string(r));
    else
      awaited.push_back("segkit/ready");
    const auto deadline = Clock::now() + timeout;
    while (!store->check(awaited)) {
      if (store->check({"segkit/problem"})) fail(options.url, text(store->get("segkit/problem")));
      if (Clock::now() > deadline) {
        int joined = 1;
        if (rank == 0)
          for (const auto& key : awaited) joined += store->check({key}) ? 1 : 0;
        fail(options.url, rank == 0 ? "only " + std::to_string(joined) + " of " + std::to_string(size) +
                                          " ranks joined within " + seconds()
                                    : "rank 0 did not see every rank join within " + seconds());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (rank == 0) store->set("segkit/ready", bytes("1"));
  }

  [[noreturn]] void post_problem(const std::string& message) {
    store->set("segkit/problem", bytes("rank " + std::to_string(options.rank) + ": " + message));
    fail(options.url, message);
  }

  [[noreturn]] void collective_failed(const char* what, const std::exception& e) const {
    fail("distributed training", std::string(what) + " failed on rank " + std::to_string(options.rank) +
                                     " (another rank died or did not answer within " + seconds() +
                                     "): " + first_line(e));
  }

  // Starts every operation before waiting for any, so that buffers travel back to back.
  template <typename Start>
  void run_all(std::vector<at::Tensor>& tensors, const char* what, Start start) {
    try {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (auto& t : tensors) {
        std::vector<at::Tensor> one{t};
        works.push_back(start(one));
      }
      for (auto& w : works) w->wait(timeout);
    } catch (const std::exception& e) {
      collective_failed(what, e);
    }
  }

  // Gloo's connections between the ranks, meeting through `under` (a prefix of the store).
  void connect(const std::string& under) {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    else if (is_loopback(host))
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    try {
      auto gloo_store = c10::make_intrusive<c10d::PrefixStore>(under, store);
      gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(gloo_store, options.rank, options.world_size, gloo_options);
    } catch (const std::exception& e) {
      fail(options.url, "cannot connect the ranks to each other: " + first_line(e));
    }
  }
};

std::unique_ptr<ProcessGroup> ProcessGroup::join(const DistributedOptions& given) {
  auto impl = std::make_unique<Impl>();
  Impl& g = *impl;
  g.options = given;
  g.options.url = checked_dist_url(given.url, "--dist-url");
  const std::string address = g.options.url.substr(6);
  const size_t colon = address.rfind(':');
  g.host = address.substr(0, colon);
  if (g.host.size() > 2 && g.host.front() == '[' && g.host.back() == ']') g.host = g.host.substr(1, g.host.size() - 2);
  const int port = std::atoi(address.c_str() + colon + 1);
  if (given.world_size < 1) fail("--world-size", "must be at least 1");
  if (given.rank < 0 || given.rank >= given.world_size)
    fail("--rank", std::to_string(given.rank) + " is not below --world-size " + std::to_string(given.world_size) +
                       " (ranks are numbered from 0)");
  if (!(given.timeout_seconds > 0)) fail("--dist-timeout", "must be positive");
  g.timeout = std::chrono::milliseconds(static_cast<int64_t>(given.timeout_seconds * 1000));

  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(port);
  store_options.isServer = given.rank == 0 && !given.launcher_hosts_store;
  store_options.waitWorkers = false;  // rendezvous() waits, with messages of its own
  store_options.timeout = g.timeout;
  try {
    QuietStderr quiet;  // c10d logs each failed bind attempt there, besides the exception
    auto tcp = c10::make_intrusive<c10d::TCPStore>(g.host, store_options);
    g.store = c10::make_intrusive<c10d::PrefixStore>("segkit-attempt-" + std::to_string(given.attempt), tcp);
  } catch (const std::exception& e) {
    const std::string why = first_line(e);
    if (store_options.isServer && why.find("in use") != std::string::npos)
      fail(g.options.url, "rank 0 cannot listen on port " + std::to_string(port) +
                              ": the port is in use (choose another port)");
    if (store_options.isServer) fail(g.options.url, "rank 0 cannot listen on port " + std::to_string(port) + ": " + why);
    fail(g.options.url, "cannot reach rank 0 within " + g.seconds() + ": " + why);
  }
  try {
    g.rendezvous();
  } catch (const c10::Error& e) {  // the store's own timeouts and lost connections
    fail(g.options.url, "rendezvous failed: " + first_line(e));
  }

  g.connect("gloo");
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return impl_->options.rank; }
int ProcessGroup::size() const { return impl_->options.world_size; }

void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>& tensors, const char* what) {
  impl_->run_all(tensors, what, [&](std::vector<at::Tensor>& one) { return impl_->gloo->allreduce(one); });
}

struct ProcessGroup::Pending::Impl {
  const ProcessGroup::Impl* group;
  c10::intrusive_ptr<c10d::Work> work;  // null when starting it failed
  std::string what;
  std::exception_ptr start_error;
};

ProcessGroup::Pending::Pending() = default;
ProcessGroup::Pending::Pending(Pending&&) noexcept = default;
ProcessGroup::Pending& ProcessGroup::Pending::operator=(Pending&&) noexcept = default;
ProcessGroup::Pending::~Pending() = default;

void ProcessGroup::Pending::wait() {
  if (!impl_) return;
  auto impl = std::move(impl_);  // waited once
  try {
    if (impl->start_error) std::rethrow_exception(impl->start_error);
    impl->work->wait(impl->group->timeout);
  } catch (const std::exception& e) {
    impl->group->collective_failed(impl->what.c_str(), e);
  }
}

// A failure to start is kept for wait(): the caller may be inside backward, where an exception
// would leave the other ranks waiting for this one's later buckets.
ProcessGroup::Pending ProcessGroup::start_all_reduce_sum(const at::Tensor& tensor, const char* what) {
  Pending pending;
  pending.impl_ = std::make_unique<Pending::Impl>();
  pending.impl_->group = impl_.get();
  pending.impl_->what = what;
  try {
    std::vector<at::Tensor> one{tensor};
    pending.impl_->work = impl_->gloo->allreduce(one);
  } catch (...) {
    pending.impl_->start_error = std::current_exception();
  }
  return pending;
}

std::unique_ptr<ProcessGroup> ProcessGroup::subgroup(const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->options = impl_->options;
  impl->host = impl_->host;
  impl->timeout = impl_->timeout;
  impl->store = c10::make_intrusive<c10d::PrefixStore>("segkit/subgroup/" + name, impl_->store);
  impl->connect("gloo");
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

void ProcessGroup::broadcast_from_rank0(std::vector<at::Tensor>& tensors, const char* what) {
  c10d::BroadcastOptions options;
  options.rootRank = 0;
  impl_->run_all(tensors, what, [&](std::vector<at::Tensor>& one) { return impl_->gloo->broadcast(one, options); });
}

std::string ProcessGroup::broadcast_text_from_rank0(const std::string& value, const std::string& key) {
  try {
    if (rank() == 0) {
      impl_->store->set("segkit/text/" + key, bytes(value));
      return value;
    }
    return text(impl_->store->get("segkit/text/" + key));
  } catch (const std::exception& e) {
    fail(impl_->options.url, "cannot share " + key + " from rank 0: " + first_line(e));
  }
}

void ProcessGroup::require_all(bool ok, const char* what) {
  at::Tensor failed = at::zeros({size()}, at::kInt);
  failed.data_ptr<int32_t>()[rank()] = ok ? 0 : 1;
  std::vector<at::Tensor> one{failed};
  all_reduce_sum(one, what);
  std::string ranks;
  for (int r = 0; r < size(); ++r)
    if (failed.data_ptr<int32_t>()[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  if (!ranks.empty() && ok) fail("distributed training", std::string(what) + " failed on rank " + ranks + " (see its error)");
}

}  // namespace distributed

#else  // no c10d/Gloo in this LibTorch: cmake/FindSegkitDistributed.cmake

bool distributed_available() { return false; }

namespace distributed {

struct ProcessGroup::Impl {};

std::unique_ptr<ProcessGroup> ProcessGroup::join(const DistributedOptions&) {
  fail("--dist-url", "this segkit was built without distributed training (LibTorch's c10d/Gloo was not found at "
                     "build time; on Debian install libgloo-dev and rebuild)");
}
ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return 0; }
int ProcessGroup::size() const { return 1; }
void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>&, const char*) {}
struct ProcessGroup::Pending::Impl {};
ProcessGroup::Pending::Pending() = default;
ProcessGroup::Pending::Pending(Pending&&) noexcept = default;
ProcessGroup::Pending& ProcessGroup::Pending::operator=(Pending&&) noexcept = default;
ProcessGroup::Pending::~Pending() = default;
void ProcessGroup::Pending::wait() {}
ProcessGroup::Pending ProcessGroup::start_all_reduce_sum(const at::Tensor&, const char*) { return {}; }
std::unique_ptr<ProcessGroup> ProcessGroup::subgroup(const std::string&) {
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::make_unique<Impl>()));
}
void ProcessGroup::broadcast_from_rank0(std::vector<at::Tensor>&, const char*) {}
std::string ProcessGroup::broadcast_text_from_rank0(const std::string& value, const std::string&) { return value; }
void ProcessGroup::require_all(bool, const char*) {}

}  // namespace distributed

#endif

}  // namespace segkit
