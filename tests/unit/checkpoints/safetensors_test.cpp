#include "segkit/safetensors.h"

#include <gtest/gtest.h>

#include <fstream>

#include "segkit/error.h"
#include "test_util.h"

using namespace segkit;

TEST(Safetensors, RoundTripKeepsDataShapeAndMetadata) {
  test::TempDir dir;
  std::vector<float> a = {1.f, -2.5f, 3.f, 4.f, 5.f, 6.f};
  std::vector<uint8_t> b = {0, 1, 1, 0};
  write_safetensors(dir.file("t.safetensors"),
                    {{"a", DType::F32, {2, 3}, a.data()}, {"b", DType::U8, {4}, b.data()}},
                    {{"note", "hello"}});
  auto f = SafetensorsFile::open(dir.file("t.safetensors"));
  ASSERT_TRUE(f->contains("a"));
  EXPECT_EQ(f->get("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f->to_float("a"), a);
  EXPECT_EQ(f->get("b").dtype, DType::U8);
  EXPECT_EQ(std::vector<uint8_t>(f->get("b").data, f->get("b").data + 4), b);
  EXPECT_EQ(f->metadata().at("note"), "hello");
}

static void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
}

TEST(Safetensors, RefusesMalformedFilesWithAMessageNamingTheProblem) {
  test::TempDir dir;
  struct Case {
    std::string header;
    size_t data;
    std::string expect;
  } cases[] = {
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, "outside the data"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", 16, "does not match"},
      {R"({"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", 16, "unsupported dtype"},
      {R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16, "negative"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 16, "overlap"},
      {R"({"a":)", 0, "not valid JSON"},
  };
  for (const auto& c : cases) {
    std::string path = dir.file("bad.safetensors");
    write_raw(path, c.header, c.data);
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << "accepted: " << c.header;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  // Header length larger than the file.
  std::string path = dir.file("short.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    uint64_t n = 1000;
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << "{}";
  }
  EXPECT_THROW(SafetensorsFile::open(path), Error);
  EXPECT_THROW(SafetensorsFile::open(dir.file("missing.safetensors")), Error);
}
