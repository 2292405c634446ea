#pragma once
// Loads the golden metric fixtures (tests/data/metrics, see its README.md): every case of
// one kind listed in index.json, so new cases are picked up without touching the tests.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace segkit::test {

struct MetricCase {
  std::string name;
  std::string dir;  // folder of case.json, with a trailing slash
  nlohmann::json json;
};

inline std::vector<MetricCase> load_metric_cases(const std::string& kind) {
  const std::string root = data_path("metrics/");
  std::ifstream in(root + "index.json");
  nlohmann::json index = nlohmann::json::parse(in);
  std::vector<MetricCase> cases;
  for (const auto& entry : index.at("cases")) {
    if (entry.at("kind") != kind) continue;
    const std::string path = entry.at("path");
    MetricCase c;
    c.name = entry.at("name");
    c.dir = root + path.substr(0, path.rfind('/') + 1);
    std::ifstream case_in(root + path);
    c.json = nlohmann::json::parse(case_in);
    cases.push_back(std::move(c));
  }
  return cases;
}

inline std::string metric_case_name(const ::testing::TestParamInfo<MetricCase>& info) { return info.param.name; }

// Floats within 1e-9; JSON null stands for NaN (or a raising reference).
inline void expect_metric_near(const nlohmann::json& want, double got, const std::string& what) {
  if (want.is_null()) {
    EXPECT_TRUE(std::isnan(got)) << what << ": want null (NaN), got " << got;
  } else {
    EXPECT_NEAR(got, want.get<double>(), 1e-9) << what;
  }
}

}  // namespace segkit::test

// gtest prints parameters; keep it to the case name.
namespace segkit::test {
inline void PrintTo(const MetricCase& c, std::ostream* os) { *os << c.name; }
}  // namespace segkit::test
