// Domain errors: what the engine and validation answer when a request cannot be carried out,
// independent of any transport. api/ maps each kind to an HTTP status and error code
// (api/errors.hpp); nothing below api/ knows HTTP.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <string>

namespace valtronics::model {

struct DomainError {
  enum class Kind {
    invalid,           // a field's value is not acceptable (`field` names it)
    not_found,         // the addressed record does not exist
    device_not_found,  // a reading names an unknown device and auto-registration is off
    conflict,          // the record exists already
    invalid_state,     // the record's state forbids the change (an alert already resolved)
    unavailable,       // the engine cannot take the request now (its queue is full, it stops)
    internal,          // a fault of the server (a failed read): reported, never the client's
    unauthorized,      // no valid credentials (a missing, malformed or refused token)
    forbidden,         // valid credentials that do not allow the request (auth/policy.hpp)
  };
  Kind kind = Kind::invalid;
  std::string message;
  std::string field;            // for `invalid`: the request field at fault
  boost::json::object details;  // more about it (e.g. the unknown device ids), when useful
};

template <class T>
using Result = boost::system::result<T, DomainError>;

// Lets Result::value() throw (std::runtime_error with the message) on an error.
[[noreturn]] void throw_exception_from_error(const DomainError& e,
                                             const boost::source_location& loc);

inline DomainError invalid(std::string field, std::string message) {
  return {DomainError::Kind::invalid, std::move(message), std::move(field), {}};
}
// "device 7 not found", details {"resource": "device", "id": 7}
inline DomainError not_found(const std::string& what, std::int64_t id) {
  return {DomainError::Kind::not_found, what + " " + std::to_string(id) + " not found", {},
          boost::json::object{{"resource", what}, {"id", id}}};
}

}  // namespace valtronics::model
