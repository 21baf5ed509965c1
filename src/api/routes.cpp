// The route table and the API's routes.
#include "api/routes.hpp"

#include <algorithm>
#include <boost/json/object.hpp>

#include "api/errors.hpp"
#include "api/handlers.hpp"

namespace valtronics::api {

namespace {

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
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

RouteTable& RouteTable::add(Method m, std::string_view pattern, Handler h,
                            Pipelining pipelining) {
  std::vector<std::string> segments;
  for (auto s : split_path(pattern)) segments.emplace_back(s);
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const Route& r) { return r.segments == segments; });
  if (it == routes_.end()) it = routes_.insert(routes_.end(), Route{std::move(segments), {}});
  it->methods.push_back({m, std::move(h), pipelining});
  return *this;
}

std::optional<RouteTable::Match> RouteTable::match(std::string_view path) const {
  if (!path.starts_with('/')) return std::nullopt;
  const auto segments = split_path(path);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& pattern = routes_[i].segments;
    if (pattern.size() != segments.size()) continue;
    Match m{i, {}};
    bool ok = true;
    for (std::size_t s = 0; s < pattern.size() && ok; ++s) {
      if (is_param(pattern[s])) m.params.push_back(segments[s]);
      else ok = pattern[s] == segments[s];
    }
    if (ok) return m;
  }
  return std::nullopt;
}

std::string RouteTable::allow(std::size_t route) const {
  std::string out;
  for (const auto& e : routes_.at(route).methods) {
    if (!out.empty()) out += ", ";
    out += to_string(e.method);
  }
  return out;
}

Pipelining RouteTable::pipelining(Method m, std::string_view path) const {
  const auto found = match(path);
  if (!found) return Pipelining::no;
  for (const auto& e : routes_[found->route].methods)
    if (e.method == m) return e.pipelining;
  return Pipelining::no;
}

void RouteTable::dispatch(const Request& req, Context& ctx, Respond respond) const {
  auto m = match(req.path);
  if (!m) return respond(error_response(ErrorCode::not_found, "no route for " + req.path));
  for (const auto& e : routes_[m->route].methods) {
    if (e.method != req.method) continue;
    Call call{req, ctx, std::move(m->params), std::move(respond)};
    return e.handler(call);
  }
  const std::string allowed = allow(m->route);
  Response res = error_response(ErrorCode::method_not_allowed,
                                "use " + allowed + " on " + req.path,
                                boost::json::object{{"allow", allowed}});
  res.headers.emplace_back("Allow", allowed);
  respond(std::move(res));
}

const RouteTable& routes() {
  static const RouteTable table = [] {
    using enum Method;
    RouteTable t;
    t.add(get, "/health", health::get)
        .add(head, "/health", health::get)
        .add(get, "/api/v1/ws/stats", stats::get)
        .add(get, "/metrics", scrape::get)
        // Ingest goes to the engine's queue in order (api/ingest.cpp): a pipelined reading is
        // dispatched before the one ahead of it is answered (net/http_session).
        .add(post, "/api/v1/telemetry", ingest::single, Pipelining::in_engine_order)
        .add(post, "/api/v1/telemetry/batch", ingest::batch, Pipelining::in_engine_order)
        .add(get, "/api/v1/telemetry", telemetry::list)
        .add(get, "/api/v1/telemetry/history", telemetry::history)
        .add(get, "/api/v1/telemetry/latest", telemetry::latest)
        .add(get, "/api/v1/telemetry/export", telemetry::export_)
        .add(get, "/api/v1/devices", devices::list)
        .add(post, "/api/v1/devices", devices::create)
        .add(get, "/api/v1/devices/{id}", devices::get)
        .add(put, "/api/v1/devices/{id}", devices::update)
        .add(patch, "/api/v1/devices/{id}", devices::update)
        .add(delete_, "/api/v1/devices/{id}", devices::remove)
        .add(put, "/api/v1/devices/{id}/status", devices::report_status)
        .add(get, "/api/v1/devices/{id}/telemetry/latest", devices::latest_telemetry)
        .add(get, "/api/v1/alert-rules", rules::list)
        .add(post, "/api/v1/alert-rules", rules::create)
        .add(get, "/api/v1/alert-rules/{id}", rules::get)
        .add(put, "/api/v1/alert-rules/{id}", rules::update)
        .add(patch, "/api/v1/alert-rules/{id}", rules::update)
        .add(delete_, "/api/v1/alert-rules/{id}", rules::remove)
        .add(get, "/api/v1/alerts", alerts::list)
        .add(get, "/api/v1/alerts/{id}", alerts::get)
        .add(post, "/api/v1/alerts/{id}/acknowledge", alerts::acknowledge)
        .add(post, "/api/v1/alerts/{id}/resolve", alerts::resolve)
        .add(get, "/", web::index)
        .add(head, "/", web::index)
        .add(get, "/index.html", web::index)
        .add(head, "/index.html", web::index)
        .add(get, "/assets/{file}", web::asset)
        .add(head, "/assets/{file}", web::asset);
    return t;
  }();
  return table;
}

void handle(const Request& req, Context& ctx, Respond respond) {
  routes().dispatch(req, ctx, std::move(respond));
}

bool may_pipeline(Method m, std::string_view path) {
  return routes().pipelining(m, path) == Pipelining::in_engine_order;
}

}  // namespace valtronics::api
