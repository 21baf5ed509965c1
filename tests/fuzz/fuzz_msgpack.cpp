// Fuzz target: a client's MessagePack message (the valtronics.msgpack subprotocol,
// codec::from_msgpack), as the server reads a binary frame, then parsed as a request.
//
// Input layout: the whole input is the frame's payload.
//
// Checked: a refusal says why (a short, non-empty reason); an accepted value has the depth
// allowed; packing it and reading it back gives the same value (so the reader takes exactly what
// the writer writes); a message that is a map goes through parse_request_value without throwing;
// map_head agrees with the reader on a map's entry count.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "check.hpp"
#include "codec/msgpack_json.hpp"
#include "protocol/parse.hpp"

namespace {

constexpr int kMaxDepth = 32;

int depth(const boost::json::value& v) {
  int d = 0;
  if (const auto* a = v.if_array())
    for (const auto& e : *a) d = std::max(d, 1 + depth(e));
  if (const auto* o = v.if_object())
    for (const auto& kv : *o) d = std::max(d, 1 + depth(kv.value()));
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto value = valtronics::codec::from_msgpack(bytes, why, kMaxDepth);
  if (!value) {
    FUZZ_CHECK(!why.empty() && why.size() < 200, "a refusal without a short reason: '%s'",
               why.c_str());
    return 0;
  }
  FUZZ_CHECK(depth(*value) <= kMaxDepth, "a value nested %d deep was accepted", depth(*value));
  const std::string packed = valtronics::codec::to_msgpack(*value);
  std::string again_why;
  const auto again = valtronics::codec::from_msgpack(packed, again_why, kMaxDepth);
  FUZZ_CHECK(again && *again == *value, "packing then reading changed the value: %s",
             again_why.c_str());
  if (const auto* o = value->if_object()) {
    const auto head = valtronics::codec::map_head(bytes);
    FUZZ_CHECK(head.has_value(), "a map whose header map_head cannot read");
    // Duplicate keys collapse in the JSON object; never more entries than the header says.
    FUZZ_CHECK(o->size() <= head->count, "%zu entries from a header of %u", o->size(),
               head->count);
    valtronics::protocol::ParseOptions opts;
    (void)valtronics::protocol::parse_request_value(*value, opts);
  }
  return 0;
}
