// Parsing of mqtt.url (see broker_url.hpp).
#include "mqtt/broker_url.hpp"

#include <charconv>

namespace valtronics::mqtt {

std::string BrokerUrl::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "mqtts://" : "mqtt://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::optional<BrokerUrl> parse_broker_url(std::string_view url, std::string& why) {
  BrokerUrl out;
  std::string_view rest = url;
  if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("mqtts://")) {
    rest.remove_prefix(8);
    out.tls = true;
    out.port = 8883;
  } else {
    why = "must start with mqtt:// or mqtts://";
    return std::nullopt;
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    why = "takes no path (topics come from mqtt.topic_prefix)";
    return std::nullopt;
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view creds = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = creds.find(':');
    out.username = std::string(creds.substr(0, colon));
    if (colon != std::string_view::npos) out.password = std::string(creds.substr(colon + 1));
  }
  std::string_view port_text;
  if (rest.starts_with('[')) {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      why = "an IPv6 address must be closed with ]";
      return std::nullopt;
    }
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        why = "expected :PORT after the IPv6 address";
        return std::nullopt;
      }
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (out.host.empty()) {
    why = "names no host";
    return std::nullopt;
  }
  // A colon with nothing after it ("host:") is an error too, not the default port.
  if (!port_text.empty() || rest.ends_with(':')) {
    unsigned port = 0;
    const char* end = port_text.data() + port_text.size();
    auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
    if (port_text.empty() || ec != std::errc() || ptr != end || port == 0 || port > 65535) {
      why = "port \"" + std::string(port_text) + "\" is not a number from 1 to 65535";
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace valtronics::mqtt
