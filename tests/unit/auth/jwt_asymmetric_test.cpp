// RS256/ES256 verification (auth/jwt.cpp with auth/key_store.cpp and auth/keys.cpp): keys from a
// PEM file and from a JWKS file (kid, reload), and every refusal of issue 10's list: alg none,
// algorithm confusion, unknown kid, wrong key type, expired/nbf/tampered, oversized, malformed
// base64/JSON, exp/nbf not numbers, wrong iss/aud, crit. Keys are generated per run with OpenSSL.

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "config/config.hpp"

namespace valtronics::auth {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

const util::TimePoint kNow = util::TimePoint(std::chrono::seconds(1'700'000'000));
const long kNowSec = 1'700'000'000;

std::string b64url(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

struct KeyPair {
  std::string private_pem, public_pem, jwk_members;  // jwk_members: "kty":..,"n":..,"e":..
};

std::string bn_param(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  std::string out(static_cast<std::size_t>(std::max(BN_num_bytes(bn), pad)), '\0');
  if (pad) BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  else BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

KeyPair make_key(bool rsa, int bits = 2048) {
  EVP_PKEY* k = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits))
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  KeyPair kp;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* d = nullptr;
  long n = BIO_get_mem_data(b, &d);
  kp.private_pem.assign(d, static_cast<std::size_t>(n));
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, k);
  n = BIO_get_mem_data(b, &d);
  kp.public_pem.assign(d, static_cast<std::size_t>(n));
  BIO_free(b);
  if (rsa) {
    kp.jwk_members = R"("kty":"RSA","n":")" + b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_N)) +
                     R"(","e":")" + b64url(bn_param(k, OSSL_PKEY_PARAM_RSA_E)) + "\"";
  } else {
    kp.jwk_members = R"("kty":"EC","crv":"P-256","x":")" +
                     b64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
                     b64url(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"";
  }
  EVP_PKEY_free(k);
  return kp;
}

const KeyPair& rsa_key() { static const KeyPair k = make_key(true); return k; }
const KeyPair& rsa_key2() { static const KeyPair k = make_key(true); return k; }
const KeyPair& ec_key() { static const KeyPair k = make_key(false); return k; }

std::string write_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("valtronics-jwt-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

std::string payload(const std::string& extra = "") {
  return R"({"sub":"alice","role":"user","devices":[1],"exp":)" + std::to_string(kNowSec + 3600) +
         extra + "}";
}

// libjwt signs; `kid` goes in the header when non-empty.
std::string sign(jwt_alg_t alg, const std::string& key, const std::string& body,
                 const std::string& kid = "") {
  jwt_t* j = nullptr;
  EXPECT_EQ(jwt_new(&j), 0);
  EXPECT_EQ(jwt_add_grants_json(j, body.c_str()), 0) << body;
  if (!kid.empty()) jwt_add_header(j, "kid", kid.c_str());
  EXPECT_EQ(jwt_set_alg(j, alg, reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())), 0);
  char* s = jwt_encode_str(j);
  std::string out = s ? s : "";
  std::free(s);
  jwt_free(j);
  EXPECT_FALSE(out.empty());
  return out;
}

config::AuthConfig pem_config(const std::string& pem, std::vector<std::string> algs = {"RS256"}) {
  config::AuthConfig c;
  c.algorithms = std::move(algs);
  c.public_key_file = write_file("key.pem", pem);
  return c;
}

AuthError refused(const JwtVerifier& v, const std::string& token, ErrorCode code = ErrorCode::invalid_token) {
  auto r = v.verify(token, kNow);
  EXPECT_FALSE(r.has_value()) << "accepted: " << token;
  if (r) return {};
  EXPECT_EQ(r.error().code, code) << r.error().message;
  return r.error();
}

bool has(const AuthError& e, const std::string& s) { return e.message.find(s) != std::string::npos; }

TEST(Rs256Pem, AcceptsTokensOfTheKeyOnly) {
  JwtVerifier v(pem_config(rsa_key().public_pem));
  auto r = v.verify(sign(JWT_ALG_RS256, rsa_key().private_pem, payload()), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->sub, "alice");
  EXPECT_EQ(refused(v, sign(JWT_ALG_RS256, rsa_key2().private_pem, payload())).message,
            "signature verification failed");
  // HS256 is not pinned here, whatever key signed it.
  EXPECT_TRUE(has(refused(v, sign(JWT_ALG_HS256, "secret", payload())), "HS256"));
}

TEST(Es256Pem, AcceptsTokensOfTheKey) {
  JwtVerifier v(pem_config(ec_key().public_pem, {"ES256"}));
  auto r = v.verify(sign(JWT_ALG_ES256, ec_key().private_pem, payload()), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  // The JOSE signature of ES256 is r||s, 64 bytes (86 base64url characters).
  const auto token = sign(JWT_ALG_ES256, ec_key().private_pem, payload());
  EXPECT_EQ(token.size() - token.rfind('.') - 1, 86u);
}

TEST(AlgorithmConfusion, Hs256SignedWithThePublicKeyIsRefused) {
  // Both pinned, and HS256 has a secret: the public key PEM must still never act as one.
  config::AuthConfig c = pem_config(rsa_key().public_pem, {"HS256", "RS256"});
  c.jwt_secret = "the-real-secret";
  JwtVerifier v(c);
  EXPECT_EQ(refused(v, sign(JWT_ALG_HS256, rsa_key().public_pem, payload())).message,
            "signature verification failed");
  // And RS256 only: the token's HS256 is simply not accepted.
  JwtVerifier rs_only(pem_config(rsa_key().public_pem));
  EXPECT_TRUE(has(refused(rs_only, sign(JWT_ALG_HS256, rsa_key().public_pem, payload())),
                  "not accepted"));
}

TEST(WrongKeyType, RsTokenAgainstEcKeyAndBack) {
  JwtVerifier ec(pem_config(ec_key().public_pem, {"ES256", "RS256"}));
  auto e = refused(ec, sign(JWT_ALG_RS256, rsa_key().private_pem, payload()));
  EXPECT_TRUE(has(e, "needs an RSA key")) << e.message;
}

TEST(Refusals, AlgNoneCritSizeShapeClaims) {
  JwtVerifier v(pem_config(rsa_key().public_pem));
  const std::string body = b64url(payload());
  EXPECT_TRUE(has(refused(v, b64url(R"({"alg":"none"})") + "." + body + "."), "'none'"));
  // crit, even naming a known header, is refused (we implement no extension).
  auto crit_header = b64url(R"({"alg":"RS256","typ":"JWT","crit":["exp"],"exp":1})");
  auto good = sign(JWT_ALG_RS256, rsa_key().private_pem, payload());
  EXPECT_TRUE(has(refused(v, crit_header + good.substr(good.find('.'))), "crit"));
  // Oversized: a valid signature does not matter, the size is checked first.
  auto big = sign(JWT_ALG_RS256, rsa_key().private_pem,
                  payload(R"(,"pad":")" + std::string(kMaxTokenBytes, 'x') + "\""));
  EXPECT_TRUE(has(refused(v, big), "larger than 8192"));
  // Malformed base64 (padding, '+', whitespace) and JSON.
  EXPECT_TRUE(has(refused(v, good + "="), "base64url"));
  EXPECT_TRUE(has(refused(v, "ey+J." + body + ".sig"), "base64url"));
  EXPECT_TRUE(has(refused(v, b64url("{\"alg\":") + "." + body + ".c2ln"), "header is not a JSON"));
  EXPECT_TRUE(has(refused(v, b64url(R"({"alg":"RS256"})") + "." + b64url("[1]") + ".c2ln"),
                  "payload is not a JSON"));
  EXPECT_TRUE(has(refused(v, b64url(R"({"alg":"RS256"})") + ".a.c2ln"), "payload is not base64url"));
  // Tampered payload.
  auto tampered = good.substr(0, good.find('.') + 1) + b64url(payload(R"(,"x":1)")) +
                  good.substr(good.rfind('.'));
  EXPECT_EQ(refused(v, tampered).message, "signature verification failed");
  // exp / nbf: expired, not yet valid, not numbers.
  const auto with = [&](const std::string& claims) {
    return sign(JWT_ALG_RS256, rsa_key().private_pem,
                R"({"sub":"a","role":"user",)" + claims + "}");
  };
  refused(v, with(R"("exp":)" + std::to_string(kNowSec - 60)), ErrorCode::token_expired);
  refused(v, with(R"("exp":)" + std::to_string(kNowSec + 60) + R"(,"nbf":)" +
                  std::to_string(kNowSec + 600)), ErrorCode::token_not_yet_valid);
  EXPECT_TRUE(has(refused(v, with(R"("exp":")" + std::to_string(kNowSec + 60) + "\"")), "exp"));
  EXPECT_TRUE(has(refused(v, with(R"("exp":)" + std::to_string(kNowSec + 60) + R"(,"nbf":"0")")),
                  "nbf"));
  EXPECT_TRUE(has(refused(v, with(R"("exp":true)")), "exp"));
}

TEST(IssuerAudience, CheckedWhenConfigured) {
  config::AuthConfig c = pem_config(rsa_key().public_pem);
  c.issuer = "https://idp.example/";
  c.audience = "valtronics";
  JwtVerifier v(c);
  const auto with = [&](const std::string& extra) {
    return sign(JWT_ALG_RS256, rsa_key().private_pem, payload(extra));
  };
  EXPECT_TRUE(v.verify(with(R"(,"iss":"https://idp.example/","aud":"valtronics")"), kNow));
  EXPECT_TRUE(v.verify(with(R"(,"iss":"https://idp.example/","aud":["x","valtronics"])"), kNow));
  EXPECT_TRUE(has(refused(v, with(R"(,"iss":"https://evil.example/","aud":"valtronics")")), "issuer"));
  EXPECT_TRUE(has(refused(v, with(R"(,"aud":"valtronics")")), "iss claim is required"));
  EXPECT_TRUE(has(refused(v, with(R"(,"iss":"https://idp.example/","aud":"other")")), "audience"));
  EXPECT_TRUE(has(refused(v, with(R"(,"iss":"https://idp.example/","aud":["x","y"])")), "audience"));
  EXPECT_TRUE(has(refused(v, with(R"(,"iss":"https://idp.example/","aud":[1])")), "array of strings"));
  EXPECT_TRUE(has(refused(v, with(R"(,"iss":"https://idp.example/")")), "aud claim is required"));
}

std::string jwks(const std::vector<std::pair<std::string, const KeyPair*>>& keys) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    out += (i ? "," : "") + std::string(R"({"kid":")") + keys[i].first + "\"," +
           keys[i].second->jwk_members + R"(,"use":"sig"})";
  }
  return out + "]}";
}

TEST(Jwks, KeyChosenByKidAndReloaded) {
  config::AuthConfig c;
  c.algorithms = {"RS256", "ES256"};
  c.jwks_file = write_file("jwks.json", jwks({{"rsa-1", &rsa_key()}, {"ec-1", &ec_key()}}));
  JwtVerifier v(c);
  ASSERT_TRUE(v.verify(sign(JWT_ALG_RS256, rsa_key().private_pem, payload(), "rsa-1"), kNow));
  ASSERT_TRUE(v.verify(sign(JWT_ALG_ES256, ec_key().private_pem, payload(), "ec-1"), kNow));
  EXPECT_TRUE(has(refused(v, sign(JWT_ALG_RS256, rsa_key().private_pem, payload(), "nope")),
                  "unknown kid 'nope'"));
  EXPECT_TRUE(has(refused(v, sign(JWT_ALG_RS256, rsa_key().private_pem, payload())), "no kid"));
  // The right kid, the wrong type of key for the algorithm.
  EXPECT_TRUE(has(refused(v, sign(JWT_ALG_RS256, rsa_key().private_pem, payload(), "ec-1")),
                  "cannot verify RS256"));
  // Rotation: publish rsa-2, keep rsa-1; then drop rsa-1 (reload() as on SIGHUP).
  const auto old_token = sign(JWT_ALG_RS256, rsa_key().private_pem, payload(), "rsa-1");
  const auto new_token = sign(JWT_ALG_RS256, rsa_key2().private_pem, payload(), "rsa-2");
  refused(v, new_token);
  write_file("jwks.json", jwks({{"rsa-1", &rsa_key()}, {"rsa-2", &rsa_key2()}}));
  EXPECT_EQ(v.reload_keys(), std::nullopt);
  EXPECT_TRUE(v.verify(new_token, kNow));
  EXPECT_TRUE(v.verify(old_token, kNow));
  write_file("jwks.json", jwks({{"rsa-2", &rsa_key2()}}));
  EXPECT_EQ(v.reload_keys(), std::nullopt);
  // The cached verdict of the old token went with its key.
  EXPECT_TRUE(has(refused(v, old_token), "unknown kid"));
  // A broken file keeps the keys already loaded.
  write_file("jwks.json", "{\"keys\": [");
  EXPECT_TRUE(v.reload_keys().has_value());
  EXPECT_TRUE(v.verify(new_token, kNow));
}

TEST(Jwks, ChangedFileIsPickedUpWithoutSignal) {
  config::AuthConfig c;
  c.algorithms = {"RS256"};
  c.jwks_file = write_file("jwks-auto.json", jwks({{"a", &rsa_key()}}));
  JwtVerifier v(c);
  const auto token_b = sign(JWT_ALG_RS256, rsa_key2().private_pem, payload(), "b");
  refused(v, token_b);
  write_file("jwks-auto.json", jwks({{"a", &rsa_key()}, {"b", &rsa_key2()}}));
  // Checked at most once a second: within a few seconds the new key is in use.
  bool accepted = false;
  for (int i = 0; i < 40 && !accepted; ++i) {
    accepted = v.verify(token_b, kNow).has_value();
    if (!accepted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(accepted);
}

TEST(KeyLoading, ClearErrorsNamingTheFile) {
  const auto error_of = [](const config::AuthConfig& c) -> std::string {
    try {
      JwtVerifier v(c);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  config::AuthConfig c;
  c.algorithms = {"RS256"};
  c.public_key_file = "/nonexistent/key.pem";
  EXPECT_EQ(error_of(c).rfind("auth.public_key_file: cannot read \"/nonexistent/key.pem\"", 0), 0u)
      << error_of(c);
  c.public_key_file = write_file("garbage.pem", "hello");
  EXPECT_TRUE(error_of(c).find("no PEM public key") != std::string::npos) << error_of(c);
  // An EC key where only RS256 is pinned.
  c = pem_config(ec_key().public_pem, {"RS256"});
  EXPECT_TRUE(error_of(c).find("EC P-256 key, which none of the pinned algorithms (RS256)") !=
              std::string::npos) << error_of(c);
  // Too small an RSA key.
  c = pem_config(make_key(true, 1024).public_pem);
  EXPECT_TRUE(error_of(c).find("1024 bits") != std::string::npos) << error_of(c);
  // JWKS: not JSON, duplicate kid, nothing usable.
  c = config::AuthConfig{};
  c.algorithms = {"ES256"};
  c.jwks_file = write_file("bad.json", "nope");
  EXPECT_TRUE(error_of(c).find("auth.jwks_file: \"") == 0 && error_of(c).find("not JSON") != std::string::npos)
      << error_of(c);
  c.jwks_file = write_file("dup.json", jwks({{"a", &ec_key()}, {"a", &ec_key()}}));
  EXPECT_TRUE(error_of(c).find("appears twice") != std::string::npos) << error_of(c);
  c.jwks_file = write_file("rsa-only.json", jwks({{"a", &rsa_key()}}));
  EXPECT_TRUE(error_of(c).find("no key in the set is usable") != std::string::npos) << error_of(c);
}

TEST(Jwks, ParsingSkipsForeignKeysAndChecksPoints) {
  auto keys = parse_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kid":"e","use":"enc",)" +
                         rsa_key().jwk_members + "}," + R"({"kid":"s",)" + ec_key().jwk_members + "}]}");
  ASSERT_TRUE(keys.has_value()) << keys.error();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid, "s");
  EXPECT_EQ((*keys)[0].type, KeyType::ec_p256);
  // A point that is not on the curve.
  const std::string zeros = b64url(std::string(32, '\1'));
  auto bad = parse_jwks(R"({"keys":[{"kid":"p","kty":"EC","crv":"P-256","x":")" + zeros +
                        R"(","y":")" + zeros + "\"}]}");
  ASSERT_FALSE(bad.has_value());
  // alg in the JWK must fit the key.
  auto mismatch = parse_jwks(R"({"keys":[{"kid":"m","alg":"ES256",)" + rsa_key().jwk_members + "}]}");
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().find("does not fit"), std::string::npos) << mismatch.error();
}

TEST(Hs256Rollover, PreviousSecretAcceptedToo) {
  config::AuthConfig c;
  c.jwt_secret = "new-secret";
  c.previous_jwt_secret = "old-secret";
  JwtVerifier v(c);
  EXPECT_TRUE(v.verify(sign(JWT_ALG_HS256, "new-secret", payload()), kNow));
  EXPECT_TRUE(v.verify(sign(JWT_ALG_HS256, "old-secret", payload()), kNow));
  refused(v, sign(JWT_ALG_HS256, "other-secret", payload()));
}

TEST(SignTokenAsymmetric, RoundTripWithKidIssAud) {
  config::AuthConfig c;
  c.algorithms = {"ES256"};
  c.jwks_file = write_file("jwks-sign.json", jwks({{"k1", &ec_key()}}));
  c.issuer = "me";
  c.audience = "you";
  JwtVerifier v(c);
  Claims in;
  in.sub = "dev";
  in.role = Role::device;
  in.device_id = 7;
  const auto token = sign_token(SigningKey{Algorithm::es256, ec_key().private_pem, "k1", "me", "you"},
                                in, 60s, kNow);
  auto r = v.verify(token, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->device_id, 7);
  auto pk = parse_private_key_pem(rsa_key().private_pem);
  ASSERT_TRUE(pk.has_value());
  EXPECT_EQ(pk->type, KeyType::rsa);
}

// A 4096-bit RS256 token with the usual claims fits the WebSocket auth message at the default
// limits.max_message_bytes (1024): documented in docs/security.md.
TEST(TokenSize, Rs4096TokenSize) {
  const KeyPair big = make_key(true, 4096);
  Claims in;
  in.sub = "alice@example.com";
  in.role = Role::analyst;
  in.devices = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto token = sign_token(SigningKey{Algorithm::rs256, big.private_pem, "key-2026-12",
                                           "https://idp.example.com/", "valtronics"},
                                in, 3600s, kNow);
  const std::string message = R"({"type":"auth","token":")" + token + "\"}";
  std::printf("4096-bit RS256 token: %zu bytes, auth message %zu bytes\n", token.size(),
              message.size());
  EXPECT_LE(token.size(), kMaxTokenBytes);
  EXPECT_LE(message.size(), config::LimitsConfig{}.max_message_bytes);
}

}  // namespace
}  // namespace valtronics::auth
