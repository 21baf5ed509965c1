// Small helpers over the domain records: the closed sets of statuses and types, and the wire
// names of rule conditions.
#include "engine/models.hpp"

#include <algorithm>
#include <iterator>

namespace valtronics::engine {

bool is_device_status(std::string_view s) {
  return std::find(std::begin(kDeviceStatuses), std::end(kDeviceStatuses), s) !=
         std::end(kDeviceStatuses);
}

bool is_device_type(std::string_view s) {
  return std::find(std::begin(kDeviceTypes), std::end(kDeviceTypes), s) != std::end(kDeviceTypes);
}

std::string_view to_string(Condition c) {
  switch (c) {
    case Condition::gt: return "gt";
    case Condition::gte: return "gte";
    case Condition::lt: return "lt";
    case Condition::lte: return "lte";
    case Condition::eq: return "eq";
    case Condition::ne: return "ne";
  }
  return "gt";
}

std::optional<Condition> condition_from_string(std::string_view s) {
  if (s == "gt") return Condition::gt;
  if (s == "gte") return Condition::gte;
  if (s == "lt") return Condition::lt;
  if (s == "lte") return Condition::lte;
  if (s == "eq") return Condition::eq;
  if (s == "ne") return Condition::ne;
  return std::nullopt;
}

}  // namespace valtronics::engine
