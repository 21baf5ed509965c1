// Alerts: JSON form and the notes body.
#include "api/alert_json.hpp"

#include <boost/json/string.hpp>
#include <string_view>

#include "api/body_fields.hpp"
#include "config/limits.hpp"
#include "util/time.hpp"

namespace valtronics::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxNotes = limits::kMaxNotesChars;  // config/limits.hpp, "stored text"
constexpr std::string_view kNotesFields[] = {"notes"};

json::value time_or_null(const std::optional<util::TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(util::iso8601(*t));
}

json::value text_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return json::string(s);
}

}  // namespace

json::object to_json(const model::Alert& a) {
  json::object o;
  o["alert_id"] = a.id;
  o["device_id"] = a.device_id;
  o["severity"] = model::to_string(a.severity);
  o["alert_type"] = model::to_string(a.alert_type);
  o["title"] = a.title;
  o["message"] = a.message;
  o["status"] = model::to_string(a.status);
  o["timestamp"] = util::iso8601(a.timestamp);
  o["metadata"] = a.metadata;
  o["rule_id"] = a.rule_id ? json::value(*a.rule_id) : json::value(nullptr);
  o["acknowledged_at"] = time_or_null(a.acknowledged_at);
  o["acknowledged_by"] = text_or_null(a.acknowledged_by);
  o["resolved_at"] = time_or_null(a.resolved_at);
  o["resolved_by"] = text_or_null(a.resolved_by);
  o["notes"] = text_or_null(a.notes);
  return o;
}

model::Result<std::string> notes_from_json(const json::value& b) {
  if (b.is_null()) return std::string();  // empty body
  if (auto e = body::check_keys(b, kNotesFields, {}, "")) return *e;
  const json::object& o = b.get_object();
  std::string notes;
  if (const json::value* v = body::given(o, "notes"))
    if (auto e = body::read_text(*v, "notes", kMaxNotes, false, notes)) return *e;
  return notes;
}

}  // namespace valtronics::api
