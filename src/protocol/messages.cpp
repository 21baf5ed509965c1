// Wire names of the four channels. Kept next to the typed messages so the enum and its names
// cannot drift apart.
#include "protocol/messages.hpp"

#include <array>

namespace valtronics::protocol {

namespace {
// Indexed by Channel's value.
constexpr std::array<std::string_view, kChannelCount> kChannelNames{"telemetry", "alerts",
                                                                    "devices", "system"};
}  // namespace

std::string_view to_string(Channel c) {
  const auto i = static_cast<std::size_t>(c);
  return i < kChannelNames.size() ? kChannelNames[i] : std::string_view{"unknown"};
}

std::optional<Channel> channel_from_string(std::string_view s) {
  // Exact, case-sensitive match: the spec's names are lowercase and clients send them verbatim.
  for (std::size_t i = 0; i < kChannelNames.size(); ++i) {
    if (kChannelNames[i] == s) return static_cast<Channel>(i);
  }
  return std::nullopt;
}

}  // namespace valtronics::protocol
