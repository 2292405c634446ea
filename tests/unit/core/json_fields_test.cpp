// core/json_fields.h: typed reads of outside JSON give one-line Errors naming the key, never an
// exception from the JSON library or an out-of-range conversion.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/json_fields.h"
#include "segkit/error.h"
#include "test_util.h"

using segkit::read_optional;
using segkit::read_required;

using segkit::test::error_of;

TEST(JsonFields, ReadsWhatIsThereAndLeavesWhatIsNot) {
  const auto j = nlohmann::json::parse(R"({"n": 7, "x": 0.5, "list": [1, 2], "floats": [0.25, -1], "none": null})");
  int n = 0, absent = 3;
  double x = 0;
  std::vector<int> list;
  std::vector<float> floats;
  read_required(j, "f.json", "n", n, 0, 10);
  read_required(j, "f.json", "x", x);
  read_optional(&j, "f.json", "list", list, 0, 5);
  read_required(j, "f.json", "floats", floats);
  read_optional(&j, "f.json", "none", absent, 0, 10);
  read_optional(&j, "f.json", "missing", absent, 0, 10);
  EXPECT_EQ(n, 7);
  EXPECT_EQ(x, 0.5);
  EXPECT_EQ(list, (std::vector<int>{1, 2}));
  EXPECT_EQ(floats, (std::vector<float>{0.25f, -1.0f}));
  EXPECT_EQ(absent, 3);
}

TEST(JsonFields, RefusesWrongTypesAndValuesNamingTheKey) {
  const auto j = nlohmann::json::parse(
      R"({"huge": 1e300, "big": 3000000000, "text": "x", "neg": -1, "float": 2.5, "list": [1, "a"],
          "far": [1e39], "u": 18446744073709551615})");
  int i = 0;
  int64_t l = 0;
  std::vector<float> f;
  std::vector<int> li;
  EXPECT_EQ(error_of([&] { read_required(j, "c.json", "huge", i, 0, 100); }), "c.json: \"huge\" must be an integer from 0 to 100");
  EXPECT_EQ(error_of([&] { read_required(j, "c.json", "big", i, INT32_MIN, INT32_MAX); }),
            "c.json: \"big\" must be an integer from -2147483648 to 2147483647");
  EXPECT_NE(error_of([&] { read_required(j, "c.json", "text", i, 0, 100); }), "(no error)");
  EXPECT_NE(error_of([&] { read_required(j, "c.json", "neg", i, 0, 100); }), "(no error)");
  EXPECT_NE(error_of([&] { read_required(j, "c.json", "float", i, 0, 100); }), "(no error)");
  EXPECT_NE(error_of([&] { read_required(j, "c.json", "u", l, 0, INT64_MAX); }), "(no error)");
  EXPECT_NE(error_of([&] { read_optional(&j, "c.json", "list", li, 0, 5); }), "(no error)");
  EXPECT_EQ(error_of([&] { read_required(j, "c.json", "far", f); }),
            "c.json: \"far\" must be a list of finite numbers within float range");
  EXPECT_EQ(error_of([&] { read_required(j, "c.json", "absent", i, 0, 1); }), "c.json: \"absent\" is missing");
  EXPECT_EQ(i, 0) << "a refused value leaves the target alone";
}
