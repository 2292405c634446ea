// One short flag, one meaning: every command that has --model, --image, --out or --quiet takes
// -m, -i, -o and -q for it, and no short flag names different options in different commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cli_help.h"
#include "test_util.h"

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

// Usage mistakes get the same one-line form as every other error, pointing at the command's help.
TEST(CliFlags, UsageErrorsAreOneLineNamingTheHelp) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"generate", "-i", "photo.jpg"}, "(see segkit generate --help)"},
      {{"predict", "--no-such-option"}, "(see segkit predict --help)"},
      {{"unet", "predict"}, "(see segkit unet predict --help)"},
      {{"no-such-command"}, "(see segkit --help)"},
  };
  for (const auto& [args, help] : cases) {
    const auto r = segkit::test::run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("segkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(help), std::string::npos) << r.err;
  }
  const auto bare = segkit::test::run_cli({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.out.find("Subcommands:"), std::string::npos) << bare.out;
}
