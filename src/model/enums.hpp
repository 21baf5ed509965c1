// The domain's closed sets, each an enum with one name table (enum_names.hpp): channels, alert
// severities, alert types, alert statuses, device statuses, device types and rule conditions.
// Names are the platform's wire names (shared/reference/platform-models.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/enum_names.hpp"

namespace valtronics::model {

// The WebSocket channels (spec: telemetry, alerts, devices, system).
enum class Channel : std::uint8_t { telemetry, alerts, devices, system };
inline constexpr std::size_t kChannelCount = 4;
template <>
struct EnumNames<Channel> {
  static constexpr std::array<std::string_view, kChannelCount> names{"telemetry", "alerts",
                                                                     "devices", "system"};
};

enum class Severity : std::uint8_t { info, warning, critical };
template <>
struct EnumNames<Severity> {
  static constexpr std::array<std::string_view, 3> names{"info", "warning", "critical"};
};

enum class AlertType : std::uint8_t { threshold, anomaly, device, system, manual };
template <>
struct EnumNames<AlertType> {
  static constexpr std::array<std::string_view, 5> names{"threshold", "anomaly", "device",
                                                         "system", "manual"};
};

// An alert's states, in the only order it may go through: the value is the state's rank, and a
// state never goes back (a replay or a late event with a lower rank is stale).
enum class AlertStatus : std::uint8_t { active, acknowledged, resolved };
template <>
struct EnumNames<AlertStatus> {
  static constexpr std::array<std::string_view, 3> names{"active", "acknowledged", "resolved"};
};
constexpr int rank(AlertStatus s) { return static_cast<int>(s); }

enum class DeviceStatus : std::uint8_t { online, offline, warning, error, maintenance };
template <>
struct EnumNames<DeviceStatus> {
  static constexpr std::array<std::string_view, 5> names{"online", "offline", "warning", "error",
                                                         "maintenance"};
};

enum class DeviceType : std::uint8_t { sensor, actuator, gateway, controller, monitor };
template <>
struct EnumNames<DeviceType> {
  static constexpr std::array<std::string_view, 5> names{"sensor", "actuator", "gateway",
                                                         "controller", "monitor"};
};

// An alert rule's comparison of a reading against its threshold.
enum class Condition : std::uint8_t { gt, gte, lt, lte, eq, ne };
template <>
struct EnumNames<Condition> {
  static constexpr std::array<std::string_view, 6> names{"gt", "gte", "lt", "lte", "eq", "ne"};
};

}  // namespace valtronics::model
