// Method names and header lookup.
#include "api/request.hpp"

#include <algorithm>
#include <cctype>

namespace valtronics::api {

std::string_view to_string(Method m) {
  switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::delete_: return "DELETE";
    case Method::other: return "OTHER";
  }
  return "OTHER";
}

std::string_view Response::header(std::string_view name) const {
  auto same = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  for (const auto& [k, v] : headers)
    if (same(k, name)) return v;
  return {};
}

}  // namespace valtronics::api
