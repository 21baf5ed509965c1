// Fuzz target: the JWT decoder/verifier (auth::JwtVerifier::verify), with a fixed secret and a
// fixed `now`, and the signer (auth::sign_token) it must agree with.
//
// Input layout: byte 0 (mod 8) picks a mode, the rest is its data.
//   0  token text: the data is the token, verbatim.
//   1  signed: the data is a header JSON and a payload JSON separated by the first '\n' (no
//      '\n': header {"alg":"HS256","typ":"JWT"}, the data is the payload). The harness
//      base64url-encodes both and signs them with the verifier's secret, so the fuzzer reaches
//      the claim checks behind the signature.
//   2  as 1, signed with another secret: must always be refused.
//   3  sign_token round trip: data bytes choose the claims (role, devices, device_id, ttl, sub);
//      what sign_token makes, verify must accept with the same claims.
//   4  as 1, signed RS256 (kid "rsa") and verified by a verifier whose keys come from a JWKS
//      file (RS256 and ES256 pinned, keys "rsa" and "ec"): the JWKS/kid/RSA path.
//   5  token text, verified by that JWKS verifier.
//   6  the data is a JWK Set and, again, PEM text: the key parsers must not crash and what they
//      accept is a usable key.
//   7  as 3, signed ES256 with kid "ec": the EC path, which must accept it.
// Checked, beyond no crash/UB: an error has an auth error code and a non-empty UTF-8 message;
// an empty token is missing_token; an accepted token has three parts, an HS256 header and an
// HMAC-SHA256 signature under the secret (recomputed here with OpenSSL), and claims that say what
// its payload says, with exp not yet passed; verifying again (a cache hit) gives the same answer,
// and later on the cached and a fresh verifier agree.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <fstream>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/claims.hpp"
#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "config/limits.hpp"
#include "check.hpp"
#include "protocol/errors.hpp"
#include "util/time.hpp"

namespace json = boost::json;
namespace auth = valtronics::auth;
namespace util = valtronics::util;
using valtronics::protocol::ErrorCode;
using Result = boost::system::result<auth::Claims, auth::AuthError>;

namespace {

const std::string kSecret = "fuzz-secret-0123456789abcdef";
const std::string kOtherSecret = "another-secret";
constexpr std::chrono::milliseconds kLeeway{5'000};
const util::TimePoint kNow = util::TimePoint(std::chrono::seconds(1'750'000'000));  // 2025-06-15
const util::TimePoint kLater = kNow + std::chrono::hours(24);

std::string base64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// Strict base64url without padding; nullopt on anything else.
std::optional<std::string> unbase64url(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string hmac_sha256(const std::string& key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string sign(std::string_view header, std::string_view payload, const std::string& key) {
  std::string token = base64url(header) + "." + base64url(payload);
  token += "." + base64url(hmac_sha256(key, token));
  return token;
}

std::optional<json::object> json_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.get_object();
}

std::optional<double> numeric(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

// A token date as the verifier reads it: dates past limits::kTokenDateHorizon (2255) are read as
// the horizon, since the clock's nanoseconds end in 2262.
util::TimePoint at_seconds(double s) {
  s = std::min(s, valtronics::limits::kTokenDateHorizon);
  return util::TimePoint(std::chrono::duration_cast<util::Clock::duration>(
      std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(s * 1000.0)))));
}

std::string describe(const Result& r) {
  if (r) return "accepted (sub " + r->sub + ")";
  return std::string(valtronics::protocol::to_string(r.error().code)) + ": " + r.error().message;
}

bool same(const Result& a, const Result& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return a.error().code == b.error().code && a.error().message == b.error().message;
  return a->sub == b->sub && a->role == b->role && a->all_devices == b->all_devices &&
         a->devices == b->devices && a->device_id == b->device_id && a->expires_at == b->expires_at;
}

// What must hold of any verdict on `token`.
void check_verdict(std::string_view token, const Result& r) {
  if (!r) {
    const auto code = r.error().code;
    FUZZ_CHECK(code == ErrorCode::missing_token || code == ErrorCode::invalid_token ||
                   code == ErrorCode::token_expired || code == ErrorCode::token_not_yet_valid,
               "auth error code %s", std::string(valtronics::protocol::to_string(code)).c_str());
    FUZZ_CHECK(!r.error().message.empty(), "auth error without a message");
    FUZZ_CHECK(fuzz::reference_utf8(r.error().message), "auth error message is not UTF-8");
    FUZZ_CHECK((code == ErrorCode::missing_token) == token.empty(), "%s for a token of %zu bytes",
               describe(r).c_str(), token.size());
    return;
  }
  const auto& c = *r;
  // Signed by us, with HS256.
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  FUZZ_CHECK(dot2 != std::string_view::npos && token.find('.', dot2 + 1) == std::string_view::npos,
             "accepted a token without three parts");
  const auto header = unbase64url(token.substr(0, dot1));
  const auto payload = unbase64url(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = unbase64url(token.substr(dot2 + 1));
  FUZZ_CHECK(signature && *signature == hmac_sha256(kSecret, token.substr(0, dot2)),
             "accepted a token whose signature is not HMAC-SHA256 under the secret");
  if (header) {
    if (auto h = json_object(*header)) {
      const auto* alg = h->if_contains("alg");
      FUZZ_CHECK(alg && alg->is_string() && alg->get_string() == "HS256", "accepted a header without alg HS256");
    }
  }
  // Claims well formed.
  FUZZ_CHECK(!c.sub.empty(), "accepted an empty sub");
  FUZZ_CHECK(std::is_sorted(c.devices.begin(), c.devices.end()) &&
                 std::adjacent_find(c.devices.begin(), c.devices.end()) == c.devices.end(),
             "devices not sorted and unique");
  for (auto d : c.devices) FUZZ_CHECK(d > 0, "device %lld", static_cast<long long>(d));
  FUZZ_CHECK(c.role != auth::Role::device || (c.device_id && *c.device_id > 0), "device token without device_id");
  FUZZ_CHECK(c.expires_at && kNow < *c.expires_at + kLeeway, "accepted an expired token");
  // ... and what the payload says (as Boost.JSON reads it; libjwt reads it with jansson).
  if (!payload) return;
  const auto p = json_object(*payload);
  if (!p) return;
  const auto* sub = p->if_contains("sub");
  FUZZ_CHECK(sub && sub->is_string() && sub->get_string() == c.sub, "sub differs from the payload's");
  const auto* role = p->if_contains("role");
  FUZZ_CHECK(role && role->is_string() && role->get_string() == auth::to_string(c.role), "role differs");
  const auto exp = numeric(p->if_contains("exp"));
  FUZZ_CHECK(exp && at_seconds(*exp) == *c.expires_at, "exp differs from the payload's");
  if (const auto* nbf_v = p->if_contains("nbf")) {
    const auto nbf = numeric(nbf_v);
    FUZZ_CHECK(nbf && kNow + kLeeway >= at_seconds(*nbf), "accepted a token before its nbf");
  }
  const auto* devices = p->if_contains("devices");
  if (!devices) {
    FUZZ_CHECK(!c.all_devices && c.devices.empty(), "devices granted without a devices claim");
  } else if (devices->is_string()) {
    FUZZ_CHECK(devices->get_string() == "*" && c.all_devices, "devices string other than \"*\" accepted");
  } else {
    FUZZ_CHECK(devices->is_array() && !c.all_devices, "devices claim of the wrong type accepted");
    std::vector<std::int64_t> ids;
    for (const auto& e : devices->get_array()) {
      FUZZ_CHECK(e.is_int64() && e.get_int64() > 0, "a device id that is not a positive integer accepted");
      ids.push_back(e.get_int64());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    FUZZ_CHECK(ids == c.devices, "devices differ from the payload's");
  }
  if (c.role == auth::Role::device) {
    const auto* id = p->if_contains("device_id");
    FUZZ_CHECK(id && id->is_int64() && id->get_int64() == *c.device_id, "device_id differs");
  }
}

Result verify_and_check(std::string_view token) {
  auth::JwtVerifier verifier(kSecret, kLeeway);
  const Result r = verifier.verify(token, kNow);
  check_verdict(token, r);
  // Again: accepted tokens now come from the cache.
  const Result again = verifier.verify(token, kNow);
  FUZZ_CHECK(same(r, again), "second verify says %s, first %s", describe(again).c_str(), describe(r).c_str());
  // A day later, the cached verdict and a fresh verifier's agree.
  const Result later_cached = verifier.verify(token, kLater);
  const Result later_fresh = auth::JwtVerifier(kSecret, kLeeway).verify(token, kLater);
  FUZZ_CHECK(later_cached.has_value() == later_fresh.has_value() &&
                 (later_cached || later_cached.error().code == later_fresh.error().code),
             "a day later: cached %s, fresh %s", describe(later_cached).c_str(), describe(later_fresh).c_str());
  return r;
}

void sign_round_trip(std::string_view data) {
  if (data.size() < 4) return;
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  auth::Claims claims;
  constexpr auth::Role kRoles[] = {auth::Role::admin, auth::Role::operator_, auth::Role::analyst,
                                   auth::Role::user, auth::Role::device};
  claims.role = kRoles[b(0) % 5];
  claims.all_devices = b(1) & 1;
  const auto ttl = std::chrono::seconds((b(2) << 8 | b(3)) - 1000);  // -1000 .. 64535 s
  std::string_view rest = data.substr(4);
  const auto nl = rest.find('\n');
  claims.sub = std::string(rest.substr(0, nl));
  if (nl != std::string_view::npos) {
    for (char c : rest.substr(nl + 1)) claims.devices.push_back(static_cast<unsigned char>(c) + 1);
    std::sort(claims.devices.begin(), claims.devices.end());
    claims.devices.erase(std::unique(claims.devices.begin(), claims.devices.end()), claims.devices.end());
  }
  if (claims.role == auth::Role::device) claims.device_id = 1 + b(1);
  // The signer takes C strings and JSON strings: a sub it cannot carry is out of scope here.
  if (claims.sub.empty() || claims.sub.find('\0') != std::string::npos || !fuzz::reference_utf8(claims.sub)) return;

  const std::string token = auth::sign_token(kSecret, claims, ttl, kNow);
  const Result r = verify_and_check(token);
  if (ttl + kLeeway <= std::chrono::seconds(0)) {
    FUZZ_CHECK(!r && r.error().code == ErrorCode::token_expired, "token with ttl %llds: %s",
               static_cast<long long>(ttl.count()), describe(r).c_str());
    return;
  }
  FUZZ_CHECK(r, "sign_token's token refused: %s", describe(r).c_str());
  FUZZ_CHECK(r->sub == claims.sub && r->role == claims.role && r->all_devices == claims.all_devices &&
                 (claims.all_devices || r->devices == claims.devices) &&
                 (claims.role != auth::Role::device || r->device_id == claims.device_id) &&
                 *r->expires_at == kNow + ttl,
             "claims changed through sign_token and verify");
}


// ---- RS256 / ES256 through a JWKS (modes 4-7) ----
struct AsymmetricKeys {
  EVP_PKEY* rsa = nullptr;
  std::string ec_private_pem;
  std::unique_ptr<auth::JwtVerifier> verifier;
};

std::string bn_bytes(EVP_PKEY* k, const char* name, int pad) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(k, name, &bn);
  std::string out(static_cast<std::size_t>(pad ? pad : BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

const AsymmetricKeys& asymmetric() {
  static const AsymmetricKeys keys = [] {
    AsymmetricKeys k;
    k.rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
    EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, ec, nullptr, nullptr, 0, nullptr, nullptr);
    char* d = nullptr;
    const long n = BIO_get_mem_data(b, &d);
    k.ec_private_pem.assign(d, static_cast<std::size_t>(n));
    BIO_free(b);
    const std::string jwks =
        R"({"keys":[{"kid":"rsa","kty":"RSA","n":")" + base64url(bn_bytes(k.rsa, OSSL_PKEY_PARAM_RSA_N, 0)) +
        R"(","e":")" + base64url(bn_bytes(k.rsa, OSSL_PKEY_PARAM_RSA_E, 0)) +
        R"("},{"kid":"ec","kty":"EC","crv":"P-256","x":")" + base64url(bn_bytes(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32)) +
        R"(","y":")" + base64url(bn_bytes(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + R"("}]})";
    EVP_PKEY_free(ec);
    const std::string path = "/tmp/fuzz_jwt_jwks_" + std::to_string(::getpid()) + ".json";
    std::ofstream(path, std::ios::trunc) << jwks;
    valtronics::config::AuthConfig cfg;
    cfg.algorithms = {"RS256", "ES256"};
    cfg.jwks_file = path;
    cfg.leeway = kLeeway;
    k.verifier = std::make_unique<auth::JwtVerifier>(cfg);
    return k;
  }();
  return keys;
}

std::string rs256_sign(std::string_view header, std::string_view payload) {
  std::string input = base64url(header) + "." + base64url(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, asymmetric().rsa);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return input + "." + base64url(sig);
}

// What must hold of the JWKS verifier's verdict: an accepted token names RS256 with kid "rsa"
// (verified again here with OpenSSL) or ES256 with kid "ec".
void check_asymmetric_verdict(std::string_view token, const Result& r) {
  if (!r) {
    FUZZ_CHECK(!r.error().message.empty() && fuzz::reference_utf8(r.error().message), "bad auth error message");
    FUZZ_CHECK((r.error().code == ErrorCode::missing_token) == token.empty(), "%s", describe(r).c_str());
    return;
  }
  FUZZ_CHECK(token.size() <= auth::kMaxTokenBytes, "accepted a token over kMaxTokenBytes");
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  const auto header = unbase64url(token.substr(0, dot1));
  FUZZ_CHECK(header.has_value(), "accepted a header that is not base64url");
  const auto h = json_object(*header);
  FUZZ_CHECK(h.has_value() && !h->contains("crit"), "accepted a header without an object or with crit");
  const auto* alg = h->if_contains("alg");
  const auto* kid = h->if_contains("kid");
  FUZZ_CHECK(alg && alg->is_string() && kid && kid->is_string(), "accepted without alg and kid");
  if (alg->get_string() == "RS256") {
    FUZZ_CHECK(kid->get_string() == "rsa", "RS256 accepted with kid %s", std::string(kid->get_string()).c_str());
    const auto sig = unbase64url(token.substr(dot2 + 1));
    FUZZ_CHECK(sig.has_value(), "signature not base64url");
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, asymmetric().rsa);
    const std::string_view input = token.substr(0, dot2);
    const int ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                                    reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    FUZZ_CHECK(ok == 1, "accepted an RS256 token OpenSSL does not verify");
  } else {
    FUZZ_CHECK(alg->get_string() == "ES256" && kid->get_string() == "ec", "accepted alg/kid that do not fit");
  }
  FUZZ_CHECK(r->expires_at && kNow < *r->expires_at + kLeeway, "accepted an expired token");
}

void verify_asymmetric(std::string_view token) {
  const Result r = asymmetric().verifier->verify(token, kNow);
  check_asymmetric_verdict(token, r);
  FUZZ_CHECK(same(r, asymmetric().verifier->verify(token, kNow)), "second verify differs");
}

void parse_keys(std::string_view data) {
  if (auto keys = auth::parse_jwks(data)) {
    for (const auto& k : *keys) {
      FUZZ_CHECK(!k.kid.empty() && k.type != auth::KeyType::hmac, "JWKS key without kid or of type hmac");
      FUZZ_CHECK(auth::parse_public_key_pem(k.material).has_value(), "a JWKS key's PEM does not parse back");
    }
  }
  if (auto key = auth::parse_public_key_pem(data)) {
    FUZZ_CHECK(key->type != auth::KeyType::hmac, "PEM gave an hmac key");
  }
}

void es256_round_trip(std::string_view data) {
  if (data.size() < 2) return;
  auth::Claims claims;
  claims.role = auth::Role::analyst;
  claims.sub = std::string(data.substr(2));
  if (claims.sub.empty() || claims.sub.find('\0') != std::string::npos || !fuzz::reference_utf8(claims.sub)) return;
  const auto ttl = std::chrono::seconds(1 + static_cast<unsigned char>(data[0]) * 256 + static_cast<unsigned char>(data[1]));
  const std::string token =
      auth::sign_token(auth::SigningKey{auth::Algorithm::es256, asymmetric().ec_private_pem, "ec", "", ""}, claims, ttl, kNow);
  const Result r = asymmetric().verifier->verify(token, kNow);
  if (token.size() > auth::kMaxTokenBytes) {
    FUZZ_CHECK(!r, "oversized token accepted");
    return;
  }
  FUZZ_CHECK(r && r->sub == claims.sub, "ES256 token of sign_token refused: %s", describe(r).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0] % 8;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode) {
    case 0:
      verify_and_check(rest);
      break;
    case 1:
    case 2: {
      const auto nl = rest.find('\n');
      const std::string_view header = nl == std::string_view::npos ? R"({"alg":"HS256","typ":"JWT"})" : rest.substr(0, nl);
      const std::string_view payload = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
      const std::string token = sign(header, payload, mode == 1 ? kSecret : kOtherSecret);
      const Result r = verify_and_check(token);
      if (mode == 2) FUZZ_CHECK(!r && r.error().code == ErrorCode::invalid_token, "wrong key: %s", describe(r).c_str());
      break;
    }
    case 3:
      sign_round_trip(rest);
      break;
    case 4: {
      const auto nl = rest.find('\n');
      const std::string_view header =
          nl == std::string_view::npos ? R"({"alg":"RS256","typ":"JWT","kid":"rsa"})" : rest.substr(0, nl);
      const std::string_view payload = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
      verify_asymmetric(rs256_sign(header, payload));
      break;
    }
    case 5:
      verify_asymmetric(rest);
      break;
    case 6:
      parse_keys(rest);
      break;
    case 7:
      es256_round_trip(rest);
      break;
  }
  return 0;
}
