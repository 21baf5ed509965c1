// /api/v1/devices. Reads pass the claims to the engine, which hides devices outside an
// analyst's or user's `devices` claim (404 for one, absent from lists).
#include <boost/json/object.hpp>

#include "api/device_json.hpp"
#include "api/handlers.hpp"
#include "engine/engine.hpp"

namespace valtronics::api::devices {

namespace json = boost::json;
using auth::Action;

namespace {

auto device_data() {
  return [](const model::Device& d) { return to_json(d); };
}

}  // namespace

void list(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto page = parse_pagination(*q);
  if (!page) return c.fail(page.error());
  auto status = parse_enum_param<model::DeviceStatus>(*q, "status");
  if (!status) return c.fail(status.error());
  auto type = parse_enum_param<model::DeviceType>(*q, "device_type");
  if (!type) return c.fail(type.error());
  engine::DeviceQuery dq;
  dq.status = *status;
  dq.device_type = *type;
  dq.page = page->page;
  dq.size = page->size;
  c.ctx.engine.list_devices(std::move(dq), std::move(*claims),
                            reply_page<engine::Page<model::Device>>(std::move(c.respond), *page,
                                                                    device_data()));
}

void get(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto id = path_id(c, 0, "device");
  if (!id) return;
  c.ctx.engine.get_device(*id, std::move(*claims),
                          reply_data<model::Device>(std::move(c.respond), 200, device_data()));
}

void create(Call& c) {
  if (!admit(c, Action::write)) return;
  auto body = body_object(c, false);
  if (!body) return;
  auto device = device_from_json(json::value(std::move(*body)));
  if (!device) return c.fail(device.error());
  c.ctx.engine.create_device(std::move(*device),
                             reply_data<model::Device>(std::move(c.respond), 201, device_data()));
}

void update(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "device");
  if (!id) return;
  auto body = body_object(c, false);
  if (!body) return;
  // The patch is validated and applied on the engine thread, onto the current record.
  c.ctx.engine.update_device(
      *id,
      [patch = json::value(std::move(*body))](model::Device& d) {
        return apply_device_patch(d, patch);
      },
      reply_data<model::Device>(std::move(c.respond), 200, device_data()));
}

void remove(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "device");
  if (!id) return;
  c.ctx.engine.delete_device(*id,
                             reply_data<model::Device>(std::move(c.respond), 200, device_data()));
}

void report_status(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "device");
  if (!id) return;
  auto body = body_object(c, false);
  if (!body) return;
  auto report = status_report_from_json(json::value(std::move(*body)));
  if (!report) return c.fail(report.error());
  c.ctx.engine.report_status(*id, std::move(*report),
                             reply_data<model::Device>(std::move(c.respond), 200, device_data()));
}

void latest_telemetry(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto id = path_id(c, 0, "device");
  if (!id) return;
  answer_latest_telemetry(c, *id, std::move(*claims));
}

void answer_latest_telemetry(Call& c, std::int64_t id, auth::Claims claims) {
  c.ctx.engine.latest_telemetry(
      id, std::move(claims),
      reply_data<std::vector<model::MetricValue>>(
          std::move(c.respond), 200,
          [device_id = id](const std::vector<model::MetricValue>& values) {
            return latest_telemetry_json(device_id, values);
          }));
}

}  // namespace valtronics::api::devices
