// The process group in one process, its ranks on threads over loopback: all-reduces started and
// awaited later, subgroups, agreement on failures, and the one-line errors of a bad start.
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <string>

#include "distributed/process_group.h"
#include "loopback_ranks.h"
#include "segkit/distributed.h"
#include "segkit/error.h"
#include "test_util.h"

namespace {

using segkit::DistributedOptions;
using segkit::distributed::ProcessGroup;

// A listening socket on a port the kernel chose: held, it is a port in use; closed, a free one.
struct Listener {
  int fd = -1, port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 1) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("no loopback socket");
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

int free_port() { return segkit::test::free_loopback_port(); }

DistributedOptions options(int port, int rank, int world_size, double timeout = 5) {
  return segkit::test::loopback_rank(port, rank, world_size, timeout);
}

using segkit::test::run_ranks;

}  // namespace

TEST(ProcessGroup, StartedAllReducesAndASubgroupKeepTheirOwnOrder) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const auto errors = run_ranks(2, [](ProcessGroup& group) {
    auto other = group.subgroup("other");
    const float r = static_cast<float>(group.rank());
    at::Tensor a = at::full({5}, r + 1), b = at::full({3}, 10 * r), c = at::full({2}, r);
    // Two sums under way on the group while the subgroup's runs in between: rank 1 does that
    // one first, rank 0 last, which is fine as the subgroup orders its collectives apart.
    std::vector<at::Tensor> sub{c};
    if (group.rank() == 1) other->all_reduce_sum(sub, "subgroup sum");
    auto pending_a = group.start_all_reduce_sum(a, "first sum");
    auto pending_b = group.start_all_reduce_sum(b, "second sum");
    if (group.rank() == 0) other->all_reduce_sum(sub, "subgroup sum");
    pending_b.wait();
    pending_a.wait();
    EXPECT_TRUE(a.eq(3.0f).all().item<bool>()) << a;
    EXPECT_TRUE(b.eq(10.0f).all().item<bool>()) << b;
    EXPECT_TRUE(c.eq(1.0f).all().item<bool>()) << c;
  });
  EXPECT_EQ(errors, (std::vector<std::string>{"(no error)", "(no error)"}));
}

TEST(ProcessGroup, RanksLearnThatAnotherFailed) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  const int port = free_port();
  const auto errors = run_ranks({options(port, 0, 2), options(port, 1, 2)}, [](ProcessGroup& group) {
    group.require_all(group.rank() == 0, "reading the data");
  });
  EXPECT_NE(errors[0].find("reading the data failed on rank 1"), std::string::npos) << errors[0];
  EXPECT_EQ(errors[1], "(no error)");  // rank 1 reports its own error itself
}

TEST(ProcessGroup, OneLineErrorsForABadStart) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  int port = free_port();
  auto errors = run_ranks({options(port, 0, 2), options(port, 1, 3)}, [](ProcessGroup&) {});
  EXPECT_NE(errors[1].find("has --world-size 3 but rank 0 has 2"), std::string::npos) << errors[1];
  EXPECT_NE(errors[0].find("rank 1: this process has --world-size 3"), std::string::npos) << errors[0];

  Listener taken;
  errors = run_ranks({options(taken.port, 0, 2)}, [](ProcessGroup&) {});
  EXPECT_NE(errors[0].find("cannot listen on port " + std::to_string(taken.port)), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("in use"), std::string::npos) << errors[0];

  errors = run_ranks({options(free_port(), 0, 2, 1)}, [](ProcessGroup&) {});
  EXPECT_NE(errors[0].find("only 1 of 2 ranks joined within 1 s"), std::string::npos) << errors[0];
  errors = run_ranks({options(free_port(), 2, 2)}, [](ProcessGroup&) {});
  EXPECT_NE(errors[0].find("--rank: 2 is not below --world-size 2"), std::string::npos) << errors[0];
  for (const auto& e : errors) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}
