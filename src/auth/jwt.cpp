// JWT verification and signing for HS256 tokens. libjwt (on OpenSSL) does the base64url, JSON
// and HMAC work; this file owns the policy around it: the algorithm pinned to HS256, exp/nbf
// with leeway, and turning the payload into typed Claims with a message naming any bad claim.
// Claims are read from libjwt's JSON dump with Boost.JSON because libjwt's typed getters cannot
// tell "missing" from "wrong type" (jwt_get_grant_int returns 0 for a string).

#include "auth/jwt.hpp"
#include "config/limits.hpp"
#include "util/text.hpp"

#include <jwt.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <stdexcept>

namespace valtronics::auth {

namespace {

using protocol::ErrorCode;


struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct MallocDeleter {
  void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, MallocDeleter>;

AuthError invalid(std::string message) { return {ErrorCode::invalid_token, std::move(message)}; }

JwtPtr decode(const std::string& token, const unsigned char* key, int key_len) {
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), key, key_len) != 0) {
    if (raw) jwt_free(raw);
    return nullptr;
  }
  return JwtPtr(raw);
}

// A NumericDate (RFC 7519 §2): seconds since the epoch, integer or fractional.
std::optional<double> numeric_date(const boost::json::value& v) {
  double d;
  if (v.is_int64()) {
    d = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    d = static_cast<double>(v.get_uint64());
  } else if (v.is_double()) {
    d = v.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(d) || d < 0 || d > limits::kMaxNumericDate) return std::nullopt;
  return d;
}

util::TimePoint to_time_point(double seconds) {
  seconds = std::min(seconds, limits::kTokenDateHorizon);
  auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(seconds * 1000.0)));
  return util::TimePoint(std::chrono::duration_cast<util::Clock::duration>(ms));
}

std::optional<std::int64_t> positive_int(const boost::json::value& v) {
  // Only JSON integers: 2.0 or "2" are refused rather than coerced, because a token is signed
  // data and a type mismatch means the issuer and the server disagree on its format.
  if (v.is_int64() && v.get_int64() > 0) return v.get_int64();
  return std::nullopt;
}

}  // namespace

struct JwtVerifier::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, Claims> verified;
};

JwtVerifier::JwtVerifier(std::string secret, std::chrono::milliseconds leeway)
    : secret_(std::move(secret)), leeway_(leeway), cache_(std::make_shared<Cache>()) {}

boost::system::result<Claims, AuthError> JwtVerifier::verify(std::string_view token,
                                                             util::TimePoint now) const {
  if (cache_ && !token.empty()) {
    std::lock_guard lock(cache_->mutex);
    if (auto it = cache_->verified.find(std::string(token)); it != cache_->verified.end()) {
      const auto& claims = it->second;
      if (claims.expires_at && now >= *claims.expires_at + leeway_) {
        const auto expired = *claims.expires_at;
        cache_->verified.erase(it);
        return AuthError{ErrorCode::token_expired, "token expired at " + util::iso8601(expired)};
      }
      return claims;
    }
  }
  auto result = verify_uncached(token, now);
  if (result && cache_) {
    std::lock_guard lock(cache_->mutex);
    if (cache_->verified.size() >= limits::kMaxCachedTokens) cache_->verified.clear();
    cache_->verified.emplace(std::string(token), *result);
  }
  return result;
}

boost::system::result<Claims, AuthError> JwtVerifier::verify_uncached(std::string_view token_view,
                                                                      util::TimePoint now) const {
  if (token_view.empty()) return AuthError{ErrorCode::missing_token, "token is missing"};
  // libjwt treats an empty key as "no verification"; never let a misconfiguration turn into
  // accepting unsigned tokens.
  if (secret_.empty()) return invalid("server has no JWT secret configured");
  // libjwt reads a C string: an embedded NUL would silently truncate the token.
  if (token_view.find('\0') != std::string_view::npos) return invalid("malformed token");
  const std::string token(token_view);

  // First pass without a key only to read the header, so that a wrong `alg` gets its own message
  // instead of a generic signature failure. Nothing from this pass is trusted.
  {
    JwtPtr unverified = decode(token, nullptr, 0);
    if (!unverified) return invalid("malformed token or unsupported algorithm");
    // Read the header text: without a key libjwt reports every algorithm as "none".
    const char* alg = jwt_get_header(unverified.get(), "alg");
    if (!alg || std::string_view(alg) != "HS256") {
      return invalid("token algorithm " + util::quoted_echo(alg ? alg : "", limits::kMaxEchoChars) +
                     " is not accepted; HS256 is required");
    }
  }

  JwtPtr jwt = decode(token, reinterpret_cast<const unsigned char*>(secret_.data()),
                      static_cast<int>(secret_.size()));
  if (!jwt) return invalid("signature verification failed");
  // Re-check on the verified object: the pinned algorithm is the property that matters, not
  // what the first pass happened to see.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return invalid("token algorithm is not HS256");

  CString grants_json(jwt_get_grants_json(jwt.get(), nullptr));
  if (!grants_json) return invalid("token payload is not a JSON object");
  boost::system::error_code ec;
  boost::json::value payload = boost::json::parse(grants_json.get(), ec);
  if (ec || !payload.is_object()) return invalid("token payload is not a JSON object");
  const boost::json::object& p = payload.as_object();

  const auto* exp_v = p.if_contains("exp");
  if (!exp_v) return invalid("exp claim is required");
  auto exp = numeric_date(*exp_v);
  if (!exp) return invalid("exp claim must be a NumericDate (seconds since the epoch)");
  const util::TimePoint expires_at = to_time_point(*exp);
  // RFC 7519 §4.1.4: the current time must be before exp; leeway absorbs clock skew.
  if (now >= expires_at + leeway_) {
    return AuthError{ErrorCode::token_expired, "token expired at " + util::iso8601(expires_at)};
  }

  if (const auto* nbf_v = p.if_contains("nbf")) {
    auto nbf = numeric_date(*nbf_v);
    if (!nbf) return invalid("nbf claim must be a NumericDate (seconds since the epoch)");
    const util::TimePoint not_before = to_time_point(*nbf);
    if (now + leeway_ < not_before) {
      return AuthError{ErrorCode::token_not_yet_valid,
                       "token is not valid before " + util::iso8601(not_before)};
    }
  }

  Claims claims;
  claims.expires_at = expires_at;

  const auto* sub_v = p.if_contains("sub");
  if (!sub_v) return invalid("sub claim is required");
  if (!sub_v->is_string() || sub_v->get_string().empty()) {
    return invalid("sub claim must be a non-empty string");
  }
  claims.sub = std::string(sub_v->get_string());

  const auto* role_v = p.if_contains("role");
  if (!role_v) return invalid("role claim is required");
  if (!role_v->is_string()) return invalid("role claim must be a string");
  auto role = role_from_string(role_v->get_string());
  if (!role) {
    return invalid("unknown role " + util::quoted_echo(role_v->get_string(), limits::kMaxEchoChars) +
                   " (expected admin, operator, analyst, user or device)");
  }
  claims.role = *role;

  if (const auto* dev_v = p.if_contains("devices")) {
    constexpr const char* kDevicesShape =
        "devices claim must be \"*\" or an array of positive integer device ids";
    if (dev_v->is_string()) {
      if (dev_v->get_string() != "*") return invalid(kDevicesShape);
      claims.all_devices = true;
    } else if (dev_v->is_array()) {
      for (const auto& e : dev_v->get_array()) {
        auto id = positive_int(e);
        if (!id) return invalid(kDevicesShape);
        claims.devices.push_back(*id);
      }
      std::sort(claims.devices.begin(), claims.devices.end());
      claims.devices.erase(std::unique(claims.devices.begin(), claims.devices.end()),
                           claims.devices.end());
    } else {
      return invalid(kDevicesShape);
    }
  }

  // device_id only means something on a device token; on other roles it is ignored so that a
  // platform adding it to user tokens does not lock those users out.
  if (claims.role == Role::device) {
    const auto* id_v = p.if_contains("device_id");
    if (!id_v) return invalid("device_id claim is required for role device");
    auto id = positive_int(*id_v);
    if (!id) return invalid("device_id claim must be a positive integer");
    claims.device_id = *id;
  }

  return claims;
}

std::string sign_token(const std::string& secret, const Claims& claims, std::chrono::seconds ttl,
                       util::TimePoint now) {
  if (secret.empty()) throw std::runtime_error("sign_token: the secret is empty");
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || !raw) throw std::runtime_error("sign_token: jwt_new failed");
  JwtPtr jwt(raw);

  const long iat = static_cast<long>(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  const long exp = iat + static_cast<long>(ttl.count());

  auto check = [](int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string("sign_token: cannot set ") + what);
  };
  check(jwt_add_grant(jwt.get(), "sub", claims.sub.c_str()), "sub");
  check(jwt_add_grant(jwt.get(), "role", std::string(to_string(claims.role)).c_str()), "role");
  if (claims.all_devices) {
    check(jwt_add_grant(jwt.get(), "devices", "*"), "devices");
  } else if (!claims.devices.empty()) {
    boost::json::array ids;
    for (auto id : claims.devices) ids.push_back(id);
    const std::string json = boost::json::serialize(boost::json::object{{"devices", ids}});
    check(jwt_add_grants_json(jwt.get(), json.c_str()), "devices");
  }
  if (claims.device_id) {
    check(jwt_add_grant_int(jwt.get(), "device_id", static_cast<long>(*claims.device_id)),
          "device_id");
  }
  check(jwt_add_grant_int(jwt.get(), "iat", iat), "iat");
  check(jwt_add_grant_int(jwt.get(), "exp", exp), "exp");
  check(jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                    static_cast<int>(secret.size())),
        "alg");

  CString encoded(jwt_encode_str(jwt.get()));
  if (!encoded) throw std::runtime_error("sign_token: jwt_encode_str failed");
  return std::string(encoded.get());
}

}  // namespace valtronics::auth
