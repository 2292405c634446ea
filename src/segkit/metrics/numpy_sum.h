#pragma once
// Float reductions in numpy's order (pairwise summation, 8-way unrolled blocks of up to 128),
// so means match the Python references to the last bit rather than just within rounding.
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace segkit {

inline double numpy_pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double s = 0.;
    for (size_t i = 0; i < n; ++i) s += a[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) s += a[i];
    return s;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

// np.sum of a 1-D float64 array (starts from the identity 0, then the pairwise sum).
inline double numpy_sum(const std::vector<double>& v) { return 0. + numpy_pairwise_sum(v.data(), v.size()); }

// np.nanmean: NaNs replaced by 0 for the sum and left out of the count; NaN if all are NaN.
inline double numpy_nanmean(const std::vector<double>& v) {
  std::vector<double> filled(v.size());
  size_t count = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool nan = std::isnan(v[i]);
    filled[i] = nan ? 0. : v[i];
    count += !nan;
  }
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  return numpy_sum(filled) / static_cast<double>(count);
}

// np.mean of the entries > -1 (COCOeval's summarize); -1 when there are none.
inline double numpy_mean_valid(const std::vector<double>& v) {
  std::vector<double> kept;
  for (double x : v)
    if (x > -1) kept.push_back(x);
  if (kept.empty()) return -1;
  return numpy_sum(kept) / static_cast<double>(kept.size());
}

}  // namespace segkit
