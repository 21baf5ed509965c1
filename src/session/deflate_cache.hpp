// The compressed forms (permessage-deflate) of the shared payloads this thread sends lately.
// An update is serialized once and shared by every connection of the thread (hub/); with no
// context takeover its compressed form is the same for every connection too, so the first
// connection that needs it compresses it and the others of the thread reuse it: compression
// costs once per update and thread, not once per delivery. Keyed by the shared payload itself
// (held weakly: an entry whose payload is gone never matches a new payload at the same address).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace valtronics::session::deflate_cache {

using Bytes = std::shared_ptr<const std::string>;

// `payload` compressed with `window_bits`: whole (a complete message), or, with `open_end`,
// its bytes but the last (the closing brace a per-connection suffix replaces) followed by a
// sync flush that more blocks may follow (protocol/permessage_deflate.hpp).
Bytes compressed(const Bytes& payload, int window_bits, bool open_end);

}  // namespace valtronics::session::deflate_cache
