// Query strings, parameters, pagination and path ids.
#include "api/query.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace valtronics::api {

namespace json = boost::json;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Unsigned decimal digits only, into an int64. nullopt: not digits; `overflow` set when digits
// but too large.
std::optional<std::int64_t> parse_digits(std::string_view s, bool& overflow) {
  overflow = false;
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    overflow = true;
    return std::nullopt;
  }
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

Target split_target(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

std::optional<std::string_view> QueryParams::get(std::string_view key) const {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it)
    if (it->first == key) return std::string_view(it->second);
  return std::nullopt;
}

std::vector<std::string_view> QueryParams::all(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : items_)
    if (k == key) out.emplace_back(v);
  return out;
}

model::Result<QueryParams> parse_query(std::string_view query) {
  QueryParams q;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    auto eq = piece.find('=');
    std::string_view raw_key = piece.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
    auto key = percent_decode(raw_key);
    if (!key) return model::invalid("query", "malformed percent-encoding in the query string");
    auto value = percent_decode(raw_value);
    if (!value)
      return model::invalid(*key, "malformed percent-encoding in parameter '" + *key + "'");
    q.add(std::move(*key), std::move(*value));
  }
  return q;
}

model::Result<std::int64_t> parse_int_param(std::string_view name, std::string_view value,
                                            std::int64_t min, std::int64_t max) {
  bool overflow = false;
  bool negative = !value.empty() && value.front() == '-';
  auto v = parse_digits(negative ? value.substr(1) : value, overflow);
  std::optional<std::int64_t> n;
  if (v) n = negative ? -*v : *v;
  if (!n || *n < min || *n > max) {
    std::string msg = std::string(name) + " must be an integer ";
    if (max == std::numeric_limits<std::int64_t>::max())
      msg += ">= " + std::to_string(min);
    else
      msg += "between " + std::to_string(min) + " and " + std::to_string(max);
    return model::invalid(std::string(name), std::move(msg));
  }
  return *n;
}

std::vector<std::string> parse_list_param(const QueryParams& q, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view value : q.all(name)) {
    while (true) {
      auto comma = value.find(',');
      std::string_view item = util::trim_blanks(value.substr(0, comma));
      if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end())
        out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return out;
}

model::Result<std::vector<std::int64_t>> parse_id_list_param(const QueryParams& q,
                                                             std::string_view name) {
  std::vector<std::int64_t> out;
  for (const auto& item : parse_list_param(q, name)) {
    auto id = parse_int_param(name, item, 1, std::numeric_limits<std::int64_t>::max());
    if (!id)
      return model::invalid(std::string(name),
                            std::string(name) +
                                " must be a positive integer or a comma-separated list of them");
    if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
  }
  return out;
}

model::Result<PageRequest> parse_pagination(const QueryParams& q, std::size_t max_size) {
  PageRequest p;
  if (auto page = q.get("page")) {
    auto v = parse_int_param("page", *page, 1, static_cast<std::int64_t>(limits::kMaxPage));
    if (!v) return v.error();
    p.page = static_cast<std::size_t>(*v);
  }
  if (auto size = q.get("size")) {
    auto v = parse_int_param("size", *size, 1, static_cast<std::int64_t>(max_size));
    if (!v) return v.error();
    p.size = static_cast<std::size_t>(*v);
  }
  return p;
}

PageInfo page_info(const PageRequest& p, std::size_t total) {
  PageInfo i;
  i.page = p.page;
  i.size = p.size;
  i.total = total;
  i.pages = p.size == 0 ? 0 : (total + p.size - 1) / p.size;
  i.has_next = p.page < i.pages;
  i.has_prev = p.page > 1;
  return i;
}

json::object to_json(const PageInfo& p) {
  return json::object{{"page", p.page},   {"size", p.size},         {"total", p.total},
                      {"pages", p.pages}, {"has_next", p.has_next}, {"has_prev", p.has_prev}};
}

model::Result<std::int64_t> parse_path_id(std::string_view segment, std::string_view what,
                                          std::string_view field) {
  bool overflow = false;
  auto v = parse_digits(segment, overflow);
  if (v && *v > 0) return *v;
  if (v || overflow) {  // 0, or more digits than any id can have
    json::object details{{"resource", what}};
    if (v) details["id"] = *v;
    else details["id"] = segment;
    return model::DomainError{model::DomainError::Kind::not_found,
                              std::string(what) + " " + std::string(segment) + " not found", {},
                              std::move(details)};
  }
  return model::invalid(std::string(field), std::string(field) + " must be a positive integer");
}

}  // namespace valtronics::api
