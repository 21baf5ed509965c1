// Alert text from bounded parts: each part cut with util::cut_utf8 to its limit before it is
// joined, so the result is valid UTF-8 and its length has a fixed upper bound.
#include "engine/alert_text.hpp"

#include <cstdio>

#include "config/limits.hpp"
#include "util/text.hpp"

namespace valtronics::engine::alert_text {

std::string_view condition_words(model::Condition c) {
  switch (c) {
    case model::Condition::gt: return "above";
    case model::Condition::gte: return "at or above";
    case model::Condition::lt: return "below";
    case model::Condition::lte: return "at or below";
    case model::Condition::eq: return "equal to";
    case model::Condition::ne: return "not equal to";
  }
  return "?";
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string threshold(std::string_view metric, double value, std::string_view unit,
                      model::Condition condition, double threshold) {
  const auto m = util::cut_utf8(metric, limits::kMaxMetricChars);
  const auto u = util::cut_utf8(unit, limits::kMaxUnitChars);
  std::string out;
  out.reserve(m.size() + u.size() + 64);
  out.append(m).append(" is ").append(number(value));
  if (!u.empty()) out.append(" ").append(u);
  out.append(", ").append(condition_words(condition)).append(" threshold ").append(number(threshold));
  return out;
}

std::string offline(std::string_view device_name, std::string_view reason) {
  std::string out(util::cut_utf8(device_name, limits::kMaxNameChars));
  out.append(": ").append(util::cut_utf8(reason, limits::kMaxReasonChars));
  return out;
}

std::string reason(std::string_view reason) {
  return std::string(util::cut_utf8(reason, limits::kMaxReasonChars));
}

}  // namespace valtronics::engine::alert_text
