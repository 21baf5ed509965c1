// What the client is subscribed to, so that a reconnect restores it. The server keeps no
// subscription across connections and keys them by (channel, device): `device_id: [1,2]` makes
// two keys, `unsubscribe` of device 1 removes one of them. The set mirrors exactly that, from the
// server's confirmations (`subscribed` carries the normalized filters), and rebuilds the fewest
// subscribe messages that restore it. Pure: no IO, unit-tested.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace valtronics::client {

class SubscriptionSet {
 public:
  // Records a `subscribed` reply: one key per id of filters.device_id, or the channel's "every
  // device" key when there is none. Replaces the filters of keys already present, as the server
  // does. `since_alert_id` is a one-off request, not part of the subscription, and is dropped.
  void confirm(std::string_view channel, const boost::json::object& filters);

  // Mirrors `unsubscribe`: with a device, that key only (device 0: the every-device key);
  // without, every key of the channel.
  void remove(std::string_view channel, std::optional<std::int64_t> device_id);

  // Subscribe messages (no `id`) that restore every key: keys of a channel with equal filters
  // share one message with their device list. Alerts messages carry `since_alert_id` when
  // `resume_after` is set (the last alert id seen), so the server replays what was missed.
  std::vector<boost::json::object> restore_messages(
      std::optional<std::int64_t> resume_after) const;

  std::size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }
  bool has_channel(std::string_view channel) const;

 private:
  // (channel, device id or 0 for every device) -> filters without device_id / since_alert_id
  std::map<std::pair<std::string, std::int64_t>, boost::json::object> keys_;
};

}  // namespace valtronics::client
