// The client's address of one HTTP request (or WebSocket upgrade): the peer's address, unless
// the peer is one of `server.trusted_proxies`; then the right-most address of the forwarding
// header that is not itself a trusted proxy (each proxy appends the address it received the
// request from, so entries right of it were written by proxies we trust, and entries left of it
// by whoever the client is: only that one is believed). Headers from any other peer are
// ignored, so a client cannot choose its own address. Every per-address mechanism
// (limits.connections_per_minute, bans, the logs) keys on what this returns.
//
// Which header: X-Forwarded-For when the request has one (nginx, HAProxy, cloud balancers),
// else the RFC 7239 `Forwarded: for=` parameters. A header the trusted proxy did not write but
// passed through must not be believed: a proxy writing only `Forwarded` has to drop a client's
// X-Forwarded-For (docs/security.md, "Deploying behind a reverse proxy").
//
// Garbage (an entry that is not an IP address: "unknown", an obfuscated identifier, a host name,
// a `Forwarded` element without `for=`) met before the client's entry makes the whole header
// unusable: the peer's address is used, as if there were none.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/ip_network.hpp"

namespace valtronics::net {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Parses each entry (an address or a CIDR network); throws std::invalid_argument naming the
  // first bad one (config::validate has refused them before the server starts).
  explicit TrustedProxies(const std::vector<std::string>& entries);
  bool contains(const util::IpAddress& a) const;
  bool empty() const { return networks_.empty(); }

 private:
  std::vector<util::IpNetwork> networks_;
};

// The forwarding headers of one request, each in the order its lines came (several lines of
// one header read as one comma-separated list, RFC 9110 section 5.3).
struct ForwardingHeaders {
  std::vector<std::string_view> x_forwarded_for;
  std::vector<std::string_view> forwarded;
};

// The client's address in canonical form (util::IpAddress::to_string); `peer` is the socket's
// remote address as text (returned as is when it does not parse).
std::string client_address(std::string_view peer, const ForwardingHeaders& headers,
                           const TrustedProxies& trusted);

// One entry of X-Forwarded-For or one `for=` value, quotes already removed: "192.0.2.1",
// "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:8080"; nullopt otherwise.
std::optional<util::IpAddress> parse_forwarded_node(std::string_view text);

}  // namespace valtronics::net
