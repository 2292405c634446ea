// `segkit serve` started as users start it: a child process on a free loopback port, asked
// over HTTP what it serves.
#include <gtest/gtest.h>
#if SEGKIT_WITH_SERVER

#include <fcntl.h>
#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sam_fixtures.h"
#include "segkit/image.h"
#include "segkit/machine.h"
#include "test_util.h"

namespace {

// `segkit serve ARGS --port 0`, stderr into a file, until destroyed (SIGTERM).
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) : log_path_(dir_.file("stderr")) {
    args.insert(args.begin(), {SEGKIT_CLI_PATH, "serve"});
    args.insert(args.end(), {"--port", "0"});
    pid_ = ::fork();
    if (pid_ == 0) {
      const int err = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // The server says where it listens once it is bound.
    const std::regex listening(R"(listening on http://127\.0\.0\.1:([0-9]+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (port_ == 0 && running() && std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServeProcess() {
    if (running()) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  int port() const { return port_; }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  bool running() {
    if (exited_) return false;
    int status = 0;
    exited_ = ::waitpid(pid_, &status, WNOHANG) == pid_;
    return !exited_;
  }
  segkit::test::TempDir dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
};

}  // namespace

// GET /v1/model once said "float32" whatever --precision asked for.
TEST(ServerCli, ModelReportsTheEncoderPrecisionInUse) {
  const std::string resolved_auto = segkit::machine_info().native_bf16 ? "bfloat16" : "float32";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fp32", "float32"}, {"bf16", "bfloat16"}, {"auto", resolved_auto}};
  for (const auto& [flag, want] : cases) {
    ServeProcess serve({"--model", segkit::test::sam_tiny_hf(), "--precision", flag});
    ASSERT_NE(serve.port(), 0) << "--precision " << flag << ": the server did not start: " << serve.log();
    httplib::Client client("127.0.0.1", serve.port());
    auto r = client.Get("/v1/model");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(nlohmann::json::parse(r->body)["precision"], want) << "--precision " << flag;
  }
}

// An upload that ends early is refused with 400 naming the problem; --allow-truncated takes it.
TEST(ServerCli, RefusesATruncatedUploadUnlessAllowed) {
  const segkit::Image image = segkit::test::sam_case_image(*segkit::test::sam_case_file("truck_small"));
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  std::vector<uint8_t> jpg;
  ASSERT_TRUE(cv::imencode(".jpg", rgb, jpg));
  const std::string cut(jpg.begin(), jpg.begin() + jpg.size() / 2);  // half of it arrived
  for (const bool allow : {false, true}) {
    std::vector<std::string> args = {"--model", segkit::test::sam_tiny_hf()};
    if (allow) args.push_back("--allow-truncated");
    ServeProcess serve(args);
    ASSERT_NE(serve.port(), 0) << serve.log();
    httplib::Client client("127.0.0.1", serve.port());
    client.set_read_timeout(60);
    auto r = client.Post("/v1/images", cut, "image/jpeg");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    if (allow) {
      EXPECT_EQ(r->status, 200) << r->body;
    } else {
      EXPECT_EQ(r->status, 400) << r->body;
      EXPECT_NE(nlohmann::json::parse(r->body)["error"].get<std::string>().find("truncated JPEG"), std::string::npos) << r->body;
    }
  }
}

// -m repeated hosts every model, named after its source's last component or NAME=SOURCE.
TEST(ServerCli, HostsSeveralModelsByName) {
  const std::string sam = segkit::test::sam_tiny_hf(), m2f = segkit::test::data_path("mask2former/model");
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"-m", sam, "-m", m2f}, {"hf", "model"}},
      {{"--model", "labels=" + m2f, "--model", "clicks=" + sam}, {"labels", "clicks"}},
  };
  for (const auto& [args, names] : cases) {
    ServeProcess serve(args);
    ASSERT_NE(serve.port(), 0) << "the server did not start: " << serve.log();
    httplib::Client client("127.0.0.1", serve.port());
    client.set_read_timeout(60);
    auto r = client.Get("/v1/models");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    const nlohmann::json models = nlohmann::json::parse(r->body)["models"];
    ASSERT_EQ(models.size(), names.size()) << r->body;
    for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(models[i]["name"], names[i]) << r->body;
    // Both families answer on the same upload.
    const segkit::Image image = segkit::test::sam_case_image(*segkit::test::sam_case_file("truck_small"));
    const auto png = segkit::encode_png(image.rgb.data(), image.width, image.height, 3);
    r = client.Post("/v1/images", std::string(png.begin(), png.end()), "image/png");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const std::string id = nlohmann::json::parse(r->body)["image_id"];
    r = client.Post(("/v1/images/" + id + "/segment").c_str(), R"({"task": "panoptic"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    r = client.Post(("/v1/images/" + id + "/predict").c_str(), R"({"points": [[150, 100]]})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
}

// Two models under one name, two SAM models, or a family the server cannot host: one line, no server.
TEST(ServerCli, RefusesModelsItCannotHostTogether) {
  const std::string sam = segkit::test::sam_tiny_hf(), m2f = segkit::test::data_path("mask2former/model");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-m", m2f, "-m", m2f}, "two models are named model; name them with NAME=SOURCE"},
      {{"-m", "a=" + sam, "-m", "b=" + sam}, "one SAM model per server"},
      {{"-m", "bad name=" + m2f}, "a name is letters, digits"},
  };
  for (const auto& [args, message] : cases) {
    ServeProcess serve(args);
    EXPECT_EQ(serve.port(), 0) << serve.log();
    EXPECT_NE(serve.log().find(message), std::string::npos) << serve.log();
  }
}

#endif
