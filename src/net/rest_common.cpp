// Shared pieces of the REST API: query and path parsing, pagination, envelopes, authentication,
// role checks, bodies and the dispatcher.
#include "net/rest_common.hpp"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <limits>

#include "engine/engine.hpp"
#include "protocol/json_writer.hpp"

namespace valtronics::net::rest {

namespace http = boost::beast::http;
namespace json = boost::json;

// ---- errors ----

ApiError invalid(std::string field, std::string message) {
  ApiError e;
  e.http_status = 400;
  e.code = "VALIDATION_ERROR";
  e.message = std::move(message);
  e.details = json::object{{"field", std::move(field)}};
  return e;
}

namespace {
ApiError make_error(int status, std::string code, std::string message) {
  ApiError e;
  e.http_status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
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

ApiError unauthorized(std::string message) {
  return make_error(401, "UNAUTHORIZED", std::move(message));
}
ApiError forbidden(std::string message) { return make_error(403, "FORBIDDEN", std::move(message)); }
ApiError route_not_found(std::string_view path) {
  return make_error(404, "NOT_FOUND", "no route for " + std::string(path));
}
ApiError engine_unavailable() {
  return make_error(503, "SERVICE_UNAVAILABLE", "the device and alert engine is not running");
}

// ---- targets and queries ----

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

std::optional<std::vector<std::string_view>> path_segments(std::string_view path,
                                                           std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  path.remove_prefix(prefix.size());
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string_view> out;
  if (path.empty()) return out;
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
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

ApiResult<QueryParams> parse_query(std::string_view query) {
  QueryParams q;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (piece.empty()) continue;
    auto eq = piece.find('=');
    std::string_view raw_key = piece.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view{}
                                                              : piece.substr(eq + 1);
    auto key = percent_decode(raw_key);
    if (!key) return invalid("query", "malformed percent-encoding in the query string");
    auto value = percent_decode(raw_value);
    if (!value) return invalid(*key, "malformed percent-encoding in parameter '" + *key + "'");
    q.add(std::move(*key), std::move(*value));
  }
  return q;
}

ApiResult<std::int64_t> parse_int_param(std::string_view name, std::string_view value,
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
    return invalid(std::string(name), std::move(msg));
  }
  // (ApiError, an aggregate, is constructible from an integer too: say which side is meant.)
  return ApiResult<std::int64_t>(boost::system::in_place_value, *n);
}

ApiResult<std::vector<std::string>> parse_list_param(const QueryParams& q, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view value : q.all(name)) {
    while (true) {
      auto comma = value.find(',');
      std::string_view item = trim(value.substr(0, comma));
      if (!item.empty()) {
        if (std::find(out.begin(), out.end(), item) == out.end()) out.emplace_back(item);
      }
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return out;
}

ApiResult<std::vector<std::int64_t>> parse_id_list_param(const QueryParams& q,
                                                         std::string_view name) {
  auto items = parse_list_param(q, name);
  if (!items) return items.error();
  std::vector<std::int64_t> out;
  for (const auto& item : *items) {
    auto id = parse_int_param(name, item, 1, std::numeric_limits<std::int64_t>::max());
    if (!id) return invalid(std::string(name), std::string(name) +
                                                   " must be a positive integer or a "
                                                   "comma-separated list of them");
    if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
  }
  return out;
}

ApiResult<PageRequest> parse_pagination(const QueryParams& q) {
  PageRequest p;
  if (auto page = q.get("page")) {
    auto v = parse_int_param("page", *page, 1, static_cast<std::int64_t>(limits::kMaxPage));
    if (!v) return v.error();
    p.page = static_cast<std::size_t>(*v);
  }
  if (auto size = q.get("size")) {
    auto v = parse_int_param("size", *size, 1, static_cast<std::int64_t>(limits::kMaxPageSize));
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
  return json::object{{"page", p.page},         {"size", p.size},         {"total", p.total},
                      {"pages", p.pages},       {"has_next", p.has_next}, {"has_prev", p.has_prev}};
}

ApiResult<std::int64_t> parse_path_id(std::string_view segment, std::string_view what,
                                      std::string_view field) {
  bool overflow = false;
  auto v = parse_digits(segment, overflow);
  if (v && *v > 0) return ApiResult<std::int64_t>(boost::system::in_place_value, *v);
  if (v || overflow) {  // 0, or more digits than any id can have
    // Same shape as the engine's not-found errors: details {"resource", "id"}.
    ApiError e = make_error(404, "NOT_FOUND",
                            std::string(what) + " " + std::string(segment) + " not found");
    e.details["resource"] = what;
    if (v) e.details["id"] = *v;
    else e.details["id"] = segment;
    return e;
  }
  return invalid(std::string(field), std::string(field) + " must be a positive integer");
}

// ---- responses ----

HttpResponse json_response(const ResponseMeta& m, int status, std::string body) {
  HttpResponse res{static_cast<http::status>(status), m.version};
  res.set(http::field::server, "valtronics");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(m.keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string error_body(const ApiError& e) {
  return protocol::to_json(json::object{
      {"success", false},
      {"error", json::object{{"code", e.code}, {"message", e.message}, {"details", e.details}}}});
}

HttpResponse error_response(const ResponseMeta& m, const ApiError& e) {
  return json_response(m, e.http_status, error_body(e));
}

ApiError to_api_error(const model::DomainError& e) {
  using K = model::DomainError::Kind;
  ApiError out;
  out.message = e.message;
  out.details = e.details;
  switch (e.kind) {
    case K::invalid: out.http_status = 400; out.code = "VALIDATION_ERROR"; break;
    case K::not_found: out.http_status = 404; out.code = "NOT_FOUND"; break;
    case K::device_not_found: out.http_status = 404; out.code = "DEVICE_NOT_FOUND"; break;
    case K::conflict: out.http_status = 409; out.code = "CONFLICT"; break;
    case K::invalid_state: out.http_status = 409; out.code = "INVALID_STATE"; break;
    case K::unavailable: out.http_status = 503; out.code = "SERVICE_UNAVAILABLE"; break;
    case K::internal: out.http_status = 500; out.code = "INTERNAL_ERROR"; break;
  }
  if (!e.field.empty() && !out.details.contains("field")) out.details["field"] = e.field;
  return out;
}

model::DomainError to_domain_error(const ApiError& e) {
  std::string field;
  if (auto* f = e.details.if_contains("field"); f && f->is_string()) field = f->get_string();
  return model::DomainError{model::DomainError::Kind::invalid, e.message, std::move(field),
                            e.details};
}

HttpResponse data_response(const ResponseMeta& m, int status, json::value data) {
  json::object body;
  body["success"] = true;
  body["data"] = std::move(data);
  return json_response(m, status, protocol::to_json(body));
}

HttpResponse page_response(const ResponseMeta& m, json::array items, const PageInfo& p) {
  json::object body;
  body["success"] = true;
  body["data"] = std::move(items);
  body["pagination"] = to_json(p);
  return json_response(m, 200, protocol::to_json(body));
}

HttpResponse method_not_allowed(const ResponseMeta& m, std::string_view path,
                                std::string_view allow) {
  ApiError e = make_error(405, "METHOD_NOT_ALLOWED",
                          "use " + std::string(allow) + " on " + std::string(path));
  e.details = json::object{{"allow", allow}};
  auto res = error_response(m, e);
  res.set(http::field::allow, allow);
  return res;
}

// ---- authentication, authorization, bodies ----

ApiResult<auth::Claims> authenticate(const HttpRequest& req, ServerContext& ctx) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return unauthorized("missing Authorization: Bearer token");
  std::string_view value = it->value();
  constexpr std::string_view prefix = "Bearer ";
  if (value.size() <= prefix.size() || value.substr(0, prefix.size()) != prefix)
    return unauthorized("Authorization header must be 'Bearer <token>'");
  auto claims = ctx.verifier.verify(value.substr(prefix.size()), util::Clock::now());
  if (!claims) return unauthorized(claims.error().message);
  return std::move(*claims);
}

ApiResult<void> authorize(const auth::Claims& c, Access a) {
  using auth::Role;
  switch (a) {
    case Access::read:
      if (c.role != Role::device) return {};
      return forbidden("device tokens may only ingest telemetry");
    case Access::write:
      if (c.role == Role::admin || c.role == Role::operator_) return {};
      return forbidden("admin or operator token required");
    case Access::respond:
      if (c.role == Role::admin || c.role == Role::operator_ || c.role == Role::analyst) return {};
      return forbidden("admin, operator or analyst token required");
  }
  return forbidden("not allowed");
}

ApiResult<json::object> parse_body(const HttpRequest& req, bool optional) {
  std::string_view body = req.body();
  if (std::all_of(body.begin(), body.end(),
                  [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; })) {
    if (optional) return json::object{};
    return invalid("body", "a JSON object body is required");
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return invalid("body", "body is not valid JSON: " + ec.message());
  if (!v.is_object()) return invalid("body", "body must be a JSON object");
  return std::move(v.as_object());
}

// ---- dispatch ----

std::optional<auth::Claims> admit(const RestRequest& r, Access a, Respond& respond) {
  auto claims = authenticate(r.req, r.ctx);
  if (!claims) {
    respond(error_response(r.meta, claims.error()));
    return std::nullopt;
  }
  if (auto ok = authorize(*claims, a); !ok) {
    respond(error_response(r.meta, ok.error()));
    return std::nullopt;
  }
  if (r.ctx.engine == nullptr) {
    respond(error_response(r.meta, engine_unavailable()));
    return std::nullopt;
  }
  return std::move(*claims);
}

std::optional<std::int64_t> path_id(const RestRequest& r, std::string_view segment,
                                    std::string_view what, Respond& respond) {
  auto id = parse_path_id(segment, what);
  if (!id) {
    respond(error_response(r.meta, id.error()));
    return std::nullopt;
  }
  return *id;
}

std::optional<QueryParams> query_params(const RestRequest& r, Respond& respond) {
  auto q = parse_query(r.query);
  if (!q) {
    respond(error_response(r.meta, q.error()));
    return std::nullopt;
  }
  return std::move(*q);
}

std::optional<json::object> body_object(const RestRequest& r, bool optional, Respond& respond) {
  auto body = parse_body(r.req, optional);
  if (!body) {
    respond(error_response(r.meta, body.error()));
    return std::nullopt;
  }
  return std::move(*body);
}

bool dispatch(const HttpRequest& req, ServerContext& ctx, Respond& respond) {
  auto target = split_target(req.target());
  auto segments = path_segments(target.path, "/api/v1/");
  if (!segments || segments->empty()) return false;
  const std::string_view resource = segments->front();
  if (resource != "devices" && resource != "alert-rules" && resource != "alerts") return false;
  RestRequest r{req, ctx, std::move(*segments), target.path, target.query, ResponseMeta::of(req)};
  if (resource == "devices") handle_devices(r, std::move(respond));
  else if (resource == "alert-rules") handle_rules(r, std::move(respond));
  else handle_alerts(r, std::move(respond));
  return true;
}

}  // namespace valtronics::net::rest
