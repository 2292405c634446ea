// `segkit unet train` as a data-parallel job of two processes over loopback: the same weights
// as one process with twice the batch (with --sync-batch-norm also with batch norm), a killed
// rank, a mismatched world size, a port in use.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "segkit/distributed.h"
#include "segkit/safetensors.h"
#include "test_util.h"
#include "unet_synthetic.h"

namespace fs = std::filesystem;
using segkit::test::TempDir;

namespace {

// The segkit binary started in the background, its stderr kept in a file.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& err_path) : err_path_(err_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(err, 2);
      std::vector<std::string> copy = args;
      std::string exe = SEGKIT_CLI_PATH;
      std::vector<char*> argv{exe.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void kill() { ::kill(pid_, SIGKILL); }
  // The exit status (128 + signal when killed), or -1 when still running after `seconds`.
  int wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string err() const {
    std::ifstream in(err_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string err_path_;
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A tiny U-Net without batch norm and augmentation, cross-entropy only: nothing depends on how
// the batch is split, so the only differences left are in the order of float sums.
std::vector<std::string> train_args(const std::string& data, const std::string& out, int batch, int steps,
                                    int epochs = 2) {
  return {"unet",    "train",   "--data",  data,     "--out",   out,      "--epochs",          std::to_string(epochs),
          "--steps-per-epoch", std::to_string(steps), "--batch-size", std::to_string(batch), "--crop", "32",
          "--depth", "2",       "--width", "4",      "--augment", "none",  "--no-batch-norm", "--loss",
          "ce",      "--threads", "1",     "--quiet"};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::vector<std::string> rank_args(int port, int rank, int world_size, double timeout = 10) {
  return {"--dist-url", "tcp://127.0.0.1:" + std::to_string(port), "--rank", std::to_string(rank), "--world-size",
          std::to_string(world_size), "--dist-timeout", std::to_string(timeout)};
}

// `segkit` with `args` as ranks 0 and 1 of a world of 2 on a fresh port; both must succeed.
void run_two_ranks(const TempDir& dir, const std::vector<std::string>& args) {
  const int port = free_port();
  Process rank0(with(args, rank_args(port, 0, 2)), dir.file("err0"));
  Process rank1(with(args, rank_args(port, 1, 2)), dir.file("err1"));
  EXPECT_EQ(rank0.wait(60), 0) << rank0.err();
  EXPECT_EQ(rank1.wait(60), 0) << rank1.err();
}

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The largest difference between the float32 tensors of two checkpoints (the same names).
double max_difference(const std::string& a_path, const std::string& b_path) {
  auto a = segkit::SafetensorsFile::open(a_path), b = segkit::SafetensorsFile::open(b_path);
  EXPECT_EQ(a->names(), b->names());
  double worst = 0;
  for (const auto& name : a->names()) {
    const auto &x = a->get(name), &y = b->get(name);
    EXPECT_EQ(x.shape, y.shape) << name;
    if (x.dtype != segkit::DType::F32 || x.shape != y.shape) continue;
    for (int64_t i = 0; i < x.numel(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(reinterpret_cast<const float*>(x.data)[i] -
                                                            reinterpret_cast<const float*>(y.data)[i])));
  }
  return worst;
}

}  // namespace

TEST(UNetDistributedCli, TwoRanksMatchOneProcessWithTwiceTheBatch) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 4, 40);  // a multiple of the world size: no padding
  auto single = segkit::test::run_cli(train_args(data, dir.file("one"), 4, 3));
  ASSERT_EQ(single.exit_code, 0) << single.err;

  const int port = free_port();
  Process rank0(with(train_args(data, dir.file("two"), 2, 3), rank_args(port, 0, 2)), dir.file("err0"));
  Process rank1(with(train_args(data, dir.file("two-rank1"), 2, 3), rank_args(port, 1, 2)), dir.file("err1"));
  ASSERT_EQ(rank0.wait(60), 0) << rank0.err();
  ASSERT_EQ(rank1.wait(60), 0) << rank1.err();
  EXPECT_FALSE(fs::exists(dir.file("two-rank1"))) << "only rank 0 writes";

  auto one = segkit::SafetensorsFile::open(dir.file("one/last.safetensors"));
  auto two = segkit::SafetensorsFile::open(dir.file("two/last.safetensors"));
  ASSERT_EQ(one->names(), two->names());
  double worst = 0, largest_step = 0;
  auto start = segkit::SafetensorsFile::open(dir.file("one/last.safetensors"));
  for (const auto& name : one->names()) {
    const auto &a = one->get(name), &b = two->get(name);
    ASSERT_EQ(a.shape, b.shape) << name;
    const float* x = reinterpret_cast<const float*>(a.data);
    const float* y = reinterpret_cast<const float*>(b.data);
    for (int64_t i = 0; i < a.numel(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
      largest_step = std::max(largest_step, static_cast<double>(std::fabs(x[i])));
    }
  }
  EXPECT_LT(worst, 1e-5) << "largest weight " << largest_step;
  // The logged loss is the mean over the ranks: the one process's loss.
  std::ifstream a(dir.file("one/log.jsonl")), b(dir.file("two/log.jsonl"));
  std::string la, lb;
  while (std::getline(a, la) && std::getline(b, lb)) {
    const double loss_a = std::stod(la.substr(la.find("\"train_loss\":") + 13));
    const double loss_b = std::stod(lb.substr(lb.find("\"train_loss\":") + 13));
    EXPECT_NEAR(loss_a, loss_b, 1e-6);
  }
}

TEST(UNetDistributedCli, SyncBatchNormOnTwoRanksMatchesOneProcessWithTwiceTheBatch) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 4, 40);
  auto batch_norm_args = [&](const std::string& out, int batch) {
    auto args = train_args(data, dir.file(out), batch, 3, 1);
    args.erase(std::find(args.begin(), args.end(), "--no-batch-norm"));
    return args;
  };
  auto two_ranks = [&](const std::vector<std::string>& args) { run_two_ranks(dir, args); };
  auto r = segkit::test::run_cli(batch_norm_args("one", 4));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One process: the option changes nothing, to the bit, also at the CLI's default thread count.
  r = segkit::test::run_cli(with(batch_norm_args("one-flag", 4), {"--sync-batch-norm"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(max_difference(dir.file("one/last.safetensors"), dir.file("one-flag/last.safetensors")), 0.0);
  auto default_threads = [](std::vector<std::string> args) {
    const auto threads = std::find(args.begin(), args.end(), "--threads");
    args.erase(threads, threads + 2);  // the flag and its value
    return args;
  };
  for (const char* out : {"default", "default-flag"}) {
    auto args = default_threads(batch_norm_args(out, 4));
    if (std::string(out) == "default-flag") args.push_back("--sync-batch-norm");
    r = segkit::test::run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(max_difference(dir.file("default/last.safetensors"), dir.file("default-flag/last.safetensors")), 0.0);

  two_ranks(with(batch_norm_args("synced", 2), {"--sync-batch-norm"}));
  two_ranks(batch_norm_args("per-rank", 2));
  // Weights and running statistics: those of the one process with --sync-batch-norm, not without.
  EXPECT_LT(max_difference(dir.file("one/last.safetensors"), dir.file("synced/last.safetensors")), 1e-5);
  EXPECT_GT(max_difference(dir.file("one/last.safetensors"), dir.file("per-rank/last.safetensors")), 1e-3);
}

TEST(UNetDistributedCli, JoinsFromTorchrunsVariables) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 2, 40);
  segkit::test::ScopedEnv addr("MASTER_ADDR", "127.0.0.1"), port("MASTER_PORT", std::to_string(free_port())),
      size("WORLD_SIZE", "2");
  auto args = train_args(data, dir.file("run"), 1, 2, 1);
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  std::unique_ptr<Process> ranks[2];
  for (int r = 0; r < 2; ++r) {
    segkit::test::ScopedEnv rank("RANK", std::to_string(r));  // the child takes the environment at fork
    ranks[r] = std::make_unique<Process>(args, dir.file("err" + std::to_string(r)));
  }
  ASSERT_EQ(ranks[0]->wait(60), 0) << ranks[0]->err();
  ASSERT_EQ(ranks[1]->wait(60), 0) << ranks[1]->err();
  EXPECT_NE(ranks[0]->err().find("steps of 2 per epoch (1 on each of 2 processes)"), std::string::npos) << ranks[0]->err();
  EXPECT_EQ(ranks[1]->err(), "") << "only rank 0 reports";
}

TEST(UNetDistributedCli, ResumesOnAnotherWorldSize) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 4, 40);
  auto two_ranks = [&](const std::vector<std::string>& args) { run_two_ranks(dir, args); };
  // One epoch on one process, then a second on two; and the other way round.
  ASSERT_EQ(segkit::test::run_cli(train_args(data, dir.file("a"), 4, 3, 1)).exit_code, 0);
  two_ranks({"unet", "train", "--out", dir.file("a"), "--resume", "--epochs", "2", "--threads", "1", "--quiet"});
  two_ranks(train_args(data, dir.file("b"), 2, 3, 1));
  auto r = segkit::test::run_cli({"unet", "train", "--out", dir.file("b"), "--resume", "--epochs", "2", "--threads", "1", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = segkit::SafetensorsFile::open(dir.file("a/last.safetensors"));
  auto b = segkit::SafetensorsFile::open(dir.file("b/last.safetensors"));
  double worst = 0;
  for (const auto& name : a->names()) {
    const auto &x = a->get(name), &y = b->get(name);
    for (int64_t i = 0; i < x.numel(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(reinterpret_cast<const float*>(x.data)[i] -
                                                            reinterpret_cast<const float*>(y.data)[i])));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(UNetDistributedCli, AKilledRankMakesTheOtherFailWithinTheTimeout) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 2, 40);
  const int port = free_port();
  auto long_run = [&](const std::string& out) { return train_args(data, out, 1, 100000, 1000); };
  // Rank 0 without --quiet: its first line says that every rank joined and training began.
  auto rank0_args = with(long_run(dir.file("run")), rank_args(port, 0, 2, 3));
  rank0_args.erase(std::find(rank0_args.begin(), rank0_args.end(), "--quiet"));
  Process rank0(rank0_args, dir.file("err0"));
  Process rank1(with(long_run(dir.file("run1")), rank_args(port, 1, 2, 3)), dir.file("err1"));
  for (int i = 0; i < 1000 && rank0.err().find("training U-Net") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(rank0.wait(0.2), -1) << rank0.err();
  rank1.kill();
  const auto killed = std::chrono::steady_clock::now();
  const int status = rank0.wait(15);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_EQ(status, 1) << rank0.err();
  EXPECT_LT(seconds, 3 + 2) << "the timeout is 3 s";
  const std::string err = rank0.err();
  const std::string last = err.substr(err.rfind('\n', err.size() - 2) + 1);
  EXPECT_EQ(last.rfind("segkit: error: distributed training: ", 0), 0u) << err;
  EXPECT_NE(last.find("another rank died or did not answer within 3 s"), std::string::npos) << err;
  EXPECT_EQ(count_lines(err), 2) << err;
}

TEST(UNetDistributedCli, BadWorldSizePortInUseAndRankAreOneLineErrors) {
  if (!segkit::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const std::string data = dir.file("data");
  segkit::test::write_synthetic_dataset(data, 2, 40);
  int port = free_port();
  Process rank0(with(train_args(data, dir.file("run0"), 1, 2), rank_args(port, 0, 2, 5)), dir.file("err0"));
  Process rank1(with(train_args(data, dir.file("run1"), 1, 2), rank_args(port, 1, 3, 5)), dir.file("err1"));
  EXPECT_EQ(rank1.wait(10), 1);
  EXPECT_EQ(rank0.wait(10), 1);
  EXPECT_NE(rank1.err().find("this process has --world-size 3 but rank 0 has 2"), std::string::npos) << rank1.err();
  EXPECT_NE(rank0.err().find("rank 1: this process has --world-size 3"), std::string::npos) << rank0.err();
  EXPECT_EQ(count_lines(rank0.err()) + count_lines(rank1.err()), 2) << rank0.err() << rank1.err();
  EXPECT_FALSE(fs::exists(dir.file("run0")));

  // A port something else listens on.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  auto r = segkit::test::run_cli(with(train_args(data, dir.file("run0"), 1, 2), rank_args(port, 0, 2, 5)));
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the port is in use"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;

  r = segkit::test::run_cli(with(train_args(data, dir.file("run0"), 1, 2), rank_args(free_port(), 2, 2)));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--rank: 2 is not below --world-size 2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("run0")));
}
