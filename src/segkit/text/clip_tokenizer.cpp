#include "text/clip_tokenizer.h"

#include <algorithm>
#include <functional>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_set>

#include "core/json_fields.h"
#include "core/json_read.h"
#include "segkit/error.h"
#include "segkit/files.h"
#include "text/unicode.h"

namespace segkit::text {

namespace {

using nlohmann::json;

constexpr char kSot[] = "<|startoftext|>";
constexpr char kEot[] = "<|endoftext|>";
constexpr char kClipSplit[] =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
constexpr int64_t kMaxId = (int64_t(1) << 31) - 1;
constexpr size_t kCacheEntries = 1 << 16;  // words; cleared when full so memory stays bounded
constexpr size_t kCacheWordBytes = 256;    // longer words are not cached

JsonLimits tokenizer_limits() {
  JsonLimits l;
  l.max_depth = 64;
  l.max_bytes = size_t(256) << 20;  // CLIP's tokenizer.json is 3.6 MB; large vocabularies reach 30
  return l;
}

std::string short_dump(const json& j) {
  std::string s = j.dump(-1, ' ', true, json::error_handler_t::replace);
  return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}

std::string json_quoted(const std::string& s) { return short_dump(json(s)); }

// GPT-2's reversible map from bytes to printable code points: printable Latin-1 bytes stand for
// themselves, the rest (controls, space, DEL, NBSP, soft hyphen) move to U+0100 onwards.
char32_t byte_symbol(int b) {
  auto printable = [](int x) { return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF); };
  if (printable(b)) return static_cast<char32_t>(b);
  int n = 0;
  for (int x = 0; x < b; ++x)
    if (!printable(x)) ++n;
  return static_cast<char32_t>(256 + n);
}

const std::string& byte_symbol_utf8(int b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    for (int x = 0; x < 256; ++x) append_utf8(t[x], byte_symbol(x));
    return t;
  }();
  return table[b];
}

const json* field(const json& j, const char* key) { return json_field(&j, key); }

bool has_type(const json* j, const char* type) {
  const json* t = j ? field(*j, "type") : nullptr;
  return t && t->is_string() && t->get<std::string>() == type;
}

bool is_string(const json* j, const std::string& value) {
  return j && j->is_string() && j->get<std::string>() == value;
}

bool bool_or(const json* j, bool fallback, const std::string& context, const char* key) {
  if (!j) return fallback;
  if (!j->is_boolean()) fail(context, std::string("\"") + key + "\" must be true or false");
  return j->get<bool>();
}

int32_t read_id(const json& v, const std::string& context, const std::string& what) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxId)
    fail(context, what + " must be an integer id in [0, 2^31), not " + short_dump(v));
  return static_cast<int32_t>(v.get<int64_t>());
}

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

// Vocabulary object token → id; ids must be distinct.
std::unordered_map<std::string, int32_t> read_vocab(const json& vocab, const std::string& context) {
  if (!vocab.is_object()) fail(context, "the vocabulary must be an object of token: id");
  if (vocab.empty()) fail(context, "the vocabulary is empty");
  std::unordered_map<std::string, int32_t> out;
  std::unordered_map<int32_t, std::string> by_id;
  out.reserve(vocab.size());
  for (const auto& [token, value] : vocab.items()) {
    const int32_t id = read_id(value, context, "the id of token " + json_quoted(token));
    if (token.empty()) fail(context, "the vocabulary has an empty token");
    auto [it, fresh] = by_id.emplace(id, token);
    if (!fresh) fail(context, "tokens " + json_quoted(it->second) + " and " + json_quoted(token) + " share id " + std::to_string(id));
    out.emplace(token, id);
  }
  return out;
}

// "a b" → (a, b): exactly one space between two non-empty symbols.
bool split_merge(const std::string& line, std::string& a, std::string& b) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 >= line.size()) return false;
  if (line.find(' ', space + 1) != std::string::npos) return false;
  a = line.substr(0, space);
  b = line.substr(space + 1);
  return true;
}

}  // namespace

struct ClipTokenizer::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>> words;
};

bool ClipBatch::any_truncated() const { return std::find(truncated.begin(), truncated.end(), true) != truncated.end(); }

ClipTokenizer::ClipTokenizer() : cache_(std::make_unique<Cache>()) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

namespace {

// The merges as pairs of symbols, from "a b" strings or [a, b] arrays.
std::vector<std::pair<std::string, std::string>> read_json_merges(const json& merges, const std::string& context) {
  if (!merges.is_array()) fail(context, "\"model.merges\" must be a list");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::string a, b;
    if (m.is_string()) {
      if (!split_merge(m.get<std::string>(), a, b))
        fail(context, "model.merges[" + std::to_string(i) + "] " + short_dump(m) + " is not two symbols separated by a space");
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string() && !m[0].get<std::string>().empty() &&
               !m[1].get<std::string>().empty()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      fail(context, "model.merges[" + std::to_string(i) + "] " + short_dump(m) + " must be \"a b\" or [\"a\", \"b\"]");
    }
    out.emplace_back(std::move(a), std::move(b));
  }
  return out;
}

void check_clip_pipeline(const json& root, const std::string& context, bool& use_regex) {
  const json* norm = field(root, "normalizer");
  const json* parts = norm ? field(*norm, "normalizers") : nullptr;
  const bool norm_ok = has_type(norm, "Sequence") && parts && parts->is_array() && parts->size() == 3 &&
                       has_type(&(*parts)[0], "NFC") && has_type(&(*parts)[1], "Replace") &&
                       has_type(&(*parts)[2], "Lowercase") && is_string(field((*parts)[1], "content"), " ") &&
                       field((*parts)[1], "pattern") && is_string(field(*field((*parts)[1], "pattern"), "Regex"), "\\s+");
  if (!norm_ok)
    fail(context, "\"normalizer\" is " + (norm ? short_dump(*norm) : std::string("missing")) +
                      "; segkit implements CLIP's (NFC, \\s+ to a space, lowercase)");

  const json* pre = field(root, "pre_tokenizer");
  const json* steps = pre ? field(*pre, "pretokenizers") : nullptr;
  bool pre_ok = has_type(pre, "Sequence") && steps && steps->is_array() && steps->size() == 2 &&
                has_type(&(*steps)[0], "Split") && has_type(&(*steps)[1], "ByteLevel");
  if (pre_ok) {
    const json& split = (*steps)[0];
    const json& byte_level = (*steps)[1];
    const json* pattern = field(split, "pattern");
    const json* invert = field(split, "invert");
    const json* prefix = field(byte_level, "add_prefix_space");
    const json* regex = field(byte_level, "use_regex");
    pre_ok = pattern && is_string(field(*pattern, "Regex"), kClipSplit) && is_string(field(split, "behavior"), "Removed") &&
             invert && invert->is_boolean() && invert->get<bool>() && prefix && prefix->is_boolean() && !prefix->get<bool>() &&
             (!regex || regex->is_boolean());
    use_regex = !regex || regex->get<bool>();
  }
  if (!pre_ok)
    fail(context, "\"pre_tokenizer\" is " + (pre ? short_dump(*pre) : std::string("missing")) +
                      "; segkit implements CLIP's (its Split regex, then ByteLevel without a prefix space)");
}

}  // namespace

ClipTokenizer ClipTokenizer::from_tokenizer_json_text(const std::string& text, const std::string& context) {
  const json root = parse_json(text, context, tokenizer_limits());
  if (!root.is_object()) fail(context, "not a JSON object");
  const json* model = field(root, "model");
  if (!model || !model->is_object()) fail(context, "\"model\" is missing (the BPE vocabulary and merges)");
  if (const json* type = field(*model, "type"))
    if (!is_string(type, "BPE")) fail(context, "model.type is " + short_dump(*type) + "; CLIP's tokenizer is \"BPE\"");
  const json* vocab = field(*model, "vocab");
  if (!vocab) fail(context, "\"model.vocab\" is missing");
  const json* merges = field(*model, "merges");
  if (!merges) fail(context, "\"model.merges\" is missing");

  ClipTokenizer t;
  t.source_ = context;
  t.vocab_ = read_vocab(*vocab, context + " model.vocab");
  const auto merge_list = read_json_merges(*merges, context);

  if (const json* v = field(*model, "end_of_word_suffix")) {
    if (!v->is_string()) fail(context, "\"model.end_of_word_suffix\" must be a string or null");
    t.end_of_word_suffix_ = v->get<std::string>();
  }
  if (const json* v = field(*model, "continuing_subword_prefix"))
    if (!is_string(v, "")) fail(context, "\"model.continuing_subword_prefix\" must be empty (CLIP has none)");
  if (const json* v = field(*model, "dropout"))
    if (!v->is_number() || v->get<double>() != 0.0) fail(context, "\"model.dropout\" must be null (segkit tokenizes deterministically)");
  if (bool_or(field(*model, "byte_fallback"), false, context, "model.byte_fallback"))
    fail(context, "\"model.byte_fallback\" true is not supported (CLIP has every byte in its vocabulary)");
  t.fuse_unk_ = bool_or(field(*model, "fuse_unk"), false, context, "model.fuse_unk");
  t.ignore_merges_ = bool_or(field(*model, "ignore_merges"), false, context, "model.ignore_merges");
  if (const json* v = field(*model, "unk_token")) {
    if (!v->is_string()) fail(context, "\"model.unk_token\" must be a string or null");
    t.unk_token_ = v->get<std::string>();
  }

  if (const json* added = field(root, "added_tokens")) {
    if (!added->is_array()) fail(context, "\"added_tokens\" must be a list");
    std::unordered_set<int32_t> vocab_ids;
    for (const auto& entry : t.vocab_) vocab_ids.insert(entry.second);
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      const std::string where = context + " added_tokens[" + std::to_string(i) + "]";
      const json* content = field(a, "content");
      const json* id = field(a, "id");
      if (!content || !content->is_string() || content->get<std::string>().empty() || !id)
        fail(where, "needs a non-empty \"content\" and an \"id\"");
      if (bool_or(field(a, "single_word"), false, where, "single_word"))
        fail(where, "\"single_word\" true is not supported");
      AddedToken tok{content->get<std::string>(), read_id(*id, where, "\"id\""),
                     bool_or(field(a, "normalized"), false, where, "normalized")};
      decode_utf8(tok.content, where + " content");
      auto it = t.vocab_.find(tok.content);
      if (it != t.vocab_.end() && it->second != tok.id)
        fail(where, json_quoted(tok.content) + " has id " + std::to_string(tok.id) + " but model.vocab gives it " +
                        std::to_string(it->second));
      for (const AddedToken& other : t.added_)
        if (other.id == tok.id && other.content != tok.content)
          fail(where, json_quoted(tok.content) + " and " + json_quoted(other.content) + " share id " + std::to_string(tok.id));
      if (it == t.vocab_.end()) {
        if (!vocab_ids.insert(tok.id).second)
          fail(where, json_quoted(tok.content) + " has id " + std::to_string(tok.id) + ", which model.vocab gives to another token");
        t.vocab_.emplace(tok.content, tok.id);
      }
      t.added_.push_back(std::move(tok));
    }
  }

  check_clip_pipeline(root, context, t.split_special_literals_);

  // Merges: both symbols and their concatenation must be tokens; a later duplicate wins, as in
  // the tokenizers library's map.
  for (size_t i = 0; i < merge_list.size(); ++i) {
    const auto& [a, b] = merge_list[i];
    auto ia = t.vocab_.find(a), ib = t.vocab_.find(b), im = t.vocab_.find(a + b);
    const std::string where = context + " model.merges[" + std::to_string(i) + "] " + json_quoted(a + " " + b);
    if (ia == t.vocab_.end()) fail(where, json_quoted(a) + " is not in the vocabulary");
    if (ib == t.vocab_.end()) fail(where, json_quoted(b) + " is not in the vocabulary");
    if (im == t.vocab_.end()) fail(where, "the merged symbol " + json_quoted(a + b) + " is not in the vocabulary");
    t.merges_[pair_key(ia->second, ib->second)] = {static_cast<uint32_t>(i), im->second};
  }

  t.finish(context);
  const json* post = field(root, "post_processor");
  const json* cls = post ? field(*post, "cls") : nullptr;
  const json* sep = post ? field(*post, "sep") : nullptr;
  auto special_is = [&](const json* s, const char* name, int32_t id) {
    return s && s->is_array() && s->size() == 2 && is_string(&(*s)[0], name) && (*s)[1].is_number_integer() &&
           (*s)[1].get<int64_t>() == id;
  };
  if (!has_type(post, "RobertaProcessing") || !special_is(cls, kSot, t.sot_id_) || !special_is(sep, kEot, t.eot_id_))
    fail(context, "\"post_processor\" is " + (post ? short_dump(*post) : std::string("missing")) +
                      "; segkit implements CLIP's (RobertaProcessing with " + kSot + " " + std::to_string(t.sot_id_) +
                      " and " + kEot + " " + std::to_string(t.eot_id_) + ")");
  return t;
}

ClipTokenizer ClipTokenizer::from_tokenizer_json(const std::string& path) {
  return from_tokenizer_json_text(read_text_file(path), path);
}

ClipTokenizer ClipTokenizer::from_vocab_merges_text(const std::string& vocab_json, const std::string& merges_txt,
                                                    const std::string& vocab_context, const std::string& merges_context) {
  const json vocab = parse_json(vocab_json, vocab_context, tokenizer_limits());
  ClipTokenizer t;
  t.source_ = vocab_context + " + " + merges_context;
  t.vocab_ = read_vocab(vocab, vocab_context);
  // As transformers' CLIPTokenizer: "</w>" ends a word, <|endoftext|> is also unknown and
  // padding, and both specials are matched on the raw text.
  t.end_of_word_suffix_ = "</w>";
  t.unk_token_ = kEot;
  for (const char* special : {kSot, kEot}) {
    auto it = t.vocab_.find(special);
    if (it == t.vocab_.end()) fail(vocab_context, std::string(special) + " is not in the vocabulary");
    t.added_.push_back({special, it->second, false});
  }

  size_t line_no = 0, rank = 0;
  for (size_t pos = 0; pos <= merges_txt.size();) {
    size_t end = merges_txt.find('\n', pos);
    if (end == std::string::npos) end = merges_txt.size();
    std::string line = merges_txt.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() && pos > merges_txt.size()) break;  // the final newline
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    const std::string where = merges_context + " line " + std::to_string(line_no);
    std::string a, b;
    if (!split_merge(line, a, b)) fail(where, json_quoted(line) + " is not two symbols separated by a space");
    auto ia = t.vocab_.find(a), ib = t.vocab_.find(b), im = t.vocab_.find(a + b);
    if (ia == t.vocab_.end()) fail(where, json_quoted(a) + " is not in " + vocab_context);
    if (ib == t.vocab_.end()) fail(where, json_quoted(b) + " is not in " + vocab_context);
    if (im == t.vocab_.end()) fail(where, "the merged symbol " + json_quoted(a + b) + " is not in " + vocab_context);
    t.merges_[pair_key(ia->second, ib->second)] = {static_cast<uint32_t>(rank++), im->second};
  }
  t.finish(t.source_);
  return t;
}

ClipTokenizer ClipTokenizer::from_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
  return from_vocab_merges_text(read_text_file(vocab_path), read_text_file(merges_path), vocab_path, merges_path);
}

ClipTokenizer ClipTokenizer::from_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  std::error_code ec;
  if (fs::is_regular_file(root / "tokenizer.json", ec)) return from_tokenizer_json((root / "tokenizer.json").string());
  if (fs::is_regular_file(root / "vocab.json", ec) && fs::is_regular_file(root / "merges.txt", ec))
    return from_vocab_merges((root / "vocab.json").string(), (root / "merges.txt").string());
  fail(dir, "no tokenizer.json, nor vocab.json with merges.txt (the CLIP tokenizer)");
}

void ClipTokenizer::finish(const std::string& context) {
  auto find = [&](const char* name) {
    auto it = vocab_.find(name);
    if (it == vocab_.end()) fail(context, std::string(name) + " is not in the vocabulary");
    return it->second;
  };
  sot_id_ = find(kSot);
  eot_id_ = find(kEot);
  if (!unk_token_.empty()) {
    auto it = vocab_.find(unk_token_);
    if (it == vocab_.end()) fail(context, "the unknown token " + json_quoted(unk_token_) + " is not in the vocabulary");
    unk_id_ = it->second;
  }
  int32_t max_id = 0;
  for (const auto& [token, id] : vocab_) max_id = std::max(max_id, id);
  vocab_size_ = int64_t(max_id) + 1;
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(byte_symbol_utf8(b));
    byte_id_[b] = it == vocab_.end() ? -1 : it->second;
    it = vocab_.find(byte_symbol_utf8(b) + end_of_word_suffix_);
    byte_end_id_[b] = it == vocab_.end() ? -1 : it->second;
  }
  // Longest first, so that at one position the longest added token wins.
  std::stable_sort(added_.begin(), added_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
}

void ClipTokenizer::require_vocab_size(int64_t embedding_rows, const std::string& model_context) const {
  if (embedding_rows != vocab_size_)
    fail(model_context, "its text embedding has " + std::to_string(embedding_rows) + " rows but the tokenizer (" + source_ +
                            ") has " + std::to_string(vocab_size_) + " tokens");
}

// Cuts `text` at the added tokens of one kind, leftmost first, longest at a position.
void ClipTokenizer::split_added(const std::string& text, bool normalized,
                                std::vector<std::pair<std::string, int32_t>>& out) const {
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* hit = nullptr;
    for (const AddedToken& a : added_)
      if (a.normalized == normalized && text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > start) out.emplace_back(text.substr(start, i - start), -1);
    out.emplace_back(std::string(), hit->id);
    i += hit->content.size();
    start = i;
  }
  if (start < text.size()) out.emplace_back(text.substr(start), -1);
}

// CLIP's split regex over normalized text, each piece then through BPE.
void ClipTokenizer::encode_words(const std::string& normalized, std::vector<int32_t>& ids) const {
  const std::vector<char32_t> s = decode_utf8(normalized, "text");
  const size_t n = s.size();
  auto at = [&](size_t i, const char* literal) {
    for (size_t k = 0; literal[k]; ++k)
      if (i + k >= n || s[i + k] != static_cast<char32_t>(literal[k])) return false;
    return true;
  };
  auto word = [&](size_t from, size_t to) {
    std::vector<char32_t> piece(s.begin() + from, s.begin() + to);
    bpe(encode_utf8(piece), ids);
  };
  for (size_t i = 0; i < n;) {
    const char32_t c = s[i];
    if (is_whitespace(c)) {
      ++i;
      continue;
    }
    bool special = false;
    for (const char* name : {"startoftext", "endoftext"}) {
      const std::string literal = std::string("<|") + name + "|>";
      if (!at(i, literal.c_str())) continue;
      if (split_special_literals_) {  // GPT-2's regex inside ByteLevel: "<|", the name, "|>"
        const size_t len = literal.size();
        word(i, i + 2);
        word(i + 2, i + len - 2);
        word(i + len - 2, i + len);
      } else {
        word(i, i + literal.size());
      }
      i += literal.size();
      special = true;
      break;
    }
    if (special) continue;
    size_t j = i + 1;
    if (c == '\'' && (at(i + 1, "s") || at(i + 1, "t") || at(i + 1, "m") || at(i + 1, "d"))) {
      j = i + 2;
    } else if (c == '\'' && (at(i + 1, "re") || at(i + 1, "ve") || at(i + 1, "ll"))) {
      j = i + 3;
    } else if (is_letter(c)) {
      while (j < n && is_letter(s[j])) ++j;
    } else if (is_number(c)) {
      // one digit per piece
    } else {
      while (j < n && !is_whitespace(s[j]) && !is_letter(s[j]) && !is_number(s[j])) ++j;
    }
    word(i, j);
    i = j;
  }
}

// Byte-level BPE of one word, merging the lowest-ranked pair first and, among equal ranks, the
// leftmost (the tokenizers library's order).
void ClipTokenizer::bpe(const std::string& word, std::vector<int32_t>& ids) const {
  const bool cacheable = word.size() <= kCacheWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> out;
  if (ignore_merges_) {
    std::string symbols;
    for (unsigned char b : word) symbols += byte_symbol_utf8(b);
    auto it = vocab_.find(symbols);
    if (it != vocab_.end()) out.push_back(it->second);
  }
  if (out.empty()) {
    struct Symbol {
      int32_t id;
      int prev, next;
      bool alive;
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    bool pending_unk = false;
    auto push = [&](int32_t id) {
      sym.push_back({id, static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1, true});
    };
    for (size_t k = 0; k < word.size(); ++k) {
      const unsigned char b = static_cast<unsigned char>(word[k]);
      const int32_t id = k + 1 == word.size() ? byte_end_id_[b] : byte_id_[b];
      if (id >= 0) {
        if (pending_unk) push(unk_id_);
        pending_unk = false;
        push(id);
      } else if (unk_id_ >= 0) {
        if (pending_unk && !fuse_unk_) push(unk_id_);
        pending_unk = true;
      }
    }
    if (pending_unk) push(unk_id_);
    if (!sym.empty()) sym.back().next = -1;

    struct Candidate {
      uint32_t rank;
      int pos;
      int32_t new_id;
      bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto offer = [&](int pos) {
      const int next = sym[pos].next;
      if (next < 0) return;
      auto it = merges_.find(pair_key(sym[pos].id, sym[next].id));
      if (it != merges_.end()) queue.push({it->second.first, pos, it->second.second});
    };
    for (int p = 0; p + 1 < static_cast<int>(sym.size()); ++p) offer(p);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = sym[top.pos];
      if (!left.alive || left.next < 0) continue;
      // A stale entry: the pair at this position changed since it was queued.
      auto it = merges_.find(pair_key(left.id, sym[left.next].id));
      if (it == merges_.end() || it->second.second != top.new_id) continue;
      Symbol& right = sym[left.next];
      left.id = top.new_id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) sym[right.next].prev = top.pos;
      if (left.prev >= 0) offer(left.prev);
      offer(top.pos);
    }
    for (const Symbol& s : sym)
      if (s.alive) out.push_back(s.id);
  }
  ids.insert(ids.end(), out.begin(), out.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() >= kCacheEntries) cache_->words.clear();
    cache_->words.emplace(word, std::move(out));
  }
}

std::vector<int64_t> ClipTokenizer::encode_content(const std::string& text, const std::string& context) const {
  decode_utf8(text, context);  // refuses bad bytes before anything else
  std::vector<std::pair<std::string, int32_t>> raw;
  split_added(text, false, raw);
  std::vector<int32_t> ids;
  for (const auto& [segment, id] : raw) {
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    // NFC, then every run of White_Space to one space, then lowercase.
    const std::vector<char32_t> composed = nfc(decode_utf8(segment, context));
    std::vector<char32_t> norm;
    norm.reserve(composed.size());
    for (size_t i = 0; i < composed.size(); ++i) {
      if (is_whitespace(composed[i])) {
        if (i == 0 || !is_whitespace(composed[i - 1])) norm.push_back(' ');
        continue;
      }
      append_lowercase(norm, composed[i]);
    }
    std::vector<std::pair<std::string, int32_t>> pieces;
    split_added(encode_utf8(norm), true, pieces);
    for (const auto& [piece, pid] : pieces) {
      if (pid >= 0)
        ids.push_back(pid);
      else
        encode_words(piece, ids);
    }
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text, const std::string& context) const {
  std::vector<int64_t> ids = encode_content(text, context);
  ids.insert(ids.begin(), sot_id_);
  ids.push_back(eot_id_);
  return ids;
}

ClipBatch ClipTokenizer::encode_padded(const std::vector<std::string>& texts, const ClipPadding& padding) const {
  if (padding.max_length < 2)
    fail("max_length", std::to_string(padding.max_length) + " leaves no room for " + kSot + " and " + kEot);
  ClipBatch b;
  b.batch = static_cast<int64_t>(texts.size());
  b.length = padding.max_length;
  b.input_ids.assign(static_cast<size_t>(b.batch * b.length), eot_id_);
  b.attention_mask.assign(b.input_ids.size(), 0);
  b.truncated.assign(texts.size(), false);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string context = texts.size() == 1 ? "text" : "text " + std::to_string(i + 1);
    std::vector<int64_t> ids = encode_content(texts[i], context);
    const size_t room = static_cast<size_t>(padding.max_length) - 2;
    if (ids.size() > room) {
      if (!padding.truncate)
        fail(context, "is " + std::to_string(ids.size() + 2) + " tokens with " + kSot + " and " + kEot + ", more than the " +
                          std::to_string(padding.max_length) + " the text model takes (shorten it, or allow truncation)");
      ids.resize(room);
      b.truncated[i] = true;
    }
    int64_t* row = b.input_ids.data() + i * b.length;
    int64_t* mask = b.attention_mask.data() + i * b.length;
    row[0] = sot_id_;
    std::copy(ids.begin(), ids.end(), row + 1);
    row[ids.size() + 1] = eot_id_;
    std::fill(mask, mask + ids.size() + 2, 1);
  }
  return b;
}

}  // namespace segkit::text
