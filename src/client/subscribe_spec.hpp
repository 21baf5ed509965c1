// The command line's short form of a subscription:
//   CHANNEL[:KEY=VALUE[;KEY=VALUE...]]   e.g.  telemetry:device_id=1,2;metrics=temperature
// turned into a channel and the `filters` object of a subscribe message. Pure, so `listen` can
// reject a bad --subscribe before connecting, naming the problem (exit 2).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace valtronics::client {

struct SubscribeSpec {
  std::string channel;          // telemetry, alerts, devices or system
  boost::json::object filters;  // ready for {"type":"subscribe","channel":...,"filters":...}
};

struct SpecResult {
  SubscribeSpec spec;
  std::string error;  // empty on success; otherwise names the channel, key or value at fault
  explicit operator bool() const { return error.empty(); }
};

// Keys by channel (as in docs/protocol.md) and how their values are typed:
//   device_id        telemetry, alerts, devices   list of positive integers
//   metrics          telemetry, system            list of names
//   frequency        telemetry, system            "real-time", "500ms", "1s", ... (server-checked)
//   severity         alerts                       list of info, warning, critical
//   alert_type       alerts                       list of names
//   since_alert_id   alerts                       integer >= 0
//   status_types     devices                      list of names
//   snapshot         telemetry, devices           true or false
// Values are comma-separated; spaces around separators are ignored; a key may appear once.
SpecResult parse_subscribe_spec(std::string_view text);

}  // namespace valtronics::client
