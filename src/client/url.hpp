// URLs the client accepts: ws://, wss://, http://, https:// with a host, an optional port and an
// optional path. Pure parsing, so every malformed form is unit-tested and reported by name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace valtronics::client {

struct Url {
  std::string scheme;  // ws, wss, http or https (lower case)
  std::string host;    // name or address; an IPv6 address without its brackets
  std::string port;    // explicit, or 80 / 443 by scheme
  std::string target;  // path and query, "/" when absent

  bool tls() const { return scheme == "wss" || scheme == "https"; }
  // The Host header: host, bracketed when IPv6, with ":port" unless it is the scheme's default.
  std::string host_header() const;
  // scheme://host_header target
  std::string str() const;
};

// Parses `text`; on failure returns nullopt and, when `error` is given, says what is wrong
// ("unsupported scheme 'ftp' (expected ws, wss, http or https)", "missing host", "bad port ...").
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);

}  // namespace valtronics::client
