// JWT verification. libjwt (on OpenSSL) checks the signatures; this file owns the policy around
// it: the size and shape of a token, the header (the algorithm pinned, `crit` refused), which
// key may check which algorithm, exp/nbf with leeway, iss/aud, and turning the payload into
// typed Claims with a message naming any bad claim. Header and payload are read with Boost.JSON
// because libjwt's typed getters cannot tell "missing" from "wrong type" (jwt_get_grant_int
// returns 0 for a string), and so that a malformed part gets its own message.

#include "auth/jwt.hpp"
#include "auth/libjwt_alg.hpp"
#include "config/limits.hpp"
#include "metrics/counters.hpp"
#include "util/text.hpp"

#include <jwt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
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

AuthError invalid(std::string message) { return {ErrorCode::invalid_token, std::move(message)}; }

// libjwt checks the signature with `key` (a secret, or a PEM public key) and the algorithm the
// header names; the caller has already made sure that algorithm and key belong together.
JwtPtr decode(const std::string& token, const std::string& key) {
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 0) {
    if (raw) jwt_free(raw);
    return nullptr;
  }
  return JwtPtr(raw);
}

bool base64url_chars(std::string_view part) {
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

// A base64url part that must hold a JSON object; nullopt with `why` set otherwise.
std::optional<boost::json::object> json_part(std::string_view part, const char* name,
                                             std::string& why) {
  const auto text = base64url_decode(part);
  if (!text) {
    why = std::string("malformed token: the ") + name + " is not base64url";
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*text, ec);
  if (ec || !v.is_object()) {
    why = std::string("malformed token: the ") + name + " is not a JSON object";
    return std::nullopt;
  }
  return std::move(v.get_object());
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

std::string echo(std::string_view s) { return util::quoted_echo(s, limits::kMaxEchoChars); }

// RFC 7519 §4.1.3: `aud` is one string or an array of strings; ours must be one of them.
std::optional<AuthError> check_audience(const boost::json::object& p, const std::string& want) {
  const auto* aud = p.if_contains("aud");
  if (!aud) return invalid("aud claim is required");
  constexpr const char* kShape = "aud claim must be a string or an array of strings";
  if (aud->is_string()) {
    if (aud->get_string() == want) return std::nullopt;
    return invalid("token audience " + echo(aud->get_string()) + " is not " + echo(want));
  }
  if (!aud->is_array()) return invalid(kShape);
  bool found = false;
  for (const auto& e : aud->get_array()) {
    if (!e.is_string()) return invalid(kShape);
    found = found || e.get_string() == want;
  }
  if (!found) return invalid("token audience does not include " + echo(want));
  return std::nullopt;
}

}  // namespace

struct JwtVerifier::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, Claims> verified;
  std::uint64_t generation = 0;  // of the keys the verdicts were reached with
};

JwtVerifier::JwtVerifier(std::string secret, std::chrono::milliseconds leeway)
    : JwtVerifier(std::make_shared<KeyStore>(KeySources{std::move(secret), "", "", "", {Algorithm::hs256}}),
                  VerifierOptions{leeway, "", ""}) {}

JwtVerifier::JwtVerifier(std::shared_ptr<KeyStore> keys, VerifierOptions options)
    : keys_(std::move(keys)), options_(std::move(options)), cache_(std::make_shared<Cache>()) {}

namespace {
KeySources key_sources(const config::AuthConfig& cfg) {
  KeySources s{cfg.jwt_secret, cfg.previous_jwt_secret, cfg.public_key_file, cfg.jwks_file, {}};
  for (const auto& name : cfg.algorithms) {
    auto alg = algorithm_from_string(name);
    // config::validate refuses unknown names; a caller that skipped it gets the same message.
    if (!alg) throw config::ConfigError("auth.algorithms: unsupported algorithm \"" + name + "\"");
    s.algorithms.push_back(*alg);
  }
  return s;
}
}  // namespace

JwtVerifier::JwtVerifier(const config::AuthConfig& cfg)
    : JwtVerifier(std::make_shared<KeyStore>(key_sources(cfg)),
                  VerifierOptions{cfg.leeway, cfg.issuer, cfg.audience}) {}

std::optional<std::string> JwtVerifier::reload_keys() const { return keys_->reload(); }

namespace {
// Every verdict is counted (GET /metrics): successes, and failures by reason.
boost::system::result<Claims, AuthError> counted(boost::system::result<Claims, AuthError> r) {
  using metrics::AuthFailure;
  if (r) {
    metrics::add(metrics::slot::auth_successes);
    return r;
  }
  AuthFailure why = AuthFailure::invalid_token;
  switch (r.error().code) {
    case ErrorCode::missing_token: why = AuthFailure::missing_token; break;
    case ErrorCode::token_expired: why = AuthFailure::token_expired; break;
    case ErrorCode::token_not_yet_valid: why = AuthFailure::token_not_yet_valid; break;
    default: break;
  }
  metrics::add(metrics::at(metrics::slot::auth_failures, why));
  return r;
}
}  // namespace

boost::system::result<Claims, AuthError> JwtVerifier::verify(std::string_view token,
                                                             util::TimePoint now) const {
  // A changed key file is picked up here, on the way, at most once a second.
  if (auto error = keys_->reload_if_changed(std::chrono::steady_clock::now())) {
    spdlog::warn("auth: keeping the previous keys: {}", *error);
  }
  const std::uint64_t generation = keys_->generation();
  if (!token.empty()) {
    std::lock_guard lock(cache_->mutex);
    if (cache_->generation != generation) {
      cache_->verified.clear();
      cache_->generation = generation;
    }
    if (auto it = cache_->verified.find(std::string(token)); it != cache_->verified.end()) {
      const auto& claims = it->second;
      if (claims.expires_at && now >= *claims.expires_at + options_.leeway) {
        const auto expired = *claims.expires_at;
        cache_->verified.erase(it);
        return counted(
            AuthError{ErrorCode::token_expired, "token expired at " + util::iso8601(expired)});
      }
      return counted(claims);
    }
  }
  auto result = verify_uncached(token, now);
  if (result) {
    std::lock_guard lock(cache_->mutex);
    // Verified with keys that were current when it started: if they changed meanwhile, the
    // verdict is not kept.
    if (cache_->generation == generation) {
      if (cache_->verified.size() >= limits::kMaxCachedTokens) cache_->verified.clear();
      cache_->verified.emplace(std::string(token), *result);
    }
  }
  return counted(std::move(result));
}

boost::system::result<Claims, AuthError> JwtVerifier::verify_uncached(std::string_view token_view,
                                                                      util::TimePoint now) const {
  if (token_view.empty()) return AuthError{ErrorCode::missing_token, "token is missing"};
  if (token_view.size() > kMaxTokenBytes) {
    return invalid("token is larger than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  // Three base64url parts (RFC 7515 §7.1). This also keeps NULs (libjwt reads a C string) and
  // padding or whitespace, which libjwt's decoder would tolerate, away from libjwt.
  const auto dot1 = token_view.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token_view.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token_view.find('.', dot2 + 1) != std::string_view::npos ||
      !base64url_chars(token_view.substr(0, dot1)) ||
      !base64url_chars(token_view.substr(dot1 + 1, dot2 - dot1 - 1)) ||
      !base64url_chars(token_view.substr(dot2 + 1))) {
    return invalid("malformed token: expected three base64url parts separated by '.'");
  }
  std::string why;
  const auto header = json_part(token_view.substr(0, dot1), "header", why);
  if (!header) return invalid(why);

  // The header is not yet authenticated: it only chooses which key to try, and the key, not the
  // header, decides what is accepted.
  const auto* alg_v = header->if_contains("alg");
  const std::string alg_text = alg_v && alg_v->is_string() ? std::string(alg_v->get_string()) : "";
  const auto alg = algorithm_from_string(alg_text);
  const auto& pinned = keys_->sources().algorithms;
  if (!alg || std::find(pinned.begin(), pinned.end(), *alg) == pinned.end()) {
    std::string accepted;
    for (auto a : pinned) accepted += (accepted.empty() ? "" : ", ") + std::string(to_string(a));
    return invalid("token algorithm " + echo(alg_text) + " is not accepted; accepted: " + accepted);
  }
  // RFC 7515 §4.1.11: extensions listed in crit must be understood, else the token is invalid.
  // The server implements none, and an empty crit is itself malformed.
  if (header->contains("crit")) {
    return invalid("token header has a crit parameter; no JWS extension is supported");
  }
  if (const auto* typ = header->if_contains("typ")) {
    // libjwt refuses any typ but JWT; say so rather than fail the signature.
    const auto is_jwt = [](std::string_view t) {
      return t.size() == 3 && std::tolower(static_cast<unsigned char>(t[0])) == 'j' &&
             std::tolower(static_cast<unsigned char>(t[1])) == 'w' &&
             std::tolower(static_cast<unsigned char>(t[2])) == 't';
    };
    if (!typ->is_string() || !is_jwt(typ->get_string())) {
      return invalid("token typ must be \"JWT\"");
    }
  }
  std::string kid;
  if (const auto* kid_v = header->if_contains("kid")) {
    if (!kid_v->is_string()) return invalid("token kid must be a string");
    kid = std::string(kid_v->get_string());
  }
  const auto payload = json_part(token_view.substr(dot1 + 1, dot2 - dot1 - 1), "payload", why);
  if (!payload) return invalid(why);

  auto keys = keys_->candidates(*alg, kid);
  if (!keys) return invalid(keys.error());
  const std::string token(token_view);
  bool verified = false;
  for (const Key& key : *keys) {
    // libjwt treats an empty key as "no verification": never let one reach it.
    if (key.material.empty()) continue;
    JwtPtr jwt = decode(token, key.material);
    // The algorithm libjwt verified with must be the one the key was chosen for.
    if (jwt && jwt_get_alg(jwt.get()) == libjwt_alg(*alg)) {
      verified = true;
      break;
    }
  }
  if (!verified) return invalid("signature verification failed");
  return read_claims(*payload, now);
}

boost::system::result<Claims, AuthError> JwtVerifier::read_claims(const boost::json::object& p,
                                                                  util::TimePoint now) const {
  const auto& leeway_ = options_.leeway;
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

  if (!options_.issuer.empty()) {
    const auto* iss = p.if_contains("iss");
    if (!iss) return invalid("iss claim is required");
    if (!iss->is_string()) return invalid("iss claim must be a string");
    if (iss->get_string() != options_.issuer) {
      return invalid("token issuer " + echo(iss->get_string()) + " is not " + echo(options_.issuer));
    }
  }
  if (!options_.audience.empty()) {
    if (auto error = check_audience(p, options_.audience)) return *error;
  }

  return claims;
}

}  // namespace valtronics::auth
