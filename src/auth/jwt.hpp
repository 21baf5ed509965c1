// JWT verification and signing (HS256 through libjwt; no hand-written crypto). The algorithm is
// fixed by configuration: a token whose header names another `alg` (including `none`) is refused.
#pragma once

#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "auth/claims.hpp"
#include "protocol/errors.hpp"

namespace valtronics::auth {

struct AuthError {
  protocol::ErrorCode code;  // missing_token, invalid_token, token_expired, token_not_yet_valid
  std::string message;       // human readable, safe to send to the client
};

class JwtVerifier {
 public:
  JwtVerifier(std::string secret, std::chrono::milliseconds leeway);

  // Verifies signature, alg == HS256, exp (required) and nbf (optional) within leeway, and
  // reads the claims: sub (string, required), role (one of the platform's roles, required),
  // devices (array of positive ints, or "*"; optional, default none), device_id (required for
  // role device). Anything malformed is invalid_token with a message naming the claim.
  boost::system::result<Claims, AuthError> verify(std::string_view token, util::TimePoint now) const;

 private:
  boost::system::result<Claims, AuthError> verify_uncached(std::string_view token,
                                                           util::TimePoint now) const;

  std::string secret_;
  std::chrono::milliseconds leeway_;
  // Tokens already verified (signature, alg, claims): many connections open with the same token
  // (a dashboard's panels, a fleet of services), and the HMAC and JSON decoding were a tenth of
  // a connection's set-up cost. Only `exp` changes its verdict over time, so it is checked on
  // every hit; nbf can only become more valid. Shared by copies; bounded (cleared when full).
  struct Cache;
  std::shared_ptr<Cache> cache_;
};

// Signs an HS256 token with sub, role, devices ("*" when all_devices), device_id, iat and
// exp = now + ttl. Throws std::runtime_error if libjwt fails.
std::string sign_token(const std::string& secret, const Claims& claims,
                       std::chrono::seconds ttl, util::TimePoint now);

}  // namespace valtronics::auth
