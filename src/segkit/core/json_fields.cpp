#include "core/json_fields.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "segkit/error.h"

namespace segkit {

namespace {

bool integer_within(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(INT64_MAX) && v.get<int64_t>() <= hi && v.get<int64_t>() >= lo;
  return v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
}

bool finite_number(const nlohmann::json& v) { return v.is_number() && std::isfinite(v.get<double>()); }

bool float_number(const nlohmann::json& v) { return finite_number(v) && std::fabs(v.get<double>()) <= FLT_MAX; }

std::string range(int64_t lo, int64_t hi) { return "from " + std::to_string(lo) + " to " + std::to_string(hi); }

[[noreturn]] void bad(const std::string& context, const char* key, const std::string& what) {
  fail(context, std::string("\"") + key + "\" must be " + what);
}

const nlohmann::json& present(const nlohmann::json& j, const std::string& context, const char* key) {
  const nlohmann::json* v = json_field(&j, key);
  if (!v) fail(context, std::string("\"") + key + "\" is missing");
  return *v;
}

template <class T, class Check>
std::vector<T> list(const nlohmann::json& v, const std::string& context, const char* key, const std::string& what,
                    Check ok) {
  if (!v.is_array()) bad(context, key, what);
  std::vector<T> values;
  values.reserve(v.size());
  for (const auto& x : v) {
    if (!ok(x)) bad(context, key, what);
    values.push_back(static_cast<T>(x.template get<double>()));
  }
  return values;
}

}  // namespace

const nlohmann::json* json_field(const nlohmann::json* j, const char* key) {
  if (!j || !j->is_object()) return nullptr;
  auto it = j->find(key);
  return it == j->end() || it->is_null() ? nullptr : &*it;
}

void read_optional(const nlohmann::json* j, const std::string& context, const char* key, int& out, int64_t lo, int64_t hi) {
  if (json_field(j, key)) read_required(*j, context, key, out, lo, hi);
}

void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<int>& out,
                   int64_t lo, int64_t hi) {
  const nlohmann::json* v = json_field(j, key);
  if (!v) return;
  const std::string what = "a list of integers " + range(lo, hi);
  if (!v->is_array()) bad(context, key, what);
  std::vector<int> values;
  for (const auto& x : *v) {
    if (!integer_within(x, lo, hi)) bad(context, key, what);
    values.push_back(static_cast<int>(x.get<int64_t>()));
  }
  out = std::move(values);
}

void read_optional(const nlohmann::json* j, const std::string& context, const char* key, double& out) {
  if (json_field(j, key)) read_required(*j, context, key, out);
}

void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<double>& out) {
  if (json_field(j, key)) read_required(*j, context, key, out);
}

void read_optional(const nlohmann::json* j, const std::string& context, const char* key, std::vector<float>& out) {
  if (json_field(j, key)) read_required(*j, context, key, out);
}

void read_required(const nlohmann::json& j, const std::string& context, const char* key, int& out, int64_t lo, int64_t hi) {
  int64_t v = 0;
  read_required(j, context, key, v, std::max<int64_t>(lo, INT32_MIN), std::min<int64_t>(hi, INT32_MAX));
  out = static_cast<int>(v);
}

void read_required(const nlohmann::json& j, const std::string& context, const char* key, int64_t& out, int64_t lo, int64_t hi) {
  const nlohmann::json& v = present(j, context, key);
  if (!integer_within(v, lo, hi)) bad(context, key, "an integer " + range(lo, hi));
  out = v.get<int64_t>();
}

void read_required(const nlohmann::json& j, const std::string& context, const char* key, double& out) {
  const nlohmann::json& v = present(j, context, key);
  if (!finite_number(v)) bad(context, key, "a finite number");
  out = v.get<double>();
}

void read_required(const nlohmann::json& j, const std::string& context, const char* key, std::vector<double>& out) {
  out = list<double>(present(j, context, key), context, key, "a list of finite numbers", finite_number);
}

void read_required(const nlohmann::json& j, const std::string& context, const char* key, std::vector<float>& out) {
  out = list<float>(present(j, context, key), context, key, "a list of finite numbers within float range", float_number);
}

}  // namespace segkit
