// The README's and docs' examples run as written. Every `segkit` (or `build/segkit`) line of a
// fenced ```sh block runs, in order, in a fresh folder per block, so later lines read what
// earlier ones wrote. Only what a reader brings is replaced: SAM and U-Net models by tiny test
// models, images and data sets by small fixtures (chosen by option, see kInputs). Lines marked
// `# doc-test: skip (REASON)` (network, servers, long runs) are listed, not run, and their
// options are still checked against the command's --help.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_help.h"
#include "sam_fixtures.h"
#include "test_util.h"
#include "unet_synthetic.h"

namespace fs = std::filesystem;
using segkit::test::CliResult;
using segkit::test::run_cli;
using segkit::test::TempDir;

namespace {

struct DocCommand {
  int line = 0;                   // first line in the file, 1-based
  std::string text;               // as written (continuations joined, comment dropped)
  std::vector<std::string> args;  // the words after `segkit`, variables expanded
  std::string skip;               // the reason of a `doc-test: skip (REASON)` marker
  std::string error;              // why the line is not one plain command
};

struct DocBlock {
  std::vector<DocCommand> commands;
};

bool is_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// One shell line split into words the way sh would for the plain commands docs show: quotes,
// $NAME / ${NAME} from `vars`, a `#` comment. Anything that needs a real shell (pipes,
// redirections, lists, substitutions, globs, braces) is reported in `error`.
struct ShellLine {
  std::vector<std::string> words;
  std::string comment, error;
  size_t comment_at = std::string::npos;  // where the `#` is
};

ShellLine split_shell_line(const std::string& line, const std::map<std::string, std::string>& vars) {
  ShellLine out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  auto expand = [&](size_t& i) {  // line[i] == '$'
    size_t start = i + 1, end = start;
    const bool braced = start < line.size() && line[start] == '{';
    if (braced) ++start, end = start;
    while (end < line.size() && (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_')) ++end;
    const std::string name = line.substr(start, end - start);
    if (name.empty() || (braced && (end >= line.size() || line[end] != '}'))) {
      out.error = "shell syntax '$" + line.substr(i + 1, 1) + "' needs a shell";
    } else if (!vars.count(name)) {
      out.error = "$" + name + " is not set earlier in the block";
    } else {
      word += vars.at(name);
    }
    i = braced ? end : end - 1;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else word += c;
      continue;
    }
    if (quote == '"') {
      if (c == '"') quote = 0;
      else if (c == '$') expand(i);
      else if (c == '\\' && i + 1 < line.size()) word += line[++i];
      else word += c;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.words.push_back(word), word.clear(), in_word = false;
      continue;
    }
    if (c == '#' && !in_word) {
      out.comment = line.substr(i + 1);
      out.comment_at = i;
      break;
    }
    in_word = true;
    if (c == '\'' || c == '"') quote = c;
    else if (c == '$') expand(i);
    else if (c == '\\' && i + 1 < line.size()) word += line[++i];
    else if (std::string("|&;<>()`*?[]{}").find(c) != std::string::npos)
      out.error = std::string("shell syntax '") + c + "' needs a shell (write one plain command per line)";
    else word += c;
  }
  if (quote) out.error = "unterminated quote";
  if (in_word) out.words.push_back(word);
  return out;
}

// The ```sh blocks of a markdown text and the segkit commands in them.
std::vector<DocBlock> extract_doc_blocks(const std::string& markdown) {
  std::vector<DocBlock> blocks;
  std::istringstream in(markdown);
  std::string raw;
  int number = 0;
  bool in_fence = false, shell = false;
  std::map<std::string, std::string> vars;
  std::string pending;  // a line continued with a trailing backslash
  int pending_line = 0;
  while (std::getline(in, raw)) {
    ++number;
    const size_t indent = raw.find_first_not_of(' ');
    if (indent != std::string::npos && raw.compare(indent, 3, "```") == 0) {
      if (!in_fence) {
        std::string lang = raw.substr(indent + 3);
        lang.erase(std::remove(lang.begin(), lang.end(), ' '), lang.end());
        shell = lang == "sh" || lang == "bash" || lang == "shell";
        if (shell) blocks.push_back(DocBlock{});
        vars.clear();
        pending.clear();
      }
      in_fence = !in_fence;
      continue;
    }
    if (!in_fence || !shell) continue;
    if (pending.empty()) pending_line = number;
    const std::string part = pending.empty() ? raw : raw.substr(std::min(raw.size(), raw.find_first_not_of(' ')));
    if (!part.empty() && part.back() == '\\') {
      std::string head = part.substr(0, part.size() - 1);
      head.erase(head.find_last_not_of(' ') + 1);
      pending += head + " ";
      continue;
    }
    const std::string line = pending + part;
    pending.clear();
    ShellLine words = split_shell_line(line, vars);
    if (words.words.empty()) continue;
    // NAME=VALUE on its own sets a variable for the rest of the block.
    const std::string& first = words.words[0];
    const size_t eq = first.find('=');
    if (eq != std::string::npos && is_name(first.substr(0, eq)) && words.words.size() == 1) {
      vars[first.substr(0, eq)] = first.substr(eq + 1);
      continue;
    }
    if (first != "segkit" && !(first.size() > 7 && first.compare(first.size() - 7, 7, "/segkit") == 0)) continue;
    DocCommand cmd;
    cmd.line = pending_line;
    cmd.text = line.substr(0, words.comment_at);
    cmd.text.erase(0, cmd.text.find_first_not_of(' '));
    while (!cmd.text.empty() && std::isspace(static_cast<unsigned char>(cmd.text.back()))) cmd.text.pop_back();
    cmd.args.assign(words.words.begin() + 1, words.words.end());
    cmd.error = words.error;
    const size_t marker = words.comment.find("doc-test:");
    if (marker != std::string::npos) {
      const std::string rest = words.comment.substr(marker + 9);
      const size_t open = rest.find("skip ("), close = rest.find(')');
      if (rest.find_first_not_of(' ') != rest.find("skip (") || open == std::string::npos || close == std::string::npos ||
          close <= open + 6)
        cmd.error = "malformed marker, write `# doc-test: skip (REASON)`";
      else
        cmd.skip = rest.substr(open + 6, close - open - 6);
    }
    blocks.back().commands.push_back(std::move(cmd));
  }
  blocks.erase(std::remove_if(blocks.begin(), blocks.end(), [](const DocBlock& b) { return b.commands.empty(); }),
               blocks.end());
  return blocks;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// README.md and docs/*.md, relative to the repository root.
std::vector<std::string> doc_files() {
  std::vector<std::string> files = {"README.md"};
  for (const auto& e : fs::directory_iterator(fs::path(SEGKIT_SOURCE_DIR) / "docs"))
    if (e.path().extension() == ".md") files.push_back("docs/" + e.path().filename().string());
  std::sort(files.begin() + 1, files.end());
  return files;
}

// What a reader brings, by the option that names it. Everything else (outputs, files an earlier
// line wrote) stays as written.
enum class Input {
  SamModel, Mask2FormerModel, Sam3Model, Image, ImageFolder,
  UNetModel, UNetData, UNetImage, UNetImageFolder,
  SemanticPred, SemanticGt, CocoGt, CocoResults, PanopticGtJson, PanopticGtDir, PanopticPredJson, PanopticPredDir,
};

struct InputOption {
  const char* command;  // the command path, space-separated
  const char* option;   // long name; "" = the positional arguments
  Input input;
};

const InputOption kInputs[] = {
    {"predict", "--model", Input::SamModel},      {"predict", "--image", Input::Image},
    {"embed", "--model", Input::SamModel},        {"embed", "--image", Input::Image},
    {"generate", "--model", Input::SamModel},     {"generate", "--image", Input::Image},
    {"generate", "--input", Input::ImageFolder},  {"serve", "--model", Input::SamModel},
    {"bench", "--model", Input::SamModel},        {"bench", "--image", Input::Image},
    {"info", "", Input::SamModel},
    {"segment", "--model", Input::Mask2FormerModel}, {"segment", "--image", Input::Image},
    {"segment", "--input", Input::ImageFolder},
    {"unet train", "--data", Input::UNetData},    {"unet train", "--val", Input::UNetData},
    {"unet predict", "--model", Input::UNetModel}, {"unet predict", "--image", Input::UNetImage},
    {"unet predict", "--input", Input::UNetImageFolder}, {"unet eval", "--model", Input::UNetModel},
    {"unet eval", "--data", Input::UNetData},     {"unet ensemble", "", Input::UNetModel},
    {"eval semantic", "--pred", Input::SemanticPred}, {"eval semantic", "--gt", Input::SemanticGt},
    {"eval instance", "--gt", Input::CocoGt},     {"eval instance", "--results", Input::CocoResults},
    {"eval panoptic", "--gt-json", Input::PanopticGtJson}, {"eval panoptic", "--gt-dir", Input::PanopticGtDir},
    {"eval panoptic", "--pred-json", Input::PanopticPredJson}, {"eval panoptic", "--pred-dir", Input::PanopticPredDir},
};

// The fixtures, made on first use in their own folder (commands never write there).
class Fixtures {
 public:
  std::string path(Input input) {
    using segkit::test::data_path;
    switch (input) {
      case Input::SamModel: return segkit::test::sam_tiny_hf();
      case Input::Mask2FormerModel: return segkit::test::data_path("mask2former/model");
      case Input::Sam3Model: return segkit::test::data_path("sam3/model");
      case Input::Image: return data_path("server/dog.jpg");  // 800×534: the docs' points lie inside
      case Input::ImageFolder: {
        const std::string folder = dir_.file("photos");
        if (!fs::exists(folder)) {  // one image: segment-everything is the slow part of this test
          fs::create_directories(folder);
          fs::copy_file(data_path("server/dog.jpg"), folder + "/dog.jpg");
        }
        return folder;
      }
      case Input::UNetData: {
        const std::string data = dir_.file("unet-data");
        if (!fs::exists(data)) segkit::test::write_synthetic_dataset(data, 3, 40);
        return data;
      }
      case Input::UNetImage: return path(Input::UNetData) + "/images/img0.png";
      case Input::UNetImageFolder: return path(Input::UNetData) + "/images";
      case Input::UNetModel: {
        const std::string run = dir_.file("unet-run");
        if (!fs::exists(run)) {
          const CliResult r = run_cli({"unet", "train", "--data", path(Input::UNetData), "--out", run, "--epochs", "1",
                                       "--steps-per-epoch", "1", "--batch-size", "2", "--crop", "32", "--depth", "2",
                                       "--width", "4", "--quiet"});
          if (r.exit_code != 0) ADD_FAILURE() << "training the fixture U-Net failed: " << r.err;
        }
        return run + "/best.safetensors";
      }
      case Input::SemanticPred: return semantic("pred");
      case Input::SemanticGt: return semantic("gt");
      case Input::CocoGt: return data_path("metrics/coco_eval/hand_check/gt.json");
      case Input::CocoResults: return data_path("metrics/coco_eval/hand_check/results.json");
      case Input::PanopticGtJson: return data_path("metrics/panoptic/hand_check/gt.json");
      case Input::PanopticGtDir: return data_path("metrics/panoptic/hand_check/gt");
      case Input::PanopticPredJson: return data_path("metrics/panoptic/hand_check/pred.json");
      case Input::PanopticPredDir: return data_path("metrics/panoptic/hand_check/pred");
    }
    return {};
  }

 private:
  // Folders pred/ and gt/ holding one label PNG each, under the same name.
  std::string semantic(const std::string& kind) {
    const std::string root = dir_.file("semantic");
    if (!fs::exists(root)) {
      const std::string src = segkit::test::data_path("metrics/semantic/tiny_hand_check/");
      for (const char* k : {"pred", "gt"}) {
        fs::create_directories(root + "/" + k);
        fs::copy_file(src + k + "_0.png", root + "/" + k + "/0.png");
      }
    }
    return root + "/" + kind;
  }
  TempDir dir_;
};

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// The commands that take several families pick the fixture by the model the docs name:
// "facebook/sam3" (or any name with "sam3") is the tiny SAM 3.
Input model_named(Input input, const std::string& written) {
  const bool model = input == Input::SamModel || input == Input::Mask2FormerModel;
  return model && written.find("sam3") != std::string::npos ? Input::Sam3Model : input;
}

// `args` with the reader's inputs replaced by fixtures.
std::vector<std::string> substitute_inputs(std::vector<std::string> args, Fixtures& fixtures) {
  const std::vector<std::string> path = segkit::test::command_path(args);
  const std::string command = join(path);
  const segkit::test::CliHelp& help = segkit::test::cli_help(path);
  auto input_of = [&](const std::string& option) -> const InputOption* {
    std::string name = option;  // short flags count as their long name
    if (help.long_of_short.count(option)) name = help.long_of_short.at(option);
    for (const auto& in : kInputs)
      if (command == in.command && name == in.option) return &in;
    return nullptr;
  };
  for (size_t i = path.size(); i < args.size(); ++i) {
    std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      const size_t eq = a.find('=');
      const std::string name = a.substr(0, eq);
      const InputOption* in = input_of(name);
      if (eq != std::string::npos) {
        if (in) a = name + "=" + fixtures.path(model_named(in->input, a.substr(eq + 1)));
      } else if (help.options.count(name) && help.options.at(name) && i + 1 < args.size()) {
        if (in) args[i + 1] = fixtures.path(model_named(in->input, args[i + 1]));
        ++i;  // the option's value
      }
    } else if (const InputOption* in = input_of("")) {
      a = fixtures.path(model_named(in->input, a));
    }
  }
  return args;
}

// A skipped line is not run, but its options must still exist.
void check_options_exist(const std::string& where, const DocCommand& cmd) {
  const std::vector<std::string> path = segkit::test::command_path(cmd.args);
  const segkit::test::CliHelp& help = segkit::test::cli_help(path);
  if (!help.ok) {
    if (!segkit::test::cli_help({}).subcommands.count(path.at(0))) {
      std::cout << "[ doc note ] " << where << ": `segkit " << path[0] << "` is not in this build\n";
      return;
    }
    ADD_FAILURE() << where << ": `segkit " << join(path) << " --help` failed\n  " << cmd.text;
    return;
  }
  for (size_t i = path.size(); i < cmd.args.size(); ++i) {
    const std::string& a = cmd.args[i];
    if (a.size() < 2 || a[0] != '-' || std::isdigit(static_cast<unsigned char>(a[1]))) continue;
    const std::string name = a.substr(0, a.find('='));
    if (!help.options.count(name)) {
      ADD_FAILURE() << where << ": `segkit " << join(path) << "` has no option " << name << "\n  " << cmd.text;
    } else if (help.options.at(name) && a.find('=') == std::string::npos) {
      ++i;
    }
  }
}

class DocsCli : public ::testing::TestWithParam<std::string> {};

TEST_P(DocsCli, EveryCommandRuns) {
  const std::string file = GetParam();
  const std::vector<DocBlock> blocks = extract_doc_blocks(read_file(std::string(SEGKIT_SOURCE_DIR) + "/" + file));
  Fixtures fixtures;
  for (const DocBlock& block : blocks) {
    TempDir work;  // each block starts empty, as a reader following it would
    for (const DocCommand& cmd : block.commands) {
      const std::string where = file + ":" + std::to_string(cmd.line);
      if (!cmd.error.empty()) {
        ADD_FAILURE() << where << ": " << cmd.error << "\n  " << cmd.text;
        break;
      }
      if (!cmd.skip.empty()) {
        std::cout << "[ doc skip ] " << where << ": " << cmd.text << "  (" << cmd.skip << ")\n";
        RecordProperty("skipped_" + std::to_string(cmd.line), cmd.text + " (" + cmd.skip + ")");
        check_options_exist(where, cmd);
        continue;
      }
      const std::vector<std::string> args = substitute_inputs(cmd.args, fixtures);
      const CliResult r = run_cli(args, work.path());
      if (r.exit_code != 0) {
        ADD_FAILURE() << where << ": exit status " << r.exit_code << "\n  " << cmd.text << "\n  ran: segkit "
                      << join(args) << "\n  " << r.err;
        break;  // the block's later lines depend on this one
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Docs, DocsCli, ::testing::ValuesIn(doc_files()), [](const auto& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(DocsCliExtract, FindsTheDocsCommands) {
  // Guards against a test that passes because it found nothing to run.
  size_t commands = 0, runnable = 0;
  bool readme_generate = false;
  for (const std::string& file : doc_files())
    for (const DocBlock& block : extract_doc_blocks(read_file(std::string(SEGKIT_SOURCE_DIR) + "/" + file)))
      for (const DocCommand& cmd : block.commands) {
        ++commands;
        runnable += cmd.skip.empty();
        readme_generate |= file == "README.md" && !cmd.args.empty() && cmd.args[0] == "generate" && cmd.skip.empty();
      }
  EXPECT_GE(commands, 25u);
  EXPECT_GE(runnable, 15u);
  EXPECT_TRUE(readme_generate) << "the README's segment-everything examples were not found";
}

TEST(DocsCliExtract, ReadsContinuationsVariablesCommentsAndMarkers) {
  const std::string md =
      "text\n"
      "```sh\n"
      "M=tests/data/sam-tiny/hf\n"
      "# a comment line\n"
      "build/segkit embed -m $M \\\n"
      "    -i 'my photo.jpg' -o e.safetensors   # trailing comment\n"
      "scripts/setup.sh\n"
      "segkit pull org/name   # download; doc-test: skip (network)\n"
      "segkit bench --precision fp32|bf16\n"
      "segkit predict -m ${M}x --box 1,2,3,4 # doc-test: skip\n"
      "```\n"
      "```\n"
      "segkit unet train --data DIR [--val DIR]\n"
      "```\n"
      "```sh\n"
      "segkit info -m $M\n"
      "```\n";
  const std::vector<DocBlock> blocks = extract_doc_blocks(md);
  ASSERT_EQ(blocks.size(), 2u);
  ASSERT_EQ(blocks[0].commands.size(), 4u);
  const DocCommand& embed = blocks[0].commands[0];
  EXPECT_EQ(embed.line, 5);
  EXPECT_EQ(embed.args, (std::vector<std::string>{"embed", "-m", "tests/data/sam-tiny/hf", "-i", "my photo.jpg", "-o",
                                                  "e.safetensors"}));
  EXPECT_TRUE(embed.skip.empty());
  EXPECT_TRUE(embed.error.empty()) << embed.error;
  EXPECT_EQ(embed.text, "build/segkit embed -m $M -i 'my photo.jpg' -o e.safetensors");
  EXPECT_EQ(blocks[0].commands[1].skip, "network");
  EXPECT_EQ(blocks[0].commands[1].args, (std::vector<std::string>{"pull", "org/name"}));
  EXPECT_NE(blocks[0].commands[2].error.find("'|'"), std::string::npos) << blocks[0].commands[2].error;
  EXPECT_EQ(blocks[0].commands[3].args[2], "tests/data/sam-tiny/hfx");
  EXPECT_NE(blocks[0].commands[3].error.find("malformed marker"), std::string::npos);
  // Variables belong to their block.
  ASSERT_EQ(blocks[1].commands.size(), 1u);
  EXPECT_NE(blocks[1].commands[0].error.find("$M is not set"), std::string::npos) << blocks[1].commands[0].error;
}

}  // namespace
