// Streaming semantic-segmentation metrics. Each pixel becomes one increment of a small
// (num_labels+2) × (num_labels+1) histogram: the gt row is looked up in a table that folds the
// label map, reduce_labels, the ignore index and the range check into one step (the last row
// collects ignored pixels and is dropped), the pred column is clamped to "out of range".
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "metrics/numpy_sum.h"
#include "segkit/error.h"
#include "segkit/metrics.h"

namespace segkit {

namespace {

constexpr int kMaxLabels = 4096;
constexpr int64_t kTableSize = 65536;  // gt values [0, 65536) are looked up, others computed
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy's int/int division: 0/0 is NaN (a nonzero over 0 cannot occur here).
double ratio(int64_t num, int64_t den) { return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den); }

// Per-class areas and scores from a histogram laid out [gt code 0..N][pred code 0..N] (N = out of range).
template <typename Count>
struct Areas {
  std::vector<int64_t> intersect, uni, pred, label;
  int64_t evaluated = 0, gt_out = 0, pred_out = 0;
  Areas(const Count* m, int n) : intersect(n), uni(n), pred(n), label(n) {
    const int stride = n + 1;
    for (int g = 0; g <= n; ++g)
      for (int p = 0; p <= n; ++p) {
        const int64_t v = static_cast<int64_t>(m[g * stride + p]);
        evaluated += v;
        if (g < n) label[g] += v;
        else gt_out += v;
        if (p < n) pred[p] += v;
        else pred_out += v;
      }
    for (int c = 0; c < n; ++c) {
      intersect[c] = static_cast<int64_t>(m[c * stride + c]);
      uni[c] = pred[c] + label[c] - intersect[c];
    }
  }
  std::vector<double> iou() const { return divide(intersect, uni, 1); }
  std::vector<double> accuracy() const { return divide(intersect, label, 1); }
  std::vector<double> dice() const {
    std::vector<int64_t> den(label.size());
    for (size_t c = 0; c < den.size(); ++c) den[c] = pred[c] + label[c];
    return divide(intersect, den, 2);
  }
  double overall_accuracy() const {
    int64_t i = 0, l = 0;
    for (size_t c = 0; c < label.size(); ++c) i += intersect[c], l += label[c];
    return ratio(i, l);
  }
  static std::vector<double> divide(const std::vector<int64_t>& num, const std::vector<int64_t>& den, int64_t k) {
    std::vector<double> out(num.size());
    for (size_t c = 0; c < num.size(); ++c) out[c] = ratio(k * num[c], den[c]);
    return out;
  }
};

}  // namespace

int64_t preprocess_gt_label(const SemanticOptions& options, int64_t v) {
  for (const auto& [from, to] : options.label_map)
    if (v == from) v = to;
  if (options.reduce_labels) {
    v = v == 0 ? 255 : v - 1;
    if (v == 254) v = 255;
  }
  return v;
}

struct SemanticAccumulator::State {
  SemanticOptions options;
  int n = 0;                                       // num_labels
  std::shared_ptr<const std::vector<int32_t>> row;  // gt value -> histogram row offset (code * (n+1))
  std::vector<int64_t> total;                       // (n+1) × (n+1)

  int32_t code_of(int64_t gt_value) const {
    const int64_t v = preprocess_gt_label(options, gt_value);
    if (v == options.ignore_index) return n + 1;
    return (v >= 0 && v < n) ? static_cast<int32_t>(v) : n;
  }
  int32_t row_of(int64_t gt_value) const {
    if (gt_value >= 0 && gt_value < kTableSize) return (*row)[static_cast<size_t>(gt_value)];
    return code_of(gt_value) * (n + 1);
  }

  template <typename T>
  int32_t gt_row(T g) const {
    if constexpr (sizeof(T) <= 2) return (*row)[g];
    else return row_of(g);
  }
  template <typename T>
  int32_t pred_col(T p) const {
    if constexpr (std::is_signed_v<T>) return static_cast<uint32_t>(p) < static_cast<uint32_t>(n) ? p : n;
    else return p < static_cast<uint32_t>(n) ? static_cast<int32_t>(p) : n;
  }

  // Counts one image into `hist` ((n+2) × (n+1) uint32, enough for 2^32-1 pixels).
  template <typename T>
  void count(const T* pred, const T* gt, size_t count, std::vector<uint32_t>& hist) const {
    const size_t bins = static_cast<size_t>(n + 2) * (n + 1);
    // Several copies of the histogram break the store-to-load chain when neighbouring pixels
    // hit the same bin (the common case in label maps); kept only while they fit in cache.
    const size_t copies = bins * 4 * sizeof(uint32_t) <= (256 << 10) ? 4 : 1;
    std::vector<uint32_t> h(bins * copies, 0);
    size_t i = 0;
    if (copies == 4) {
      uint32_t *h0 = h.data(), *h1 = h0 + bins, *h2 = h1 + bins, *h3 = h2 + bins;
      for (; i + 4 <= count; i += 4) {
        ++h0[gt_row(gt[i]) + pred_col(pred[i])];
        ++h1[gt_row(gt[i + 1]) + pred_col(pred[i + 1])];
        ++h2[gt_row(gt[i + 2]) + pred_col(pred[i + 2])];
        ++h3[gt_row(gt[i + 3]) + pred_col(pred[i + 3])];
      }
    }
    for (; i < count; ++i) ++h[gt_row(gt[i]) + pred_col(pred[i])];
    hist.assign(bins, 0);
    for (size_t c = 0; c < copies; ++c)
      for (size_t b = 0; b < bins; ++b) hist[b] += h[c * bins + b];
  }

  template <typename T>
  SemanticImageScores add(const T* pred, const T* gt, size_t count_total, bool want_scores) {
    const size_t bins_used = static_cast<size_t>(n + 1) * (n + 1);
    std::vector<uint32_t> hist;
    std::vector<int64_t> image(want_scores ? bins_used : 0, 0);
    constexpr size_t kChunk = size_t{1} << 30;  // keeps per-chunk counts within uint32
    size_t off = 0;
    do {
      const size_t len = std::min(kChunk, count_total - off);
      count(pred + off, gt + off, len, hist);
      for (size_t b = 0; b < bins_used; ++b) total[b] += hist[b];
      if (want_scores)
        for (size_t b = 0; b < bins_used; ++b) image[b] += hist[b];
      off += len;
    } while (off < count_total);
    SemanticImageScores s;
    if (!want_scores) return s;
    Areas<int64_t> a(image.data(), n);
    s.mean_iou = numpy_nanmean(a.iou());
    s.mean_accuracy = numpy_nanmean(a.accuracy());
    s.mean_dice = numpy_nanmean(a.dice());
    s.pixel_accuracy = a.overall_accuracy();
    s.num_evaluated_pixels = a.evaluated;
    s.num_gt_out_of_range_pixels = a.gt_out;
    s.num_pred_out_of_range_pixels = a.pred_out;
    // A sample offending value for warnings; only searched for when there is one.
    if (a.gt_out > 0)
      for (size_t i = 0; i < count_total; ++i)
        if (gt_row(gt[i]) == n * (n + 1)) { s.first_gt_out_of_range = static_cast<int64_t>(gt[i]); break; }
    if (a.pred_out > 0)
      for (size_t i = 0; i < count_total; ++i)
        if (gt_row(gt[i]) <= n * (n + 1) && pred_col(pred[i]) == n) {
          s.first_pred_out_of_range = static_cast<int64_t>(pred[i]);
          break;
        }
    return s;
  }
};

SemanticAccumulator::SemanticAccumulator(SemanticOptions options) : state_(std::make_unique<State>()) {
  if (options.num_labels < 1 || options.num_labels > kMaxLabels)
    fail("--num-labels", "must be between 1 and " + std::to_string(kMaxLabels) + ", got " +
                             std::to_string(options.num_labels));
  State& s = *state_;
  s.options = std::move(options);
  s.n = s.options.num_labels;
  auto table = std::make_shared<std::vector<int32_t>>(kTableSize);
  for (int64_t v = 0; v < kTableSize; ++v) (*table)[static_cast<size_t>(v)] = s.code_of(v) * (s.n + 1);
  s.row = std::move(table);
  s.total.assign(static_cast<size_t>(s.n + 1) * (s.n + 1), 0);
}

SemanticAccumulator::SemanticAccumulator(const SemanticAccumulator& o) : state_(std::make_unique<State>(*o.state_)) {}
SemanticAccumulator& SemanticAccumulator::operator=(const SemanticAccumulator& o) {
  if (this != &o) state_ = std::make_unique<State>(*o.state_);
  return *this;
}
SemanticAccumulator::SemanticAccumulator(SemanticAccumulator&&) noexcept = default;
SemanticAccumulator& SemanticAccumulator::operator=(SemanticAccumulator&&) noexcept = default;
SemanticAccumulator::~SemanticAccumulator() = default;

void SemanticAccumulator::add(const int32_t* pred, const int32_t* gt, size_t count) { state_->add(pred, gt, count, false); }
void SemanticAccumulator::add(const uint8_t* pred, const uint8_t* gt, size_t count) { state_->add(pred, gt, count, false); }
void SemanticAccumulator::add(const uint16_t* pred, const uint16_t* gt, size_t count) { state_->add(pred, gt, count, false); }
SemanticImageScores SemanticAccumulator::add_image(const int32_t* pred, const int32_t* gt, size_t count) {
  return state_->add(pred, gt, count, true);
}
SemanticImageScores SemanticAccumulator::add_image(const uint8_t* pred, const uint8_t* gt, size_t count) {
  return state_->add(pred, gt, count, true);
}
SemanticImageScores SemanticAccumulator::add_image(const uint16_t* pred, const uint16_t* gt, size_t count) {
  return state_->add(pred, gt, count, true);
}

void SemanticAccumulator::merge(const SemanticAccumulator& other) {
  const SemanticOptions &a = state_->options, &b = other.state_->options;
  if (a.num_labels != b.num_labels || a.ignore_index != b.ignore_index || a.reduce_labels != b.reduce_labels ||
      a.label_map != b.label_map)
    fail("SemanticAccumulator::merge", "accumulators were made with different options");
  for (size_t i = 0; i < state_->total.size(); ++i) state_->total[i] += other.state_->total[i];
}

void SemanticAccumulator::reset() { std::fill(state_->total.begin(), state_->total.end(), 0); }

const SemanticOptions& SemanticAccumulator::options() const { return state_->options; }
int SemanticAccumulator::num_labels() const { return state_->n; }

int64_t SemanticAccumulator::confusion(int gt, int pred) const {
  const int n = state_->n;
  if (gt < 0 || gt >= n || pred < 0 || pred >= n) return 0;
  return state_->total[static_cast<size_t>(gt) * (n + 1) + pred];
}

std::vector<int64_t> SemanticAccumulator::confusion_matrix() const {
  const int n = state_->n;
  std::vector<int64_t> m(static_cast<size_t>(n) * n);
  for (int g = 0; g < n; ++g)
    for (int p = 0; p < n; ++p) m[static_cast<size_t>(g) * n + p] = state_->total[static_cast<size_t>(g) * (n + 1) + p];
  return m;
}

SemanticResult SemanticAccumulator::result() const {
  const int n = state_->n;
  Areas<int64_t> a(state_->total.data(), n);
  SemanticResult r;
  r.area_intersect = a.intersect;
  r.area_union = a.uni;
  r.area_pred = a.pred;
  r.area_label = a.label;
  r.num_evaluated_pixels = a.evaluated;
  r.num_gt_out_of_range_pixels = a.gt_out;
  r.num_pred_out_of_range_pixels = a.pred_out;
  r.per_category_iou = a.iou();
  r.per_category_accuracy = a.accuracy();
  r.per_category_dice = a.dice();
  r.mean_iou = numpy_nanmean(r.per_category_iou);
  r.mean_accuracy = numpy_nanmean(r.per_category_accuracy);
  r.mean_dice = numpy_nanmean(r.per_category_dice);
  r.overall_accuracy = r.pixel_accuracy = a.overall_accuracy();
  if (const auto& fill = state_->options.nan_to_num) {
    auto fix = [&](double& v) {
      if (std::isnan(v)) v = *fill;
    };
    fix(r.mean_iou);
    fix(r.mean_accuracy);
    fix(r.overall_accuracy);
    for (double& v : r.per_category_iou) fix(v);
    for (double& v : r.per_category_accuracy) fix(v);
  }
  return r;
}

}  // namespace segkit
