// Reading X-Forwarded-For and Forwarded, and the right-most-untrusted rule.
#include "net/client_address.hpp"
#include "util/text.hpp"

#include <optional>
#include <stdexcept>

namespace valtronics::net {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Splits `text` on `sep` outside double quotes (a quoted-string may hold the separator).
template <class F>
void split_outside_quotes(std::string_view text, char sep, F&& each) {
  bool quoted = false, escaped = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (escaped) {
      escaped = false;
    } else if (quoted && c == '\\') {
      escaped = true;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == sep && !quoted) {
      each(text.substr(start, i - start));
      start = i + 1;
    }
  }
  each(text.substr(start));
}

// The node of one Forwarded element's `for=` parameter; nullopt when it has none or it is not
// an address. Quoted values lose their quotes (RFC 7239: IPv6 must be quoted, "[v6]:port").
std::optional<util::IpAddress> forwarded_for(std::string_view element) {
  std::optional<util::IpAddress> found;
  bool seen = false;
  split_outside_quotes(element, ';', [&](std::string_view pair) {
    pair = util::trim_blanks(pair);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || !iequals(util::trim_blanks(pair.substr(0, eq)), "for")) return;
    if (seen) {  // two for= in one element: ambiguous
      found.reset();
      return;
    }
    seen = true;
    auto value = util::trim_blanks(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (value.find('\\') != std::string_view::npos) return;  // no address needs an escape
    found = parse_forwarded_node(value);
  });
  return found;
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
  for (const auto& e : entries) {
    auto n = util::IpNetwork::parse(e);
    if (!n) throw std::invalid_argument("not an IP address or CIDR network: " + e);
    networks_.push_back(*n);
  }
}

bool TrustedProxies::contains(const util::IpAddress& a) const {
  for (const auto& n : networks_)
    if (n.contains(a)) return true;
  return false;
}

std::optional<util::IpAddress> parse_forwarded_node(std::string_view text) {
  text = util::trim_blanks(text);
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    auto a = util::IpAddress::parse(text.substr(1, close - 1));
    if (!a) return std::nullopt;
    return a;
  }
  // IPv4 with a port: one colon after a dotted quad. A bare IPv6 has several colons.
  if (const auto colon = text.find(':');
      colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos)
    text = text.substr(0, colon);
  return util::IpAddress::parse(text);
}

std::string client_address(std::string_view peer, const ForwardingHeaders& headers,
                           const TrustedProxies& trusted) {
  const auto peer_ip = util::IpAddress::parse(peer);
  if (!peer_ip) return std::string(peer);
  const std::string peer_text = peer_ip->to_string();
  if (trusted.empty() || !trusted.contains(*peer_ip)) return peer_text;

  // The hops, left (farthest) to right (nearest); a null entry is garbage.
  std::vector<std::optional<util::IpAddress>> hops;
  if (!headers.x_forwarded_for.empty()) {
    for (auto line : headers.x_forwarded_for)
      split_outside_quotes(line, ',', [&](std::string_view entry) {
        if (!util::trim_blanks(entry).empty()) hops.push_back(parse_forwarded_node(entry));
      });
  } else {
    for (auto line : headers.forwarded)
      split_outside_quotes(line, ',', [&](std::string_view element) {
        if (!util::trim_blanks(element).empty()) hops.push_back(forwarded_for(element));
      });
  }
  if (hops.empty()) return peer_text;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!*it) return peer_text;  // garbage before the client's entry
    if (!trusted.contains(**it)) return (*it)->to_string();
  }
  // Every hop is a trusted proxy: the request started at the left-most one.
  return hops.front()->to_string();
}

}  // namespace valtronics::net
