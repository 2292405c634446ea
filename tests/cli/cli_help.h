#pragma once
// What `segkit ... --help` says a command takes: its options (and which of them take a value)
// and its subcommands. Read from the help text, so tests see the CLI as a user does.
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace segkit::test {

struct CliHelp {
  bool ok = false;                      // --help exited 0
  std::map<std::string, bool> options;  // "-m", "--model" -> takes a value
  std::map<std::string, std::string> long_of_short;  // "-m" -> "--model"
  std::set<std::string> subcommands;
};

// CLI11's layout: option lines start with two spaces and a dash, the names (comma-separated)
// come first, then " TYPE" for options that take a value or two or more spaces before the
// description for flags. Subcommands are listed under "Subcommands:".
inline CliHelp parse_cli_help(const std::string& text) {
  CliHelp help;
  std::istringstream in(text);
  std::string line;
  bool in_subcommands = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != ' ') {
      in_subcommands = line.rfind("Subcommands:", 0) == 0;
      continue;
    }
    if (in_subcommands) {
      const size_t start = line.find_first_not_of(' ');
      if (start == 2) help.subcommands.insert(line.substr(start, line.find(' ', start) - start));
      continue;
    }
    if (line.rfind("  -", 0) != 0) continue;
    const size_t end = line.find(' ', 2);
    const std::string names = line.substr(2, end == std::string::npos ? std::string::npos : end - 2);
    const bool takes_value = end != std::string::npos && end + 1 < line.size() && line[end + 1] != ' ';
    std::istringstream split(names);
    std::string name, short_name, long_name;
    while (std::getline(split, name, ',')) {
      if (name.empty()) continue;
      help.options[name] = takes_value;
      if (name.rfind("--", 0) == 0) long_name = name;
      else short_name = name;
    }
    if (!short_name.empty()) help.long_of_short[short_name] = long_name;
  }
  return help;
}

// The help of `segkit <path...>`, cached: the binary does not change during a test run.
inline const CliHelp& cli_help(const std::vector<std::string>& path) {
  static std::map<std::vector<std::string>, CliHelp> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  std::vector<std::string> args = path;
  args.push_back("--help");
  const CliResult r = run_cli(args);
  CliHelp help = parse_cli_help(r.out);
  help.ok = r.exit_code == 0;
  return cache.emplace(path, std::move(help)).first->second;
}

// The longest prefix of `args` that names a (sub)command, e.g. {"unet", "predict"}.
inline std::vector<std::string> command_path(const std::vector<std::string>& args) {
  std::vector<std::string> path;
  if (args.empty()) return path;
  path.push_back(args[0]);
  while (path.size() < args.size() && cli_help(path).subcommands.count(args[path.size()])) path.push_back(args[path.size()]);
  return path;
}

}  // namespace segkit::test
