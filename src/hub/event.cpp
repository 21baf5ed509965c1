// Accessors of hub::Event that need to look inside the body variant.
#include "hub/event.hpp"

#include <type_traits>

namespace valtronics::hub {

std::int64_t Event::device_id() const {
  return std::visit(
      [](const auto& b) -> std::int64_t {
        // System events describe the server itself; 0 is never a valid device id.
        if constexpr (std::is_same_v<std::decay_t<decltype(b)>, SystemEvent>) {
          return 0;
        } else {
          return b.device_id;
        }
      },
      body);
}

}  // namespace valtronics::hub
