// Reading JSON request bodies: the body as an object, known and read-only keys, and typed fields
// (text, ids, enum names, objects, numbers, durations). The request DTOs (device_json,
// rule_json, alert_json) are built from these. Every error is a model::DomainError `invalid`
// whose field names the key at fault (400 VALIDATION_ERROR with details.field).
#pragma once

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "model/enums.hpp"
#include "model/errors.hpp"

namespace valtronics::api::body {

using Names = std::span<const std::string_view>;
// A field's problem, or nullopt when it was read.
using Error = std::optional<model::DomainError>;

// The request body as a JSON object. An empty (or all-whitespace) body is an error naming
// "body", unless `optional`: then it yields an empty object.
model::Result<boost::json::object> parse_object(std::string_view body, bool optional = false);

// "a, b, c"
std::string join(Names items, std::string_view sep = ", ");

// Every key must be in `allowed`; a key of `read_only` is refused by name with
// "<key><read_only_msg>"; unknown keys are named together ("unknown fields \"a\", \"b\";
// allowed: ..."), each cut at 64 bytes. The body must be an object.
Error check_keys(const boost::json::value& body, Names allowed, Names read_only,
                 std::string_view read_only_msg);

// Present and not null.
const boost::json::value* given(const boost::json::object& o, std::string_view key);
// Present and null.
bool is_explicit_null(const boost::json::object& o, std::string_view key);

// A string of at most `max` characters (UTF-8 code points); `non_empty`: not blank.
Error read_text(const boost::json::value& v, std::string_view field, std::size_t max,
                bool non_empty, std::string& out);
// A JSON integer > 0 (1.0 and "1" are refused).
Error read_positive_id(const boost::json::value& v, std::string_view field, std::int64_t& out);
// An object of at most `max_bytes` serialized (limits::kMaxMetadataBytes for metadata).
Error read_object(const boost::json::value& v, std::string_view field, boost::json::object& out,
                  std::size_t max_bytes);
// A finite JSON number.
std::optional<double> finite_number(const boost::json::value& v);
// A non-negative number of seconds, or a duration string ("30s", "5m", "500ms", "0"), at most
// one year.
Error read_duration(const boost::json::value& v, std::string_view field,
                    std::chrono::milliseconds& out);
// A metric name: [a-z0-9_.-]{1,64}.
bool valid_metric_name(std::string_view s);

// "<field> must be one of: info, warning, critical": the names of E (model/enums.hpp), or of
// `allowed` when the field takes only some of E's values.
template <class E>
model::DomainError not_one_of(std::string_view field, std::span<const E> allowed = {}) {
  std::string names;
  if (allowed.empty()) {
    names = model::names_list<E>();
  } else {
    for (E a : allowed) {
      if (!names.empty()) names += ", ";
      names += model::to_string(a);
    }
  }
  return model::invalid(std::string(field), std::string(field) + " must be one of: " + names);
}

// A name of E (of `allowed`, when given).
template <class E>
Error read_one_of(const boost::json::value& v, std::string_view field, E& out,
                  std::span<const E> allowed = {}) {
  std::optional<E> e;
  if (v.is_string()) e = model::from_string<E>(v.get_string());
  if (!e || (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *e) == allowed.end()))
    return not_one_of(field, allowed);
  out = *e;
  return std::nullopt;
}

}  // namespace valtronics::api::body
