#include "net/request_guard.hpp"
#include "util/text.hpp"

#include <boost/beast/core/string.hpp>

namespace valtronics::net {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits: far beyond any body limit
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::optional<std::string> framing_problem(const http::fields& head) {
  const auto te = head.equal_range(http::field::transfer_encoding);
  const auto cl = head.equal_range(http::field::content_length);
  const auto te_count = std::distance(te.first, te.second);
  const auto cl_count = std::distance(cl.first, cl.second);
  if (te_count > 0 && cl_count > 0)
    return "a request must not carry both Content-Length and Transfer-Encoding";
  if (te_count > 1) return "Transfer-Encoding must appear once, with the value \"chunked\"";
  if (te_count == 1 && !iequals(util::trim_blanks(te.first->value()), "chunked"))
    return "unsupported Transfer-Encoding \"" +
           std::string(te.first->value().substr(0, 64)) + "\": only \"chunked\" is accepted";
  if (cl_count > 1) return "Content-Length must appear once";
  if (cl_count == 1 && !all_digits(util::trim_blanks(cl.first->value())))
    return "Content-Length must be a non-negative decimal integer";
  return std::nullopt;
}

bool valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (!base64_char(c)) return false;
  return true;
}

Expectation expectation(const http::fields& head) {
  auto it = head.find(http::field::expect);
  if (it == head.end()) return Expectation::none;
  return iequals(util::trim_blanks(it->value()), "100-continue") ? Expectation::continue_100
                                                    : Expectation::unsupported;
}

}  // namespace valtronics::net
