// JWT verification and signing (HS256, RS256, ES256 through libjwt; no hand-written crypto). The
// accepted algorithms are pinned by configuration: a token whose header names another `alg`
// (including `none`) is refused, and each algorithm is checked only with its own kind of key.
#pragma once

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/claims.hpp"
#include "auth/key_store.hpp"
#include "config/config.hpp"
#include "protocol/errors.hpp"

namespace valtronics::auth {

struct AuthError {
  protocol::ErrorCode code;  // missing_token, invalid_token, token_expired, token_not_yet_valid
  std::string message;       // human readable, safe to send to the client
};

// Larger tokens are refused before any parsing. A token of a 4096-bit RSA key with the usual
// claims is about 1 KB, so this leaves room for long claim sets while bounding the work (and the
// memory of the verified-token cache) that one token can cost.
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;

struct VerifierOptions {
  std::chrono::milliseconds leeway{5'000};  // clock skew tolerated on exp/nbf
  std::string issuer;                       // checked against `iss` when non-empty
  std::string audience;                     // must be (in) `aud` when non-empty
};

class JwtVerifier {
 public:
  // HS256 with one secret (tests, tools).
  JwtVerifier(std::string secret, std::chrono::milliseconds leeway);
  JwtVerifier(std::shared_ptr<KeyStore> keys, VerifierOptions options);
  // What [auth] configures: loads the key files, so it throws config::ConfigError naming the key
  // and the file when one cannot be used.
  explicit JwtVerifier(const config::AuthConfig& cfg);

  // Verifies size (kMaxTokenBytes), shape, header (alg pinned, no `crit`, typ JWT if present),
  // the signature with a key of the algorithm's own type (chosen by `kid` from a JWKS), exp
  // (required) and nbf (optional) within leeway, iss and aud when configured, and reads the
  // claims: sub (string, required), role (one of the platform's roles, required), devices
  // (array of positive ints, or "*"; optional, default none), device_id (required for role
  // device). Anything malformed is invalid_token with a message naming the problem.
  boost::system::result<Claims, AuthError> verify(std::string_view token, util::TimePoint now) const;

  // Re-reads the PEM/JWKS file (SIGHUP). On failure the previous keys stay; the error is
  // returned for the log.
  std::optional<std::string> reload_keys() const;

 private:
  boost::system::result<Claims, AuthError> verify_uncached(std::string_view token,
                                                           util::TimePoint now) const;
  boost::system::result<Claims, AuthError> read_claims(const boost::json::object& payload,
                                                       util::TimePoint now) const;

  std::shared_ptr<KeyStore> keys_;
  VerifierOptions options_;
  // Tokens already verified (signature, alg, claims): many connections open with the same token
  // (a dashboard's panels, a fleet of services), and the HMAC and JSON decoding were a tenth of
  // a connection's set-up cost. Only `exp` changes its verdict over time, so it is checked on
  // every hit; nbf can only become more valid. Shared by copies; bounded (cleared when full);
  // emptied when the keys change, so a key removed from the JWKS takes its tokens with it.
  struct Cache;
  std::shared_ptr<Cache> cache_;
};

// How to sign: HS256 with a secret, or RS256/ES256 with a PEM private key; optional kid header
// and iss/aud claims.
struct SigningKey {
  Algorithm algorithm = Algorithm::hs256;
  std::string key;  // the secret, or the PEM private key
  std::string kid, issuer, audience;  // empty: left out
};

// Signs a token with sub, role, devices ("*" when all_devices), device_id, iat and
// exp = now + ttl. Throws std::runtime_error if libjwt fails.
std::string sign_token(const SigningKey& key, const Claims& claims, std::chrono::seconds ttl,
                       util::TimePoint now);
// HS256 with `secret`.
std::string sign_token(const std::string& secret, const Claims& claims,
                       std::chrono::seconds ttl, util::TimePoint now);

}  // namespace valtronics::auth
