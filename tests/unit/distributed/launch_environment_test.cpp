// The launchers' variables into a process group's options.
#include <gtest/gtest.h>

#include "segkit/distributed.h"
#include "test_util.h"

using segkit::test::ScopedEnv;

namespace {
// Every variable the launchers set, unset for the test's scope.
struct CleanEnvironment {
  std::vector<std::unique_ptr<ScopedEnv>> unset;
  CleanEnvironment() {
    for (const char* name : {"RANK", "WORLD_SIZE", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_PROCID",
                             "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "MASTER_ADDR",
                             "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"})
      unset.push_back(std::make_unique<ScopedEnv>(name, std::nullopt));
  }
};
}  // namespace

TEST(LaunchEnvironment, TorchrunSlurmAndOpenMpi) {
  CleanEnvironment clean;
  EXPECT_FALSE(segkit::distributed_from_environment());
  {
    ScopedEnv rank("RANK", "1"), size("WORLD_SIZE", "4"), addr("MASTER_ADDR", "node1"), port("MASTER_PORT", "29500");
    auto o = segkit::distributed_from_environment();
    ASSERT_TRUE(o);
    EXPECT_EQ(o->url, "tcp://node1:29500");
    EXPECT_EQ(o->rank, 1);
    EXPECT_EQ(o->world_size, 4);
    EXPECT_FALSE(o->launcher_hosts_store);
    ScopedEnv agent("TORCHELASTIC_USE_AGENT_STORE", "True"), restarts("TORCHELASTIC_RESTART_COUNT", "2");
    o = segkit::distributed_from_environment();
    EXPECT_TRUE(o->launcher_hosts_store);
    EXPECT_EQ(o->attempt, 2);
  }
  {
    ScopedEnv rank("SLURM_PROCID", "2"), size("SLURM_NTASKS", "3"), addr("MASTER_ADDR", "10.0.0.1"),
        port("MASTER_PORT", "1234");
    ScopedEnv array("SLURM_ARRAY_TASK_ID", "0"), count("SLURM_ARRAY_TASK_COUNT", "5");  // a job array is no group
    auto o = segkit::distributed_from_environment();
    ASSERT_TRUE(o);
    EXPECT_EQ(o->rank, 2);
    EXPECT_EQ(o->world_size, 3);
  }
  {
    ScopedEnv rank("OMPI_COMM_WORLD_RANK", "0"), size("OMPI_COMM_WORLD_SIZE", "1");
    EXPECT_FALSE(segkit::distributed_from_environment()) << "one process is no group";
  }
}

TEST(LaunchEnvironment, IncompleteOrMalformedVariablesAreErrors) {
  CleanEnvironment clean;
  ScopedEnv rank("RANK", "0"), size("WORLD_SIZE", "2");
  EXPECT_NE(segkit::test::error_of([] { segkit::distributed_from_environment(); }).find("MASTER_ADDR and MASTER_PORT"),
            std::string::npos);
  ScopedEnv addr("MASTER_ADDR", "node1"), port("MASTER_PORT", "http");
  EXPECT_NE(segkit::test::error_of([] { segkit::distributed_from_environment(); }).find("expected tcp://HOST:PORT"),
            std::string::npos);
  ScopedEnv bad_rank("RANK", "one");
  EXPECT_NE(segkit::test::error_of([] { segkit::distributed_from_environment(); }).find("RANK=one, WORLD_SIZE=2: expected whole numbers"),
            std::string::npos);
}
