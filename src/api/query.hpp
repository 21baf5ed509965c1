// Request parameters: the query string (percent-decoding, repeated keys, lists), integer and
// enum parameters, pagination (parameters and arithmetic) and record ids in the path. Pure
// functions; each error is a model::DomainError `invalid` naming the parameter (400
// VALIDATION_ERROR), or `not_found` for a path id no record can have.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/limits.hpp"
#include "model/enums.hpp"
#include "model/errors.hpp"

namespace valtronics::api {

// Decodes %XX escapes and '+' (as a space, form encoding). nullopt on a malformed escape ("%",
// "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view s);

// A request target split at the first '?': path and query (without the '?').
struct Target {
  std::string_view path;
  std::string_view query;
};
Target split_target(std::string_view target);

// Decoded query parameters, in order; a key may repeat.
class QueryParams {
 public:
  void add(std::string key, std::string value) {
    items_.emplace_back(std::move(key), std::move(value));
  }
  // The last value of `key`, if any.
  std::optional<std::string_view> get(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string_view> all(std::string_view key) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Parses "a=1&b=x%20y&c" (no leading '?'): keys and values percent-decoded, "c" alone is ("c",
// ""), empty pieces ("a=1&&b=2") skipped. A malformed escape: an error naming the parameter (or
// "query" when the key itself cannot be decoded).
model::Result<QueryParams> parse_query(std::string_view query);

// An integer parameter in [min, max]; otherwise an error naming `name` ("page must be an integer
// between 1 and 1000000000"). Leading '+', spaces, fractions and exponents are refused.
model::Result<std::int64_t> parse_int_param(std::string_view name, std::string_view value,
                                            std::int64_t min, std::int64_t max);

// A list parameter: every value of `name`, each split on commas, trimmed of spaces, empty pieces
// dropped, duplicates removed (first kept). Absent: empty list.
std::vector<std::string> parse_list_param(const QueryParams& q, std::string_view name);

// The same, each value a name of E (model/enums.hpp); any other value is an error naming `name`
// and listing E's names ("severity must be one of info, warning, critical (got 'fatal')").
template <class E>
model::Result<std::vector<E>> parse_enum_list_param(const QueryParams& q, std::string_view name) {
  std::vector<E> out;
  for (const auto& item : parse_list_param(q, name)) {
    auto e = model::from_string<E>(item);
    if (!e)
      return model::invalid(std::string(name), std::string(name) + " must be one of " +
                                                   model::names_list<E>() + " (got '" + item +
                                                   "')");
    out.push_back(*e);
  }
  return out;
}

// One value of E, when `name` is given (the last one); any other value is an error naming
// `name` ("status must be one of online, offline, ...").
template <class E>
model::Result<std::optional<E>> parse_enum_param(const QueryParams& q, std::string_view name) {
  auto value = q.get(name);
  if (!value) return std::optional<E>();
  auto e = model::from_string<E>(*value);
  if (!e)
    return model::invalid(std::string(name),
                          std::string(name) + " must be one of " + model::names_list<E>());
  return std::optional<E>(*e);
}

// A list of positive integers (e.g. device_id=1,2,3), duplicates removed.
model::Result<std::vector<std::int64_t>> parse_id_list_param(const QueryParams& q,
                                                             std::string_view name);

// ---- pagination ----

struct PageRequest {
  std::size_t page = 1;
  std::size_t size = limits::kDefaultPageSize;
  std::size_t offset() const { return (page - 1) * size; }
};
// `page` (1..limits::kMaxPage) and `size` (1..max_size; the raw telemetry list allows 1000).
model::Result<PageRequest> parse_pagination(const QueryParams& q,
                                            std::size_t max_size = limits::kMaxPageSize);

// The pagination object for `total` items: pages = ceil(total / size) (0 when there are none),
// has_next = page < pages, has_prev = page > 1.
struct PageInfo {
  std::size_t page = 1, size = limits::kDefaultPageSize, total = 0, pages = 0;
  bool has_next = false, has_prev = false;
};
PageInfo page_info(const PageRequest& p, std::size_t total);
boost::json::object to_json(const PageInfo& p);

// ---- path ids ----

// A record id in a path segment: a decimal integer without sign. Not digits: an error naming
// `field` ("id must be a positive integer"); 0 or too large for an int64: not_found naming
// `what` ("device 0 not found", details resource and id), since no such record can exist.
model::Result<std::int64_t> parse_path_id(std::string_view segment, std::string_view what,
                                          std::string_view field = "id");

}  // namespace valtronics::api
