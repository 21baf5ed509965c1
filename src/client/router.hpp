// Decides, for each update the server sends, whether the application sees it, and keeps the
// bookkeeping a resume needs:
//  - alerts: delivered once per (alert_id, status). After a reconnect the client asks for the
//    alerts after the last one it saw (`since_alert_id`); overlapping replays (an every-device
//    and a per-device subscription both replaying) and a replay racing a live alert are
//    filtered here, so the application never sees the same alert state twice. A status change
//    (acknowledged, resolved) of a known alert is new and is delivered.
//  - seq: counted per connection and channel from 1. A number not above the last one is a
//    duplicate; a jump is a gap, explained by `conflated` (n updates merged skip n-1 numbers)
//    or counted as lost.
// Pure: no IO, unit-tested.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace valtronics::client {

class Router {
 public:
  // How many (alert_id, status) pairs are remembered: far more than one replay gap holds in
  // practice, and a bounded memory for a client that runs for months.
  static constexpr std::size_t kRememberedAlerts = 4096;

  enum class Verdict { deliver, duplicate };

  // A new connection: the server's seq counters start again from 1.
  void new_connection() { last_seq_.clear(); }

  // Judges a message of type `type` (only updates and alerts are judged; anything else is
  // delivered) and updates the counters.
  Verdict judge(std::string_view type, const boost::json::object& msg);

  // A subscription asked for the alerts after `id`: the resume point never goes back.
  void note_since(std::int64_t id);

  // The highest alert id delivered (or noted with note_since); 0 when none.
  std::int64_t last_alert_id() const { return last_alert_id_; }

  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t lost() const { return lost_; }            // seq numbers skipped, unexplained
  std::uint64_t conflated() const { return conflated_; }  // updates merged by the server

 private:
  std::map<std::int64_t, std::string> alerts_;  // alert_id -> last status delivered
  std::map<std::string, std::int64_t, std::less<>> last_seq_;  // channel -> last seq
  std::int64_t last_alert_id_ = 0;
  std::uint64_t duplicates_ = 0, lost_ = 0, conflated_ = 0;
};

}  // namespace valtronics::client
