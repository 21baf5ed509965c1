#include "protocol/subprotocol.hpp"

#include "util/text.hpp"

namespace valtronics::protocol {

std::optional<Subprotocol> choose_subprotocol(std::string_view offers) {
  for (;;) {
    const auto at = offers.find(',');
    const auto name = util::trim_blanks(offers.substr(0, at));
    if (name == kJsonSubprotocol) return Subprotocol{Encoding::json, kJsonSubprotocol};
    if (name == kMsgpackSubprotocol) return Subprotocol{Encoding::msgpack, kMsgpackSubprotocol};
    if (at == std::string_view::npos) return std::nullopt;
    offers.remove_prefix(at + 1);
  }
}

}  // namespace valtronics::protocol
