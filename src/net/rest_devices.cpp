// REST: /api/v1/devices.
//   GET    /devices                      list (filters status, device_type; page, size)   read
//   POST   /devices                      create (201)                                     write
//   GET    /devices/{id}                 one device                                       read
//   PUT    /devices/{id}, PATCH          partial update                                   write
//   DELETE /devices/{id}                 delete (200 with the deleted device)             write
//   PUT    /devices/{id}/status          {status, reason, metadata}                       write
//   GET    /devices/{id}/telemetry/latest  latest value of each metric                    read
// Reads pass the claims to the engine, which hides devices outside an analyst's or user's
// `devices` claim (404 for one, absent from lists).
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include "engine/engine.hpp"
#include "net/rest_common.hpp"
#include "util/time.hpp"

namespace valtronics::net::rest {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

void list_devices(const RestRequest& r, Respond respond) {
  auto claims = admit(r, Access::read, respond);
  if (!claims) return;
  auto q = query_params(r, respond);
  if (!q) return;
  auto page = parse_pagination(*q);
  if (!page) return respond(error_response(r.meta, page.error()));
  engine::DeviceQuery dq;
  if (auto status = q->get("status")) {
    dq.status = model::from_string<model::DeviceStatus>(*status);
    if (!dq.status)
      return respond(error_response(
          r.meta, invalid("status", "status must be one of " +
                                        model::names_list<model::DeviceStatus>())));
  }
  if (auto type = q->get("device_type")) {
    dq.device_type = model::from_string<model::DeviceType>(*type);
    if (!dq.device_type)
      return respond(error_response(
          r.meta, invalid("device_type", "device_type must be one of " +
                                             model::names_list<model::DeviceType>())));
  }
  dq.page = page->page;
  dq.size = page->size;
  r.ctx.engine->list_devices(std::move(dq), std::move(*claims),
                             reply_page<engine::Page<model::Device>>(r.meta, std::move(respond),
                                                                      *page));
}

auto device_data() {
  return [](const model::Device& d) { return json::value(engine::to_json(d)); };
}

void get_device(const RestRequest& r, Respond respond) {
  auto claims = admit(r, Access::read, respond);
  if (!claims) return;
  auto id = path_id(r, r.segments[1], "device", respond);
  if (!id) return;
  r.ctx.engine->get_device(*id, std::move(*claims),
                           reply_data<model::Device>(r.meta, std::move(respond), 200,
                                                      device_data()));
}

void create_device(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto body = body_object(r, false, respond);
  if (!body) return;
  auto device = engine::device_from_json(json::value(std::move(*body)));
  if (!device) return respond(error_response(r.meta, device.error()));
  r.ctx.engine->create_device(std::move(*device),
                              reply_data<model::Device>(r.meta, std::move(respond), 201,
                                                         device_data()));
}

void update_device(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "device", respond);
  if (!id) return;
  auto body = body_object(r, false, respond);
  if (!body) return;
  // The patch is validated and applied on the engine thread, onto the current record.
  r.ctx.engine->update_device(
      *id,
      [patch = json::value(std::move(*body))](model::Device& d) {
        auto r = engine::apply_device_patch(d, patch);
        return r ? model::Result<void>() : model::Result<void>(to_domain_error(r.error()));
      },
      reply_data<model::Device>(r.meta, std::move(respond), 200, device_data()));
}

void delete_device(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "device", respond);
  if (!id) return;
  r.ctx.engine->delete_device(*id, reply_data<model::Device>(r.meta, std::move(respond), 200,
                                                              device_data()));
}

void report_status(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "device", respond);
  if (!id) return;
  auto body = body_object(r, false, respond);
  if (!body) return;
  auto report = engine::status_report_from_json(json::value(std::move(*body)));
  if (!report) return respond(error_response(r.meta, report.error()));
  r.ctx.engine->report_status(*id, std::move(*report),
                              reply_data<model::Device>(r.meta, std::move(respond), 200,
                                                         device_data()));
}

// {"device_id":1,"telemetry":{"temperature":{"value":23.5,"unit":"°C","timestamp":"..."}}}: the
// shape of a telemetry_update (unit omitted when the reading had none).
void latest_telemetry(const RestRequest& r, Respond respond) {
  auto claims = admit(r, Access::read, respond);
  if (!claims) return;
  auto id = path_id(r, r.segments[1], "device", respond);
  if (!id) return;
  r.ctx.engine->latest_telemetry(
      *id, std::move(*claims),
      reply_data<std::vector<model::MetricValue>>(
          r.meta, std::move(respond), 200,
          [device_id = *id](const std::vector<model::MetricValue>& values) {
            json::object telemetry;
            for (const auto& v : values) {
              json::object m{{"value", v.value}};
              if (!v.unit.empty()) m["unit"] = v.unit;
              m["timestamp"] = util::iso8601(v.timestamp);
              telemetry[v.metric] = std::move(m);
            }
            return json::value(json::object{{"device_id", device_id},
                                            {"telemetry", std::move(telemetry)}});
          }));
}

}  // namespace

void handle_devices(const RestRequest& r, Respond respond) {
  const auto& s = r.segments;
  const auto m = r.req.method();
  if (s.size() == 1) {
    if (m == http::verb::get) return list_devices(r, std::move(respond));
    if (m == http::verb::post) return create_device(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET, POST"));
  }
  if (s.size() == 2) {
    if (m == http::verb::get) return get_device(r, std::move(respond));
    if (m == http::verb::put || m == http::verb::patch) return update_device(r, std::move(respond));
    if (m == http::verb::delete_) return delete_device(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET, PUT, PATCH, DELETE"));
  }
  if (s.size() == 3 && s[2] == "status") {
    if (m == http::verb::put) return report_status(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "PUT"));
  }
  if (s.size() == 4 && s[2] == "telemetry" && s[3] == "latest") {
    if (m == http::verb::get) return latest_telemetry(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET"));
  }
  respond(error_response(r.meta, route_not_found(r.path)));
}

}  // namespace valtronics::net::rest
