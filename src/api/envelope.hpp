// The success envelopes of the platform: {"success":true,"data":...} and, for lists,
// {"success":true,"data":[...],"pagination":{...}}. (Errors: api/errors.hpp.)
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "api/query.hpp"
#include "api/request.hpp"

namespace valtronics::api {

// `status` with {"success":true,"data":data}.
Response data_response(int status, boost::json::value data);
// 200 with {"success":true,"data":items,"pagination":to_json(p)}.
Response page_response(boost::json::array items, const PageInfo& p);

}  // namespace valtronics::api
