// One short flag, one meaning: every command that has --model, --image, --out or --quiet takes
// -m, -i, -o and -q for it, and no short flag names different options in different commands.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cli_help.h"

using segkit::test::cli_help;

namespace {

std::string command_name(const std::vector<std::string>& path) {
  std::string s = "segkit";
  for (const auto& p : path) s += " " + p;
  return s;
}

}  // namespace

TEST(CliFlags, SameShortFlagForTheSameOptionInEveryCommand) {
  // Every command, found through the help texts (dev-random-sam is hidden from the list).
  std::vector<std::vector<std::string>> todo = {{}, {"dev-random-sam"}}, commands;
  while (!todo.empty()) {
    const std::vector<std::string> path = todo.back();
    todo.pop_back();
    const segkit::test::CliHelp& help = cli_help(path);
    ASSERT_TRUE(help.ok) << command_name(path) << " --help failed";
    commands.push_back(path);
    for (const auto& sub : help.subcommands) {
      std::vector<std::string> next = path;
      next.push_back(sub);
      todo.push_back(next);
    }
  }
  EXPECT_GE(commands.size(), 15u);  // the walk found the commands

  const std::map<std::string, std::string> wanted = {{"--model", "-m"},     {"--image", "-i"}, {"--out", "-o"},
                                                     {"--quiet", "-q"},     {"--embedding", "-e"},
                                                     {"--point", "-p"},     {"--box", "-b"}};
  std::map<std::string, std::map<std::string, std::string>> meanings;  // -x -> --long -> a command using it
  for (const auto& path : commands) {
    const segkit::test::CliHelp& help = cli_help(path);
    for (const auto& [short_name, long_name] : help.long_of_short) meanings[short_name].emplace(long_name, command_name(path));
    for (const auto& [long_name, short_name] : wanted) {
      if (!help.options.count(long_name)) continue;
      const auto it = help.long_of_short.find(short_name);
      EXPECT_TRUE(it != help.long_of_short.end() && it->second == long_name)
          << command_name(path) << ": " << long_name << " has no short flag " << short_name;
    }
  }
  for (const auto& [short_name, longs] : meanings) {
    std::string list;
    for (const auto& [long_name, where] : longs) list += "\n  " + long_name + " in " + where;
    EXPECT_EQ(longs.size(), 1u) << short_name << " names different options:" << list;
  }
}
