// Tests of the HTTP error catalogue (api/errors): complete and consistent, every code documented
// in docs/rest.md with its status, the one envelope, and the mapping of each domain error kind.
#include "api/errors.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "protocol/json_writer.hpp"

namespace valtronics::api {
namespace {

namespace json = boost::json;
using Kind = model::DomainError::Kind;

TEST(HttpErrorCatalogue, HasEveryCodeOnceInEnumOrder) {
  const auto cat = error_catalogue();
  ASSERT_EQ(cat.size(), static_cast<std::size_t>(ErrorCode::address_banned) + 1);
  for (std::size_t i = 0; i < cat.size(); ++i)
    EXPECT_EQ(static_cast<std::size_t>(cat[i].code), i) << cat[i].name;
}

TEST(HttpErrorCatalogue, NamesAreUniqueUpperSnakeCaseWithAnErrorStatusAndADescription) {
  std::set<std::string_view> names;
  for (const auto& e : error_catalogue()) {
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
    EXPECT_FALSE(e.name.empty());
    for (char c : e.name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || c == '_') << e.name;
    EXPECT_GE(e.status, 400) << e.name;
    EXPECT_LE(e.status, 599) << e.name;
    EXPECT_FALSE(e.description.empty()) << e.name;
    EXPECT_EQ(e.description.find('\n'), std::string_view::npos) << e.name;
    EXPECT_EQ(to_string(e.code), e.name);
    EXPECT_EQ(http_status(e.code), e.status);
  }
}

TEST(HttpErrorCatalogue, WireCodesAndStatusesClientsRelyOn) {
  const std::pair<ErrorCode, std::pair<std::string_view, int>> expected[] = {
      {ErrorCode::validation_error, {"VALIDATION_ERROR", 400}},
      {ErrorCode::bad_request, {"BAD_REQUEST", 400}},
      {ErrorCode::unauthorized, {"UNAUTHORIZED", 401}},
      {ErrorCode::forbidden, {"FORBIDDEN", 403}},
      {ErrorCode::not_found, {"NOT_FOUND", 404}},
      {ErrorCode::device_not_found, {"DEVICE_NOT_FOUND", 404}},
      {ErrorCode::method_not_allowed, {"METHOD_NOT_ALLOWED", 405}},
      {ErrorCode::conflict, {"CONFLICT", 409}},
      {ErrorCode::invalid_state, {"INVALID_STATE", 409}},
      {ErrorCode::payload_too_large, {"PAYLOAD_TOO_LARGE", 413}},
      {ErrorCode::upgrade_required, {"UPGRADE_REQUIRED", 426}},
      {ErrorCode::too_many_requests, {"TOO_MANY_REQUESTS", 429}},
      {ErrorCode::headers_too_large, {"HEADERS_TOO_LARGE", 431}},
      {ErrorCode::internal_error, {"INTERNAL_ERROR", 500}},
      {ErrorCode::service_unavailable, {"SERVICE_UNAVAILABLE", 503}},
      {ErrorCode::storage_unavailable, {"STORAGE_UNAVAILABLE", 503}},
      {ErrorCode::expectation_failed, {"EXPECTATION_FAILED", 417}},
  };
  for (const auto& [code, wire] : expected) {
    EXPECT_EQ(to_string(code), wire.first);
    EXPECT_EQ(http_status(code), wire.second) << wire.first;
  }
}

// docs/rest.md lists every code of the catalogue as a table row "| `CODE` | status | ...",
// located from this source file so that the test works from any build directory.
TEST(HttpErrorCatalogue, EveryCodeIsDocumentedWithItsStatus) {
  const auto docs = std::filesystem::path(VALTRONICS_SOURCE_DIR) / "docs" /
                    "rest.md";
  std::ifstream in(docs);
  ASSERT_TRUE(in) << docs << " not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::set<std::string> documented;
  const std::regex row(R"(\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), row); it != std::sregex_iterator();
       ++it) {
    documented.insert((*it)[1].str() + " " + (*it)[2].str());
  }
  for (const auto& e : error_catalogue()) {
    const std::string entry = std::string(e.name) + " " + std::to_string(e.status);
    EXPECT_TRUE(documented.count(entry)) << "| `" << e.name << "` | " << e.status
                                         << " | not in " << docs;
  }
  // ...and nothing else: a code in the docs' table that the server cannot answer is stale.
  EXPECT_EQ(documented.size(), error_catalogue().size());
}

TEST(HttpErrorEnvelope, ShapeAndOrder) {
  EXPECT_EQ(protocol::to_json(error_envelope(ErrorCode::not_found, "no route for /x")),
            R"({"success":false,"error":{"code":"NOT_FOUND","message":"no route for /x",)"
            R"("details":{}}})");
  auto res = error_response(ErrorCode::conflict, "device 3 already exists",
                            json::object{{"field", "id"}});
  EXPECT_EQ(res.status, 409);
  EXPECT_TRUE(res.headers.empty());
  EXPECT_EQ(protocol::to_json(res.body),
            R"({"success":false,"error":{"code":"CONFLICT","message":"device 3 already exists",)"
            R"("details":{"field":"id"}}})");
}

TEST(HttpErrorEnvelope, PayloadTooLargeNamesTheLimit) {
  auto res = payload_too_large(1048576);
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(protocol::to_json(res.body),
            R"({"success":false,"error":{"code":"PAYLOAD_TOO_LARGE",)"
            R"("message":"request body exceeds the limit of 1048576 bytes",)"
            R"("details":{"max_body_bytes":1048576}}})");
}

TEST(DomainErrorMapping, EveryKindHasItsCode) {
  const std::pair<Kind, std::pair<std::string_view, int>> expected[] = {
      {Kind::invalid, {"VALIDATION_ERROR", 400}},
      {Kind::not_found, {"NOT_FOUND", 404}},
      {Kind::device_not_found, {"DEVICE_NOT_FOUND", 404}},
      {Kind::conflict, {"CONFLICT", 409}},
      {Kind::invalid_state, {"INVALID_STATE", 409}},
      {Kind::unavailable, {"SERVICE_UNAVAILABLE", 503}},
      {Kind::internal, {"INTERNAL_ERROR", 500}},
      {Kind::unauthorized, {"UNAUTHORIZED", 401}},
      {Kind::forbidden, {"FORBIDDEN", 403}},
  };
  for (const auto& [kind, wire] : expected) {
    const model::DomainError e{kind, "why", {}, {}};
    const auto res = error_response(e);
    EXPECT_EQ(res.status, wire.second) << wire.first;
    EXPECT_EQ(res.body.at("error").at("code").as_string(), wire.first);
    EXPECT_EQ(res.body.at("error").at("message"), "why");
    EXPECT_EQ(to_string(error_code(kind)), wire.first);
  }
}

TEST(DomainErrorMapping, FieldGoesToDetailsUnlessAlreadyThere) {
  // An invalid field alone: details {"field"}.
  auto a = error_response(model::invalid("threshold", "threshold must be a finite number"));
  EXPECT_EQ(protocol::to_json(a.body.at("error").at("details")), R"({"field":"threshold"})");
  // Details first, the field after them.
  model::DomainError b{Kind::conflict, "device 3 already exists", "id",
                       json::object{{"resource", "device"}}};
  EXPECT_EQ(protocol::to_json(error_response(b).body.at("error").at("details")),
            R"({"resource":"device","field":"id"})");
  // Details that name the field already keep their order (an ingest item: index, then field).
  model::DomainError c{Kind::invalid, "item 2: unit must be a string", "unit",
                       json::object{{"index", 2}, {"field", "unit"}}};
  EXPECT_EQ(protocol::to_json(error_response(c).body.at("error").at("details")),
            R"({"index":2,"field":"unit"})");
  // No field: details as they are.
  EXPECT_EQ(protocol::to_json(error_response(model::not_found("alert", 9)).body),
            R"({"success":false,"error":{"code":"NOT_FOUND","message":"alert 9 not found",)"
            R"("details":{"resource":"alert","id":9}}})");
}

}  // namespace
}  // namespace valtronics::api
