// URL parsing for the client; see url.hpp. Deliberately small: no user-info, no percent-decoding
// (the client never needs either, and accepting them silently would hide typos).
#include "client/url.hpp"

#include <algorithm>
#include <cctype>

namespace valtronics::client {

namespace {
bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool default_port(const Url& u) {
  return (u.tls() && u.port == "443") || (!u.tls() && u.port == "80");
}
}  // namespace

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!default_port(*this)) h += ":" + port;
  return h;
}

std::string Url::str() const { return scheme + "://" + host_header() + target; }

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  Url u;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    fail(error, "'" + std::string(text) + "' has no scheme (expected ws://, wss://, http:// or https://)");
    return std::nullopt;
  }
  u.scheme = lower(text.substr(0, sep));
  if (u.scheme != "ws" && u.scheme != "wss" && u.scheme != "http" && u.scheme != "https") {
    fail(error, "unsupported scheme '" + u.scheme + "' (expected ws, wss, http or https)");
    return std::nullopt;
  }
  std::string_view rest = text.substr(sep + 3);
  auto slash = std::min(rest.find('/'), rest.find('?'));
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    fail(error, "user information in URLs is not supported");
    return std::nullopt;
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      fail(error, "unterminated '[' in host");
      return std::nullopt;
    }
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        fail(error, "unexpected text after ']' in host");
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) {
        fail(error, "empty port");
        return std::nullopt;
      }
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        fail(error, "empty port");
        return std::nullopt;
      }
    }
  }
  if (u.host.empty()) {
    fail(error, "missing host in '" + std::string(text) + "'");
    return std::nullopt;
  }
  if (!port.empty()) {
    bool digits = port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      fail(error, "bad port '" + std::string(port) + "' (expected 1-65535)");
      return std::nullopt;
    }
    u.port = std::string(port);
  } else {
    u.port = u.tls() ? "443" : "80";
  }
  return u;
}

}  // namespace valtronics::client
