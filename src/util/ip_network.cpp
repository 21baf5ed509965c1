// Address and CIDR parsing, and the prefix comparison behind IpNetwork::contains.
#include "util/ip_network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace valtronics::util {

namespace {

// inet_pton wants a NUL-terminated string; addresses are short, so a stack copy does.
constexpr std::size_t kMaxAddressText = 64;

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    if (::inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  if (::inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    return a;
  }
  a.v6 = true;
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return {};
  return buf;
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned max_prefix = address->v6 ? 128 : 32;
  // An IPv4-mapped base ("::ffff:10.0.0.0/104") was read as IPv4: its prefix counts the 96
  // mapping bits.
  const bool mapped = !address->v6 && text.substr(0, slash).find(':') != std::string_view::npos;
  IpNetwork n;
  n.base_ = *address;
  n.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.prefix_);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (mapped) {
      if (n.prefix_ < 96 || n.prefix_ > 128) return std::nullopt;
      n.prefix_ -= 96;
    }
    if (n.prefix_ > max_prefix) return std::nullopt;
  }
  // No bits past the prefix.
  for (unsigned bit = n.prefix_; bit < max_prefix; ++bit)
    if (n.base_.bytes[bit / 8] & (0x80u >> (bit % 8))) return std::nullopt;
  return n;
}

bool IpNetwork::contains(const IpAddress& a) const {
  if (a.v6 != base_.v6) return false;
  const unsigned whole = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(a.bytes.data(), base_.bytes.data(), whole) != 0) return false;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a.bytes[whole] & mask) == (base_.bytes[whole] & mask);
}

std::string IpNetwork::to_string() const {
  return base_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace valtronics::util
