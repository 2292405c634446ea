// Semantic evaluation throughput on Cityscapes-like data (19 classes, 1024×2048, ignore 255),
// in megapixels per second per core, beside NumPy's bincount evaluation of the same bytes
// (bench/eval_semantic_numpy.py) in the same run when python3 with numpy is available.
// Prints JSON lines: one per measurement, then a comparison.
//
//   bench_eval_semantic [--images N] [--repeats R] [--threads T] [--no-numpy] [--python PYTHON]
//   (default: python3, then /usr/bin/python3 if the first has no numpy)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "segkit/metrics.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kH = 1024, kW = 2048, kLabels = 19;

// Piecewise-constant scenes: horizontal bands of classes cut by random boxes, a few ignored
// regions, and predictions that disagree along shifted boundaries and in random patches.
void make_pair(uint32_t seed, std::vector<uint8_t>& gt, std::vector<uint8_t>& pred) {
  std::mt19937 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  gt.assign(static_cast<size_t>(kH) * kW, 0);
  int y = 0;
  while (y < kH) {
    const int h = uni(40, 200), c = uni(0, kLabels - 1);
    for (int yy = y; yy < std::min(kH, y + h); ++yy) std::fill_n(gt.begin() + static_cast<ptrdiff_t>(yy) * kW, kW, c);
    y += h;
  }
  auto box = [&](std::vector<uint8_t>& m, int value) {
    const int bh = uni(10, 300), bw = uni(10, 500), by = uni(0, kH - 1), bx = uni(0, kW - 1);
    for (int yy = by; yy < std::min(kH, by + bh); ++yy)
      std::fill_n(m.begin() + static_cast<ptrdiff_t>(yy) * kW + bx, std::min(kW, bx + bw) - bx, value);
  };
  for (int i = 0; i < 60; ++i) box(gt, uni(0, kLabels - 1));
  for (int i = 0; i < 6; ++i) box(gt, 255);
  pred.resize(gt.size());
  const int shift = uni(1, 8);
  for (int yy = 0; yy < kH; ++yy)
    for (int x = 0; x < kW; ++x) {
      const uint8_t g = gt[static_cast<size_t>(std::max(0, yy - shift)) * kW + x];
      pred[static_cast<size_t>(yy) * kW + x] = g == 255 ? 0 : g;
    }
  for (int i = 0; i < 25; ++i) box(pred, uni(0, kLabels - 1));
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string arg_value(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}
bool has_flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == name) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const int images = std::max(1, std::atoi(arg_value(argc, argv, "--images", "4").c_str()));
  const int repeats = std::max(1, std::atoi(arg_value(argc, argv, "--repeats", "5").c_str()));
  const int threads = std::max(1, std::atoi(arg_value(argc, argv, "--threads",
                                                      std::to_string(std::max(1u, std::thread::hardware_concurrency()))).c_str()));
  const std::string python = arg_value(argc, argv, "--python", "python3");
  const double mpx = static_cast<double>(images) * kH * kW / 1e6;

  std::vector<std::vector<uint8_t>> gts(images), preds(images);
  for (int i = 0; i < images; ++i) make_pair(1234u + static_cast<uint32_t>(i), gts[i], preds[i]);

  segkit::SemanticOptions options;
  options.num_labels = kLabels;
  options.ignore_index = 255;

  // One core: the whole dataset through one accumulator, best of `repeats`.
  segkit::SemanticResult single;
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    segkit::SemanticAccumulator acc(options);
    for (int i = 0; i < images; ++i) acc.add(preds[i].data(), gts[i].data(), gts[i].size());
    single = acc.result();
    best = std::min(best, seconds_since(t0));
  }
  const double cpp_per_core = mpx / best;
  std::cout << nlohmann::json{{"bench", "eval_semantic"}, {"impl", "segkit"}, {"threads", 1}, {"images", images},
                              {"height", kH}, {"width", kW}, {"num_labels", kLabels}, {"seconds", best},
                              {"mpx_per_s", cpp_per_core}, {"mpx_per_s_per_core", cpp_per_core}, {"mean_iou", single.mean_iou}}
                   .dump()
            << std::endl;

  // All cores: one accumulator per thread, merged (what `segkit eval semantic` does).
  if (threads > 1) {
    double best_mt = 1e30;
    const int rounds = std::max(1, threads / images + 1);  // enough work to keep every thread busy
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      std::vector<segkit::SemanticAccumulator> accs(static_cast<size_t>(threads), segkit::SemanticAccumulator(options));
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          for (int j = t; j < images * rounds; j += threads)
            accs[static_cast<size_t>(t)].add(preds[j % images].data(), gts[j % images].data(), gts[j % images].size());
        });
      for (auto& th : pool) th.join();
      for (int t = 1; t < threads; ++t) accs[0].merge(accs[static_cast<size_t>(t)]);
      best_mt = std::min(best_mt, seconds_since(t0));
    }
    const double total = mpx * rounds / best_mt;
    std::cout << nlohmann::json{{"bench", "eval_semantic"}, {"impl", "segkit"}, {"threads", threads}, {"seconds", best_mt},
                                {"mpx_per_s", total}, {"mpx_per_s_per_core", total / threads}}
                     .dump()
              << std::endl;
  }

  // NumPy reference on the same bytes, in the same run.
  if (has_flag(argc, argv, "--no-numpy")) return 0;
  const fs::path script = fs::path(__FILE__).parent_path() / "eval_semantic_numpy.py";
  const fs::path dir = fs::temp_directory_path() / ("segkit-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream g(dir / "gt.u8", std::ios::binary), p(dir / "pred.u8", std::ios::binary);
    for (int i = 0; i < images; ++i) {
      g.write(reinterpret_cast<const char*>(gts[i].data()), static_cast<std::streamsize>(gts[i].size()));
      p.write(reinterpret_cast<const char*>(preds[i].data()), static_cast<std::streamsize>(preds[i].size()));
    }
  }
  // Without --python, the first interpreter on PATH may lack numpy while the system one has it.
  std::vector<std::string> pythons = {python};
  if (arg_value(argc, argv, "--python", "").empty()) pythons.push_back("/usr/bin/python3");
  std::string out;
  for (const std::string& py : pythons) {
    const std::string cmd = py + " '" + script.string() + "' --gt '" + (dir / "gt.u8").string() + "' --pred '" +
                            (dir / "pred.u8").string() + "' --images " + std::to_string(images) + " --height " +
                            std::to_string(kH) + " --width " + std::to_string(kW) + " --num-labels " +
                            std::to_string(kLabels) + " --repeats " + std::to_string(repeats) + " 2>&1";
    out.clear();
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, f)) out += buf;
      ::pclose(f);
    }
    if (out.find("mpx_per_s_per_core") != std::string::npos) break;
  }
  fs::remove_all(dir);
  nlohmann::json ref;
  try {
    ref = nlohmann::json::parse(out.substr(0, out.find('\n')));
  } catch (const std::exception&) {
    ref = {{"bench", "eval_semantic"}, {"impl", "numpy"}, {"skipped", "reference script failed: " + out}};
  }
  std::cout << ref.dump() << std::endl;
  if (ref.contains("mpx_per_s_per_core")) {
    const double np_per_core = ref["mpx_per_s_per_core"].get<double>();
    std::vector<int64_t> np_intersect = ref.value("area_intersect", std::vector<int64_t>{});
    std::cout << nlohmann::json{{"bench", "eval_semantic"}, {"compare", "segkit_vs_numpy_per_core"},
                                {"speedup", cpp_per_core / np_per_core},
                                {"same_areas", np_intersect == single.area_intersect &&
                                                   ref.value("area_union", std::vector<int64_t>{}) == single.area_union}}
                     .dump()
              << std::endl;
  }
  return 0;
}
