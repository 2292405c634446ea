// core/mapped_file: release_pages hands pages back without changing what they hold, whether
// they are a file's map (read again from the file) or ordinary memory (kept).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/mapped_file.h"
#include "test_util.h"

using namespace segkit;

TEST(MappedFile, ReleasedPagesReadTheSameAgain) {
  test::TempDir dir;
  const std::string path = dir.file("data.bin");
  std::vector<uint32_t> words(3 << 20);  // 12 MiB: whole pages inside, partial ones at the ends
  for (size_t i = 0; i < words.size(); ++i) words[i] = uint32_t(i * 2654435761u);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(words.data()), std::streamsize(words.size() * 4));
  const auto map = MappedFile::open(path);
  ASSERT_EQ(map->size(), words.size() * 4);
  uint64_t before = 0;
  for (size_t i = 0; i < map->size(); i += 4096) before += map->data()[i];  // resident now
  release_pages(map->data() + 123, map->size() - 456);
  uint64_t after = 0;
  for (size_t i = 0; i < map->size(); i += 4096) after += map->data()[i];
  EXPECT_EQ(before, after);
  EXPECT_EQ(std::memcmp(map->data(), words.data(), map->size()), 0);
}

TEST(MappedFile, OrdinaryMemoryKeepsItsContents) {
  std::vector<uint64_t> heap(1 << 20);
  for (size_t i = 0; i < heap.size(); ++i) heap[i] = i * 0x9e3779b97f4a7c15ull;
  release_pages(heap.data(), heap.size() * sizeof(uint64_t));
  for (size_t i = 0; i < heap.size(); ++i) ASSERT_EQ(heap[i], i * 0x9e3779b97f4a7c15ull) << i;
  release_pages(nullptr, 0);  // nothing to do
  release_pages(heap.data(), 10);  // no whole page
}
