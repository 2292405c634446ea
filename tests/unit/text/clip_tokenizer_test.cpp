// text/clip_tokenizer.h against transformers 5.17's CLIPTokenizer on SAM 3's toy vocabulary
// (tests/data/sam3, copied from ../shared/fixtures/sam3): every fixture case from both file
// forms, the padded batch, truncation, bad files and bad text.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segkit/error.h"
#include "segkit/files.h"
#include "test_util.h"
#include "text/clip_tokenizer.h"

using segkit::test::data_path;
using segkit::test::error_of;
using segkit::text::ClipBatch;
using segkit::text::ClipPadding;
using segkit::text::ClipTokenizer;
using Ids = std::vector<int64_t>;

namespace {

nlohmann::json load_json(const std::string& relative) {
  return nlohmann::json::parse(segkit::read_text_file(data_path(relative)));
}

const nlohmann::json& cases() {
  static const nlohmann::json c = load_json("sam3/tokenizer_cases.json");
  return c;
}

const ClipTokenizer& from_json() {
  static const ClipTokenizer t = ClipTokenizer::from_tokenizer_json(data_path("sam3/model/tokenizer.json"));
  return t;
}

const ClipTokenizer& from_pair() {
  static const ClipTokenizer t =
      ClipTokenizer::from_vocab_merges(data_path("sam3/vocab.json"), data_path("sam3/merges.txt"));
  return t;
}

int64_t id_of(const std::string& token) {
  static const nlohmann::json vocab = load_json("sam3/vocab.json");
  return vocab.at(token).get<int64_t>();
}

// tokenizer.json with one change, for the error cases.
std::string tokenizer_json_with(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = load_json("sam3/model/tokenizer.json");
  edit(j);
  return j.dump();
}

std::string load_error(const std::function<void(nlohmann::json&)>& edit) {
  return error_of([&] { ClipTokenizer::from_tokenizer_json_text(tokenizer_json_with(edit), "tokenizer.json"); });
}

std::string pair_error(const std::string& vocab, const std::string& merges) {
  return error_of([&] { ClipTokenizer::from_vocab_merges_text(vocab, merges, "vocab.json", "merges.txt"); });
}

}  // namespace

TEST(ClipTokenizer, EveryFixtureCaseFromBothFileForms) {
  ASSERT_EQ(cases()["cases"].size(), 17u);
  for (const ClipTokenizer* t : {&from_json(), &from_pair()}) {
    EXPECT_EQ(t->sot_id(), cases()["sot_id"].get<int64_t>());
    EXPECT_EQ(t->eot_id(), cases()["eot_id"].get<int64_t>());
    EXPECT_EQ(t->pad_id(), t->eot_id());
    for (const auto& c : cases()["cases"]) {
      const std::string text = c["text"].get<std::string>();
      EXPECT_EQ(t->encode(text), c["ids"].get<Ids>()) << t->source() << ": " << text;
      const ClipBatch b = t->encode_padded({text}, {cases()["max_length"].get<int>(), false});
      EXPECT_EQ(b.batch, 1);
      EXPECT_EQ(b.input_ids, c["input_ids"].get<Ids>()) << text;
      EXPECT_EQ(b.attention_mask, c["attention_mask"].get<Ids>()) << text;
      EXPECT_FALSE(b.any_truncated());
    }
  }
}

TEST(ClipTokenizer, TheFixtureBatch) {
  const auto& batch = cases()["batch"];
  const ClipBatch b = from_json().encode_padded(batch["texts"].get<std::vector<std::string>>());
  ASSERT_EQ(b.batch, 4);
  ASSERT_EQ(b.length, 32);
  Ids ids, mask;
  for (const auto& row : batch["input_ids"]) for (int64_t v : row.get<Ids>()) ids.push_back(v);
  for (const auto& row : batch["attention_mask"]) for (int64_t v : row.get<Ids>()) mask.push_back(v);
  EXPECT_EQ(b.input_ids, ids);
  EXPECT_EQ(b.attention_mask, mask);
  EXPECT_EQ(b.truncated, std::vector<bool>(4, false));
}

TEST(ClipTokenizer, MergesWrittenAsStringsReadTheSame) {
  const ClipTokenizer t = ClipTokenizer::from_tokenizer_json_text(tokenizer_json_with([](nlohmann::json& j) {
    for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  }), "tokenizer.json");
  for (const auto& c : cases()["cases"])
    EXPECT_EQ(t.encode(c["text"].get<std::string>()), c["ids"].get<Ids>()) << c["text"];
  // merges.txt without its #version line, with Windows line ends.
  const std::string merges = segkit::read_text_file(data_path("sam3/merges.txt"));
  std::string crlf;
  for (char ch : merges.substr(merges.find('\n') + 1)) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  const ClipTokenizer p = ClipTokenizer::from_vocab_merges_text(segkit::read_text_file(data_path("sam3/vocab.json")), crlf,
                                                                "vocab.json", "merges.txt");
  for (const auto& c : cases()["cases"])
    EXPECT_EQ(p.encode(c["text"].get<std::string>()), c["ids"].get<Ids>()) << c["text"];
}

TEST(ClipTokenizer, FromFolderPrefersTokenizerJson) {
  segkit::test::TempDir dir;
  EXPECT_EQ(error_of([&] { ClipTokenizer::from_folder(dir.path()); }),
            dir.path() + ": no tokenizer.json, nor vocab.json with merges.txt (the CLIP tokenizer)");
  for (const char* f : {"vocab.json", "merges.txt"})
    std::ofstream(dir.file(f), std::ios::binary) << segkit::read_text_file(data_path(std::string("sam3/") + f));
  EXPECT_EQ(ClipTokenizer::from_folder(dir.path()).source(), dir.file("vocab.json") + " + " + dir.file("merges.txt"));
  std::ofstream(dir.file("tokenizer.json"), std::ios::binary) << segkit::read_text_file(data_path("sam3/model/tokenizer.json"));
  const ClipTokenizer t = ClipTokenizer::from_folder(dir.path());
  EXPECT_EQ(t.source(), dir.file("tokenizer.json"));
  EXPECT_EQ(t.encode("yellow truck"), (Ids{592, 535, 524, 593}));
}

// Answers that follow from the pipeline itself, beyond the fixture's strings.
TEST(ClipTokenizer, HandWrittenCases) {
  const ClipTokenizer& t = from_json();
  const Ids yellow_truck = t.encode("yellow truck");
  EXPECT_EQ(yellow_truck, (Ids{592, id_of("yellow</w>"), id_of("truck</w>"), 593}));
  // Whitespace of any kind and length is one separator, and none at the ends.
  for (const char* s : {"yellow   truck", " yellow truck ", "\tyellow\n\ntruck\r\n", "yellow\xc2\xa0truck",
                        "yellow\xe3\x80\x80truck", "yellow\xe2\x80\xa8truck"})
    EXPECT_EQ(t.encode(s), yellow_truck) << s;
  // Case does not matter, nor does the composition of accents.
  EXPECT_EQ(t.encode("YELLOW Truck"), yellow_truck);
  EXPECT_EQ(t.encode("Caf\xc3\x89"), t.encode("caf\xc3\xa9"));   // É → é
  EXPECT_EQ(t.encode("cafe\xcc\x81"), t.encode("caf\xc3\xa9"));  // e + U+0301 → é
  // Nothing but whitespace is the empty phrase.
  EXPECT_EQ(t.encode(" \t\n"), (Ids{592, 593}));
  // One digit per piece, each a word of its own; punctuation runs stay together.
  EXPECT_EQ(t.encode("12"), (Ids{592, id_of("1</w>"), id_of("2</w>"), 593}));
  EXPECT_EQ(t.encode("dog!?"), (Ids{592, id_of("dog</w>"), id_of("!"), id_of("?</w>"), 593}));
  // The specials in the raw text are those tokens (transformers splits added tokens out first).
  EXPECT_EQ(t.encode("<|endoftext|>"), (Ids{592, 593, 593}));
  EXPECT_EQ(t.encode("dog<|startoftext|>truck"), (Ids{592, id_of("dog</w>"), 592, id_of("truck</w>"), 593}));
  // Both file forms agree beyond the fixture too.
  for (const char* s : {"12", "dog!?", "<|endoftext|>", "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb6 na\xc3\xafve"})
    EXPECT_EQ(from_pair().encode(s), t.encode(s)) << s;
}

TEST(ClipTokenizer, OverLongTextIsRefusedOrTruncatedOnRequest) {
  const ClipTokenizer& t = from_json();
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "truck ";
  EXPECT_EQ(t.encode(forty).size(), 42u);  // encode itself has no limit
  EXPECT_EQ(error_of([&] { t.encode_padded({"dog", forty}); }),
            "text 2: is 42 tokens with <|startoftext|> and <|endoftext|>, more than the 32 the text model takes "
            "(shorten it, or allow truncation)");
  const ClipBatch b = t.encode_padded({"dog", forty}, {32, true});
  EXPECT_EQ(b.truncated, (std::vector<bool>{false, true}));
  EXPECT_TRUE(b.any_truncated());
  Ids row(b.input_ids.begin() + 32, b.input_ids.end());
  Ids expected(32, id_of("truck</w>"));
  expected.front() = 592;
  expected.back() = 593;  // the final <|endoftext|> is kept
  EXPECT_EQ(row, expected);
  EXPECT_EQ(Ids(b.attention_mask.begin() + 32, b.attention_mask.end()), Ids(32, 1));
  // Exactly max_length fits without truncation.
  std::string thirty;
  for (int i = 0; i < 30; ++i) thirty += "truck ";
  EXPECT_FALSE(t.encode_padded({thirty}).any_truncated());
  EXPECT_EQ(t.encode_padded({}).batch, 0);
  EXPECT_EQ(error_of([&] { t.encode_padded({"dog"}, {1, true}); }),
            "max_length: 1 leaves no room for <|startoftext|> and <|endoftext|>");
}

TEST(ClipTokenizer, InvalidUtf8IsOneLineError) {
  const ClipTokenizer& t = from_json();
  EXPECT_EQ(error_of([&] { t.encode("truck\xff"); }), "text: invalid UTF-8 at byte 5 (0xFF)");
  EXPECT_EQ(error_of([&] { t.encode("\xc3"); }), "text: invalid UTF-8 at byte 0 (0xC3)");
  EXPECT_EQ(error_of([&] { t.encode("a\xed\xa0\x80", "--text"); }), "--text: invalid UTF-8 at byte 1 (0xED)");
  EXPECT_EQ(error_of([&] { t.encode_padded({"dog", "ok", "bad \xc0\xaf"}); }), "text 3: invalid UTF-8 at byte 4 (0xC0)");
}

TEST(ClipTokenizer, VocabularySizeCheck) {
  EXPECT_EQ(from_json().vocab_size(), 594);
  EXPECT_EQ(from_pair().vocab_size(), 594);
  from_json().require_vocab_size(594, "config.json");
  EXPECT_EQ(error_of([] { from_json().require_vocab_size(49408, "config.json"); }),
            "config.json: its text embedding has 49408 rows but the tokenizer (" + data_path("sam3/model/tokenizer.json") +
                ") has 594 tokens");
}

TEST(ClipTokenizer, MalformedTokenizerJsonIsOneLineErrorNamingTheFile) {
  EXPECT_EQ(error_of([] { ClipTokenizer::from_tokenizer_json(data_path("sam3/missing.json")); }).rfind(
                data_path("sam3/missing.json") + ": ", 0), 0u);
  EXPECT_EQ(error_of([] { ClipTokenizer::from_tokenizer_json_text("{\"model\": ", "tokenizer.json"); }).rfind(
                "tokenizer.json: malformed JSON", 0), 0u);
  EXPECT_EQ(error_of([] { ClipTokenizer::from_tokenizer_json_text("[1]", "tokenizer.json"); }),
            "tokenizer.json: not a JSON object");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j.erase("model"); }),
            "tokenizer.json: \"model\" is missing (the BPE vocabulary and merges)");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"].erase("vocab"); }), "tokenizer.json: \"model.vocab\" is missing");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"].erase("merges"); }), "tokenizer.json: \"model.merges\" is missing");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["type"] = "WordPiece"; }),
            "tokenizer.json: model.type is \"WordPiece\"; CLIP's tokenizer is \"BPE\"");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["merges"].push_back({"zz", "q"}); }),
            "tokenizer.json model.merges[80] \"zz q\": \"zz\" is not in the vocabulary");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["merges"].push_back({"q", "z"}); }),
            "tokenizer.json model.merges[80] \"q z\": the merged symbol \"qz\" is not in the vocabulary");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["merges"].push_back("q"); }),
            "tokenizer.json: model.merges[80] \"q\" is not two symbols separated by a space");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["vocab"]["zz"] = 5; }),
            "tokenizer.json model.vocab: tokens \"&\" and \"zz\" share id 5");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["vocab"]["zz"] = -1; }),
            "tokenizer.json model.vocab: the id of token \"zz\" must be an integer id in [0, 2^31), not -1");
  EXPECT_EQ(load_error([](nlohmann::json& j) {
              j["model"]["vocab"].erase("<|startoftext|>");
              j["added_tokens"].erase(0);
            }),
            "tokenizer.json: <|startoftext|> is not in the vocabulary");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["added_tokens"][1]["id"] = 7; }),
            "tokenizer.json added_tokens[1]: \"<|endoftext|>\" has id 7 but model.vocab gives it 593");
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["normalizer"] = nullptr; }),
            "tokenizer.json: \"normalizer\" is missing; segkit implements CLIP's (NFC, \\s+ to a space, lowercase)");
  EXPECT_NE(load_error([](nlohmann::json& j) { j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true; })
                .find("tokenizer.json: \"pre_tokenizer\" is {"),
            std::string::npos);
  EXPECT_NE(load_error([](nlohmann::json& j) { j["post_processor"]["cls"][1] = 3; }).find("tokenizer.json: \"post_processor\" is"),
            std::string::npos);
  EXPECT_EQ(load_error([](nlohmann::json& j) { j["model"]["dropout"] = 0.1; }),
            "tokenizer.json: \"model.dropout\" must be null (segkit tokenizes deterministically)");
}

TEST(ClipTokenizer, MalformedVocabAndMergesAreOneLineErrorsNamingTheFile) {
  const std::string vocab = segkit::read_text_file(data_path("sam3/vocab.json"));
  const std::string merges = segkit::read_text_file(data_path("sam3/merges.txt"));
  EXPECT_EQ(pair_error("not json", merges).rfind("vocab.json: malformed JSON", 0), 0u);
  EXPECT_EQ(pair_error("[]", merges), "vocab.json: the vocabulary must be an object of token: id");
  EXPECT_EQ(pair_error("{}", merges), "vocab.json: the vocabulary is empty");
  EXPECT_EQ(pair_error("{\"a\": 0, \"b\": 0}", merges), "vocab.json: tokens \"a\" and \"b\" share id 0");
  EXPECT_EQ(pair_error("{\"a\": \"0\"}", merges), "vocab.json: the id of token \"a\" must be an integer id in [0, 2^31), not \"0\"");
  nlohmann::json no_sot = nlohmann::json::parse(vocab);
  no_sot.erase("<|startoftext|>");
  EXPECT_EQ(pair_error(no_sot.dump(), merges), "vocab.json: <|startoftext|> is not in the vocabulary");
  EXPECT_EQ(pair_error(vocab, merges + "zz q\n"), "merges.txt line 82: \"zz\" is not in vocab.json");
  EXPECT_EQ(pair_error(vocab, merges + "q z\n"), "merges.txt line 82: the merged symbol \"qz\" is not in vocab.json");
  EXPECT_EQ(pair_error(vocab, merges + "a b c\n"), "merges.txt line 82: \"a b c\" is not two symbols separated by a space");
  EXPECT_EQ(pair_error(vocab, merges + "\nt r\n"), "merges.txt line 82: \"\" is not two symbols separated by a space");
  EXPECT_EQ(error_of([] { ClipTokenizer::from_vocab_merges(data_path("sam3/vocab.json"), data_path("sam3/nope.txt")); })
                .rfind(data_path("sam3/nope.txt") + ": ", 0),
            0u);
}
