// Helpers shared by the api/ unit tests: JSON literals, and expectations on model::DomainError
// values as the API answers them (status and code through the catalogue, details.field through
// the envelope).
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "api/errors.hpp"
#include "model/errors.hpp"

namespace valtronics::api::test {

inline boost::json::value J(std::string_view text) { return boost::json::parse(text); }

inline int status_of(const model::DomainError& e) { return http_status(error_code(e.kind)); }
inline std::string code_of(const model::DomainError& e) {
  return std::string(to_string(error_code(e.kind)));
}
// The field an error names, as the client sees it (details.field of its envelope).
inline std::string field_of(const model::DomainError& e) {
  const auto body = error_response(e).body;
  const auto* f = body.at("error").at("details").as_object().if_contains("field");
  return f && f->is_string() ? std::string(f->get_string()) : std::string("<none>");
}

template <class T>
model::DomainError error_of(const model::Result<T>& r) {
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? model::DomainError{} : r.error();
}

// Expects a 400 VALIDATION_ERROR naming `field`, whose message mentions `fragment`.
template <class T>
void expect_invalid(const model::Result<T>& r, std::string_view field,
                    std::string_view fragment = "") {
  ASSERT_FALSE(r.has_value()) << "expected an error on " << field;
  const model::DomainError& e = r.error();
  EXPECT_EQ(e.kind, model::DomainError::Kind::invalid);
  EXPECT_EQ(status_of(e), 400);
  EXPECT_EQ(code_of(e), "VALIDATION_ERROR");
  EXPECT_EQ(e.field, field) << e.message;
  EXPECT_EQ(field_of(e), field) << e.message;
  EXPECT_NE(e.message.find(field), std::string::npos) << e.message;  // names the field
  if (!fragment.empty()) {
    EXPECT_NE(e.message.find(fragment), std::string::npos) << e.message;
  }
}

}  // namespace valtronics::api::test
