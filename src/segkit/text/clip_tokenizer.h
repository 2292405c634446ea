#pragma once
// CLIP's byte-level BPE tokenizer, as transformers (5.x, tokenizers backend) runs it for SAM 3:
// added tokens split off the raw text; NFC, runs of White_Space → " ", lowercase; CLIP's split
// regex (<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+,
// whitespace dropped); GPT-2's byte-to-unicode symbols with "</w>" on the last one of a word;
// BPE by merge rank; then <|startoftext|> … <|endoftext|>.
//
// Length: transformers' SAM 3 processor pads to 32 with <|endoftext|> and does not truncate, so
// a longer phrase would overflow the text model's 32 positions there. encode_padded refuses
// such a phrase unless truncation is asked for; then it keeps the first max_length - 2 tokens
// and the final <|endoftext|> (transformers' truncation=True) and says which texts it cut, so
// that the caller can warn.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace segkit::text {

struct ClipPadding {
  int max_length = 32;    // SAM 3's text model has 32 positions
  bool truncate = false;  // cut over-long texts instead of refusing them
};

// Row-major [batch, length] as the text model takes them.
struct ClipBatch {
  int64_t batch = 0;
  int64_t length = 0;
  std::vector<int64_t> input_ids;       // padded with the pad id (<|endoftext|>)
  std::vector<int64_t> attention_mask;  // 1 on real tokens (including both specials), 0 on padding
  std::vector<bool> truncated;          // per text: whether it was cut to `length`
  bool any_truncated() const;
};

class ClipTokenizer {
 public:
  // A Hugging Face tokenizers file. Refuses, naming the file, one that is not CLIP's pipeline
  // (normalizer, pre-tokenizer, post-processor), lacks model.vocab / model.merges, has merges
  // of unknown symbols, duplicate ids, or no <|startoftext|> / <|endoftext|>.
  static ClipTokenizer from_tokenizer_json(const std::string& path);
  static ClipTokenizer from_tokenizer_json_text(const std::string& text, const std::string& context);
  // The older pair of files (merges.txt may start with a "#version" line).
  static ClipTokenizer from_vocab_merges(const std::string& vocab_path, const std::string& merges_path);
  static ClipTokenizer from_vocab_merges_text(const std::string& vocab_json, const std::string& merges_txt,
                                              const std::string& vocab_context, const std::string& merges_context);
  // tokenizer.json in `dir` when there is one, else vocab.json + merges.txt.
  static ClipTokenizer from_folder(const std::string& dir);

  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
  ~ClipTokenizer();

  // <|startoftext|> ids <|endoftext|>, no length limit. Error "<context>: invalid UTF-8 at
  // byte N (0xXX)" for bytes that are not UTF-8.
  std::vector<int64_t> encode(const std::string& text, const std::string& context = "text") const;
  // The ids without the two specials.
  std::vector<int64_t> encode_content(const std::string& text, const std::string& context = "text") const;
  // Every text padded to padding.max_length. A text longer than that is an Error naming it
  // ("text 2: ...") unless padding.truncate.
  ClipBatch encode_padded(const std::vector<std::string>& texts, const ClipPadding& padding = {}) const;

  // Number of ids (largest id + 1, added tokens included): what the text embedding must have.
  int64_t vocab_size() const { return vocab_size_; }
  // Error "<model_context>: its text embedding has N rows but the tokenizer (<source>) has M tokens".
  void require_vocab_size(int64_t embedding_rows, const std::string& model_context) const;

  int64_t sot_id() const { return sot_id_; }
  int64_t eot_id() const { return eot_id_; }
  int64_t pad_id() const { return eot_id_; }
  const std::string& source() const { return source_; }  // the file(s) it was read from

 private:
  struct AddedToken {
    std::string content;
    int32_t id;
    bool normalized;  // matched after normalization (else on the raw text)
  };
  struct Cache;
  ClipTokenizer();
  void finish(const std::string& context);
  void split_added(const std::string& text, bool normalized, std::vector<std::pair<std::string, int32_t>>& out) const;
  void encode_words(const std::string& normalized, std::vector<int32_t>& ids) const;
  void bpe(const std::string& word, std::vector<int32_t>& ids) const;

  std::string source_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, std::pair<uint32_t, int32_t>> merges_;  // (left, right) → (rank, merged id)
  std::vector<AddedToken> added_;
  std::string end_of_word_suffix_;
  std::string unk_token_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  bool split_special_literals_ = true;  // ByteLevel's use_regex: GPT-2's regex cuts "<|endoftext|>" in 3
  int32_t byte_id_[256];                // id of each byte's symbol, -1 if not in the vocabulary
  int32_t byte_end_id_[256];            // the same with the end-of-word suffix
  int32_t sot_id_ = -1, eot_id_ = -1, unk_id_ = -1;
  int64_t vocab_size_ = 0;
  std::unique_ptr<Cache> cache_;
};

}  // namespace segkit::text
