#pragma once
// Ranks of one process group on threads of the test process, over loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "segkit/distributed.h"
#include "test_util.h"

namespace segkit::test {

// A port the kernel just handed out and took back.
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline DistributedOptions loopback_rank(int port, int rank, int world_size, double timeout = 5) {
  DistributedOptions o;
  o.url = "tcp://127.0.0.1:" + std::to_string(port);
  o.rank = rank;
  o.world_size = world_size;
  o.timeout_seconds = timeout;
  return o;
}

// Runs `body` as ranks 0..n-1 of one group, each on its thread; the errors, by rank.
inline std::vector<std::string> run_ranks(const std::vector<DistributedOptions>& ranks,
                                          const std::function<void(distributed::ProcessGroup&)>& body) {
  std::vector<std::future<std::string>> done;
  for (const auto& o : ranks)
    done.push_back(std::async(std::launch::async, [o, &body] {
      return error_of([&] {
        auto group = distributed::ProcessGroup::join(o);
        body(*group);
      });
    }));
  std::vector<std::string> errors;
  for (auto& d : done) errors.push_back(d.get());
  return errors;
}

// `n` ranks of a fresh group on a free port.
inline std::vector<std::string> run_ranks(int n, const std::function<void(distributed::ProcessGroup&)>& body) {
  const int port = free_loopback_port();
  std::vector<DistributedOptions> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(loopback_rank(port, r, n));
  return run_ranks(ranks, body);
}

}  // namespace segkit::test
