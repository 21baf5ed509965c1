// Signing tokens (`valtronics token`, the demo banner, tests): HS256 with a secret, RS256/ES256
// with a PEM private key, through libjwt.

#include "auth/jwt.hpp"
#include "auth/libjwt_alg.hpp"

#include <jwt.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace valtronics::auth {

namespace {

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct MallocDeleter {
  void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, MallocDeleter>;

}  // namespace

std::string sign_token(const SigningKey& key, const Claims& claims, std::chrono::seconds ttl,
                       util::TimePoint now) {
  if (key.key.empty()) throw std::runtime_error("sign_token: the key is empty");
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
  if (!key.issuer.empty()) check(jwt_add_grant(jwt.get(), "iss", key.issuer.c_str()), "iss");
  if (!key.audience.empty()) check(jwt_add_grant(jwt.get(), "aud", key.audience.c_str()), "aud");
  check(jwt_add_grant_int(jwt.get(), "iat", iat), "iat");
  check(jwt_add_grant_int(jwt.get(), "exp", exp), "exp");
  if (!key.kid.empty()) check(jwt_add_header(jwt.get(), "kid", key.kid.c_str()), "kid");
  check(jwt_set_alg(jwt.get(), libjwt_alg(key.algorithm),
                    reinterpret_cast<const unsigned char*>(key.key.data()),
                    static_cast<int>(key.key.size())),
        "alg");

  CString encoded(jwt_encode_str(jwt.get()));
  if (!encoded) throw std::runtime_error("sign_token: libjwt could not sign (is the key valid?)");
  return std::string(encoded.get());
}

std::string sign_token(const std::string& secret, const Claims& claims, std::chrono::seconds ttl,
                       util::TimePoint now) {
  if (secret.empty()) throw std::runtime_error("sign_token: the secret is empty");
  return sign_token(SigningKey{Algorithm::hs256, secret, "", "", ""}, claims, ttl, now);
}

}  // namespace valtronics::auth
