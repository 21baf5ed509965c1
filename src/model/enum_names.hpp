// One name table per closed set of the domain (severity, alert type, ...): the wire name of each
// value, indexed by the enum's value. Every conversion, validation and "must be one of" message
// goes through these tables, so a new value is added in one place.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::model {

// Specialized once per enum (enums.hpp) with `static constexpr std::array<std::string_view, N>
// names`, in the order of the enum's values (0, 1, 2, ...).
template <class E>
struct EnumNames;

// The wire name of `e`.
template <class E>
constexpr std::string_view to_string(E e) {
  return EnumNames<E>::names[static_cast<std::size_t>(e)];
}

// The value named `s` (exact, case-sensitive), or nullopt.
template <class E>
constexpr std::optional<E> from_string(std::string_view s) {
  const auto& names = EnumNames<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

// "info, warning, critical": for "must be one of: ..." messages.
template <class E>
std::string names_list() {
  std::string out;
  for (auto n : EnumNames<E>::names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Every value, in order.
template <class E>
constexpr auto all_values() {
  std::array<E, EnumNames<E>::names.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<E>(i);
  return out;
}

// True when `set` is empty (no restriction) or holds `v`: how every list filter reads.
template <class E>
bool empty_or_contains(const std::vector<E>& set, const E& v) {
  if (set.empty()) return true;
  for (const auto& x : set)
    if (x == v) return true;
  return false;
}

}  // namespace valtronics::model
