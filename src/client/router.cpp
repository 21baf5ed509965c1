// Duplicate and gap bookkeeping for incoming updates; see router.hpp.
#include "client/router.hpp"

#include <algorithm>

namespace valtronics::client {

namespace json = boost::json;

namespace {
bool is_update(std::string_view type) {
  // telemetry_stale (an extension, stale_after) is numbered on the telemetry channel too.
  return type == "telemetry_update" || type == "alert" || type == "device_status_update" ||
         type == "system_status_update" || type == "telemetry_stale";
}

std::int64_t int_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}
}  // namespace

void Router::note_since(std::int64_t id) { last_alert_id_ = std::max(last_alert_id_, id); }

Router::Verdict Router::judge(std::string_view type, const json::object& msg) {
  if (!is_update(type)) return Verdict::deliver;

  // seq first: a frame repeated on the same connection is a duplicate whatever it carries.
  if (std::int64_t seq = int_field(msg, "seq"); seq > 0) {
    std::string_view channel = type;
    if (auto* c = msg.if_contains("channel"); c && c->is_string()) channel = c->get_string();
    auto it = last_seq_.find(channel);
    std::int64_t last = it == last_seq_.end() ? 0 : it->second;
    if (seq <= last) {
      ++duplicates_;
      return Verdict::duplicate;
    }
    std::int64_t merged = int_field(msg, "conflated");
    if (merged > 1) conflated_ += static_cast<std::uint64_t>(merged - 1);
    std::int64_t skipped = seq - last - 1 - std::max<std::int64_t>(0, merged - 1);
    if (skipped > 0) lost_ += static_cast<std::uint64_t>(skipped);
    if (it == last_seq_.end()) last_seq_.emplace(std::string(channel), seq);
    else it->second = seq;
  }

  if (type == "alert") {
    std::int64_t id = int_field(msg, "alert_id");
    if (id > 0) {
      std::string status;
      if (auto* s = msg.if_contains("status"); s && s->is_string()) status = s->get_string();
      auto [it, fresh] = alerts_.try_emplace(id, status);
      if (!fresh) {
        if (it->second == status) {
          ++duplicates_;
          return Verdict::duplicate;
        }
        it->second = status;
      }
      // Forget the oldest ids first: a replay asks for ids above the newest seen, so an old id
      // coming back is a state change, delivered either way.
      if (alerts_.size() > kRememberedAlerts) alerts_.erase(alerts_.begin());
      last_alert_id_ = std::max(last_alert_id_, id);
    }
  }
  return Verdict::deliver;
}

}  // namespace valtronics::client
