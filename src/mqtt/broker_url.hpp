// `mqtt.url` (flag --mqtt-url): mqtt://[USER[:PASSWORD]@]HOST[:PORT][/] with port 1883 by
// default, or mqtts:// (TLS) with 8883. HOST may be a name, an IPv4 address or [IPv6].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::mqtt {

struct BrokerUrl {
  bool tls = false;
  std::string host;
  std::uint16_t port = 1883;
  std::string username, password;  // from the URL; empty when it has none
  // scheme://host:port, never the credentials: for logs and /health.
  std::string display() const;
};

// The parsed URL, or nullopt with `why` saying what is wrong with it.
std::optional<BrokerUrl> parse_broker_url(std::string_view url, std::string& why);

}  // namespace valtronics::mqtt
