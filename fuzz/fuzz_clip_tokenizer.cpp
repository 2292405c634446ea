// The CLIP tokenizer (SAM 3's text prompts) and its two file readers. The input is split at NUL
// bytes into up to three parts:
//   - the whole input is encoded as a phrase by the toy tokenizer of tests/data/sam3;
//   - part 0 is read as a tokenizer.json and, when accepted, encodes part 1;
//   - parts 0 and 1 are read as vocab.json + merges.txt and, when accepted, encode part 2.
// A bad file or phrase must be a segkit::Error; every id an accepted one gives must be below
// vocab_size(), and a padded batch must have its shape.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "text/clip_tokenizer.h"

namespace {

using segkit::text::ClipBatch;
using segkit::text::ClipTokenizer;

void check_ids(const ClipTokenizer& t, const std::vector<int64_t>& ids) {
  if (ids.size() < 2 || ids.front() != t.sot_id() || ids.back() != t.eot_id()) std::abort();
  for (int64_t id : ids)
    if (id < 0 || id >= t.vocab_size()) std::abort();
}

void exercise(const ClipTokenizer& t, const std::string& text) {
  SEGKIT_FUZZ_EXPECT_ERRORS(check_ids(t, t.encode(text)));
  SEGKIT_FUZZ_EXPECT_ERRORS({
    const ClipBatch b = t.encode_padded({text, "a dog"}, {8, true});
    if (b.input_ids.size() != 16 || b.attention_mask.size() != 16 || b.truncated.size() != 2) std::abort();
    for (int64_t id : b.input_ids)
      if (id < 0 || id >= t.vocab_size()) std::abort();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ClipTokenizer toy = ClipTokenizer::from_tokenizer_json(SEGKIT_FUZZ_SAM3_TOKENIZER);
  const std::string input = segkit::fuzz::as_string(data, size);
  exercise(toy, input);

  std::vector<std::string> parts(3);
  size_t at = 0;
  for (size_t k = 0; k < 3; ++k) {
    const size_t nul = k < 2 ? input.find('\0', at) : std::string::npos;
    parts[k] = input.substr(at, nul == std::string::npos ? std::string::npos : nul - at);
    if (nul == std::string::npos) break;
    at = nul + 1;
  }
  SEGKIT_FUZZ_EXPECT_ERRORS(exercise(ClipTokenizer::from_tokenizer_json_text(parts[0], "tokenizer.json"), parts[1]));
  SEGKIT_FUZZ_EXPECT_ERRORS(
      exercise(ClipTokenizer::from_vocab_merges_text(parts[0], parts[1], "vocab.json", "merges.txt"), parts[2]));
  return 0;
}
