// IP addresses and networks (IPv4 and IPv6) as plain values: parsing an address or a CIDR
// network and asking whether a network contains an address. Used for `server.trusted_proxies`
// (which peers may tell the client's address) and for the per-address bookkeeping that needs
// one canonical spelling of an address. No IO; inet_pton/inet_ntop do the text forms.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::util {

// One IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack
// socket reports for an IPv4 peer) is read as the IPv4 address, so that both spellings of one
// peer are the same address everywhere.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4

  // "192.0.2.1", "2001:db8::1" (no brackets, no port, no zone); nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  // The canonical text: dotted quad, or RFC 5952 IPv6 ("2001:db8::1").
  std::string to_string() const;
  std::size_t size() const { return v6 ? 16 : 4; }
  bool operator==(const IpAddress&) const = default;
};

// An address with a prefix length: "10.0.0.0/8", "fd00::/8"; a bare address is a network of
// one (/32 or /128).
class IpNetwork {
 public:
  // nullopt when `text` is not an address, the prefix is not a number within 0..32 (IPv4) or
  // 0..128 (IPv6), or bits are set past the prefix ("10.0.0.1/8": an operator who meant
  // 10.0.0.0/8 or 10.0.0.1 should say which).
  static std::optional<IpNetwork> parse(std::string_view text);
  // Whether `a` lies in this network (an IPv4 network never contains an IPv6 address).
  bool contains(const IpAddress& a) const;
  std::string to_string() const;  // "10.0.0.0/8"

 private:
  IpAddress base_;
  unsigned prefix_ = 0;
};

}  // namespace valtronics::util
