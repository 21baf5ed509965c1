// /api/v1/telemetry (GET), /history, /latest, /export (issue 14; docs/telemetry.md). Parameters
// are checked here, on the I/O thread; the reads run on store::Reader's threads, which answer
// the call from there (the transport posts the answer back to the connection's thread). The
// devices claim: an analyst or user names only its devices (history: 404 for another; lists and
// export: other devices are absent); device tokens may not read (403, by admit).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/handlers.hpp"
#include "api/telemetry_query.hpp"
#include "protocol/json_writer.hpp"
#include "store/reader.hpp"
#include "store/repositories.hpp"
#include "util/epoch_ms.hpp"
#include "util/time.hpp"

namespace valtronics::api::telemetry {

namespace json = boost::json;
namespace tq = telemetry_query;
using auth::Action;

namespace {

std::int64_t now_ms() { return util::to_epoch_ms(util::Clock::now()); }

std::string iso(std::int64_t ms) { return util::iso8601(util::from_epoch_ms(ms)); }

json::object reading_json(const model::MetricValue& v) {
  return json::object{{"device_id", v.device_id},
                      {"metric_name", v.metric},
                      {"metric_value", v.value},
                      {"timestamp", util::iso8601(v.timestamp)}};
}

Response reader_busy() {
  Response r = error_response(ErrorCode::service_unavailable,
                              "the history reader is busy; retry shortly",
                              json::object{{"retry_after_s", 1}});
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// Runs `read` on a reader thread and answers with what it returns; a store failure is 500.
// Answers 503 at once when the reader is missing or its queue is full.
template <class Read>
void on_reader(Call& c, Read read) {
  store::Reader* reader = c.ctx.reader;
  if (!reader)
    return c.respond(error_response(ErrorCode::service_unavailable,
                                    "telemetry history is not available on this server"));
  auto respond = std::make_shared<Respond>(c.respond);
  const bool queued = reader->submit([respond, read = std::move(read)](store::Database& db) mutable {
    Response res;
    try {
      res = read(db);
    } catch (const std::exception& e) {
      spdlog::error("telemetry history read failed: {}", e.what());
      res = error_response(ErrorCode::internal_error, "the history could not be read");
    }
    (*respond)(std::move(res));
  });
  if (!queued) (*respond)(reader_busy());
}

// The device ids a list or export reads: those asked (device_id=1,2), or every device, within
// what the claims see. nullopt: the claims see none of them (an empty answer, nothing read).
std::optional<std::vector<std::int64_t>> visible_devices(const auth::Claims& claims,
                                                         std::vector<std::int64_t> asked) {
  if (auth::sees_every_device(claims)) return asked;
  std::vector<std::int64_t> out;
  if (asked.empty()) {
    out = claims.devices;
  } else {
    for (auto id : asked)
      if (auth::may_see_device(claims, id)) out.push_back(id);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// What a list or an export reads, from device_id (one id or a list), metric_name, start and
// end: the filter, within the devices the claims see. None of them visible: `none_visible`
// (nothing is read). nullopt: a parameter was refused (answered).
struct Selection {
  store::HistoryFilter filter;
  bool none_visible = false;
};
std::optional<Selection> parse_selection(Call& c, const auth::Claims& claims,
                                         const QueryParams& q,
                                         std::optional<std::int64_t> default_span_ms) {
  auto devices = parse_id_list_param(q, "device_id");
  if (!devices) {
    c.fail(devices.error());
    return std::nullopt;
  }
  auto metric = tq::parse_metric(q, false);
  if (!metric) {
    c.fail(metric.error());
    return std::nullopt;
  }
  auto range = tq::parse_range(q, now_ms(), default_span_ms);
  if (!range) {
    c.fail(range.error());
    return std::nullopt;
  }
  Selection s;
  auto visible = visible_devices(claims, std::move(*devices));
  s.none_visible = !visible;
  if (visible) s.filter.device_ids = std::move(*visible);
  if (!metric->empty()) s.filter.metric = std::move(*metric);
  s.filter.start_ms = range->start_ms;
  s.filter.end_ms = range->end_ms;
  return s;
}

// ---- export ----

// Rows per piece of an export body: a piece is one reader job and one chunk on the wire.
constexpr std::size_t kExportPieceRows = 4000;

// The export's body, produced piece by piece on the reader's threads: each piece is the next
// kExportPieceRows readings by device, metric and ts (store::export_history, which keeps its
// place in cursor_), so memory holds one piece whatever the range.
class ExportStream : public BodyStream, public std::enable_shared_from_this<ExportStream> {
 public:
  ExportStream(store::Reader& reader, store::HistoryFilter filter, tq::ExportFormat format)
      : reader_(reader), filter_(std::move(filter)), format_(format) {}

  void next(Deliver deliver) override {
    if (done_) return deliver(std::string());
    auto self = shared_from_this();
    const bool queued = reader_.submit(
        [self, deliver](store::Database& db) mutable {
          std::optional<std::string> piece;
          try {
            piece = self->produce(db);
          } catch (const std::exception& e) {
            spdlog::error("telemetry export failed after {} rows: {}", self->rows_, e.what());
          }
          deliver(std::move(piece));
        },
        true);
    if (!queued) deliver(std::nullopt);  // the server stops
  }

 private:
  // The next piece: never "" until the body is complete (an empty range still has its header
  // or its brackets).
  std::string produce(store::Database& db) {
    std::string out;
    if (!started_) {
      out = format_ == tq::ExportFormat::csv ? "device_id,metric_name,metric_value,timestamp\n"
                                             : "[";
      started_ = true;
    }
    auto rows = store::export_history(db, filter_, cursor_, kExportPieceRows);
    out.reserve(out.size() + rows.size() * 80);
    for (const auto& r : rows) {
      if (format_ == tq::ExportFormat::csv) {
        protocol::append_json_int(out, r.device_id);
        out += ',';
        out += r.metric;  // [a-z0-9_.-]: nothing to quote
        out += ',';
        protocol::append_json_double(out, r.value);
        out += ',';
        out += util::iso8601(r.timestamp);
        out += '\n';
      } else {
        if (rows_ > 0) out += ',';
        protocol::append_json(out, reading_json(r));
      }
      ++rows_;
    }
    if (rows.size() < kExportPieceRows) {
      if (format_ == tq::ExportFormat::json) out += ']';
      done_ = true;
    }
    return out;
  }

  store::Reader& reader_;
  store::HistoryFilter filter_;
  const tq::ExportFormat format_;
  // Touched by one reader thread at a time: next() is called again only after deliver ran.
  bool started_ = false, done_ = false;
  store::ExportCursor cursor_;
  std::size_t rows_ = 0;
};

}  // namespace

void list(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto sel = parse_selection(c, *claims, *q, std::nullopt);
  if (!sel) return;
  auto page = parse_pagination(*q, tq::kMaxRawPageSize);
  if (!page) return c.fail(page.error());
  if (sel->none_visible) return c.respond(page_response({}, page_info(*page, 0)));
  on_reader(c, [f = std::move(sel->filter), p = *page](store::Database& db) {
    const auto total = store::count_history(db, f);
    json::array items;
    if (p.offset() < static_cast<std::size_t>(total)) {
      auto rows = store::list_history(db, f, true, p.size, p.offset());
      items.reserve(rows.size());
      for (const auto& r : rows) items.push_back(reading_json(r));
    }
    return page_response(std::move(items), page_info(p, static_cast<std::size_t>(total)));
  });
}

void history(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto h = tq::parse_history(*q, now_ms());
  if (!h) return c.fail(h.error());
  if (!auth::may_see_device(*claims, h->device_id))
    return c.fail(model::not_found("device", h->device_id));
  on_reader(c, [h = std::move(*h)](store::Database& db) {
    if (!store::device_exists(db, h.device_id))
      return error_response(model::not_found("device", h.device_id));
    const auto buckets =
        store::history_buckets(db, h.device_id, h.metric, h.start_ms, h.end_ms, h.interval_ms);
    json::array points;
    points.reserve(buckets.size());
    for (const auto& b : buckets) {
      json::object p{{"timestamp", iso(b.start_ms)}};
      if (h.aggregation == tq::Aggregation::count) p["value"] = b.count;
      else p["value"] = tq::value_of(b, h.aggregation);
      p["count"] = b.count;
      points.push_back(std::move(p));
    }
    return data_response(200, json::object{{"device_id", h.device_id},
                                           {"metric_name", h.metric},
                                           {"interval", h.interval},
                                           {"aggregation", tq::to_string(h.aggregation)},
                                           {"start", iso(h.start_ms)},
                                           {"end", iso(h.end_ms)},
                                           {"points", std::move(points)}});
  });
}

void latest(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto id = tq::parse_device_id(*q);
  if (!id) return c.fail(id.error());
  devices::answer_latest_telemetry(c, *id, std::move(*claims));
}

void export_(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto sel = parse_selection(c, *claims, *q, tq::kDefaultSpanMs);
  if (!sel) return;
  const std::string format_name(q->get("format").value_or("csv"));
  auto format = tq::export_format_from(format_name);
  if (!format)
    return c.fail(model::invalid("format", "format must be one of csv, json (got '" +
                                               format_name.substr(0, 40) + "')"));
  if (!c.ctx.reader)
    return c.respond(error_response(ErrorCode::service_unavailable,
                                    "telemetry history is not available on this server"));
  store::HistoryFilter f = std::move(sel->filter);
  // No device visible: the body is still well formed (header only, or []), and reads nothing.
  if (sel->none_visible) f.device_ids = {0};  // no device has id 0
  Response res;
  res.status = 200;
  if (*format == tq::ExportFormat::csv) {
    res.content_type = "text/csv; charset=utf-8";
    res.headers.emplace_back("Content-Disposition",
                             "attachment; filename=\"telemetry.csv\"");
  } else {
    res.content_type = "application/json";
    res.headers.emplace_back("Content-Disposition",
                             "attachment; filename=\"telemetry.json\"");
  }
  res.stream = std::make_shared<ExportStream>(*c.ctx.reader, std::move(f), *format);
  c.respond(std::move(res));
}

}  // namespace valtronics::api::telemetry
