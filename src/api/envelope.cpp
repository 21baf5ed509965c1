// Success envelopes.
#include "api/envelope.hpp"

namespace valtronics::api {

namespace json = boost::json;

Response data_response(int status, json::value data) {
  json::object body;
  body["success"] = true;
  body["data"] = std::move(data);
  return Response{status, std::move(body), {}};
}

Response page_response(json::array items, const PageInfo& p) {
  json::object body;
  body["success"] = true;
  body["data"] = std::move(items);
  body["pagination"] = to_json(p);
  return Response{200, std::move(body), {}};
}

}  // namespace valtronics::api
