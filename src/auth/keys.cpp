// Keys from PEM and JWKS text, through OpenSSL 3: PEM is read with PEM_read_bio_PUBKEY (or from
// a certificate), a JWK's RSA n/e or EC x/y become an EVP_PKEY with EVP_PKEY_fromdata, and every
// key is handed on as a SubjectPublicKeyInfo PEM, the form libjwt verifies with. Checking the
// key type and size here, once at load, is what lets the verifier pick a key by algorithm
// without ever asking OpenSSL to guess.

#include "auth/keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <set>

namespace valtronics::auth {

namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct BnFree { void operator()(BIGNUM* b) const { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
struct CtxFree { void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); } };
using Bio = std::unique_ptr<BIO, BioFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bio memory_bio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// What kind of key this is, or an error naming what it is instead.
boost::system::result<KeyType, std::string> classify(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits < kMinRsaBits) {
        return "RSA key of " + std::to_string(bits) + " bits; at least " +
               std::to_string(kMinRsaBits) + " are required";
      }
      return KeyType::rsa;
    }
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1 ||
          std::string_view(group) != "prime256v1") {
        return std::string("EC key on curve ") + (group[0] ? group : "(unknown)") +
               "; only P-256 (prime256v1, for ES256) is supported";
      }
      return KeyType::ec_p256;
    }
    default:
      return std::string("unsupported key type ") + OBJ_nid2sn(EVP_PKEY_get_base_id(key)) +
             " (RSA or EC P-256 expected)";
  }
}

boost::system::result<Key, std::string> to_public_key(EVP_PKEY* pkey) {
  auto type = classify(pkey);
  if (!type) return type.error();
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), pkey) != 1) return std::string("cannot encode key");
  return Key{*type, bio_text(out.get()), "", std::nullopt};
}

std::optional<std::string> field(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

Pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return Pkey(raw);
}

boost::system::result<Pkey, std::string> rsa_from_jwk(const boost::json::object& jwk) {
  const auto n = field(jwk, "n");
  const auto e = field(jwk, "e");
  if (!n || !e) return std::string("RSA key needs string members n and e");
  const auto n_bytes = base64url_decode(*n);
  const auto e_bytes = base64url_decode(*e);
  if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty())
    return std::string("RSA key's n or e is not base64url");
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()),
                    static_cast<int>(n_bytes->size()), nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()),
                    static_cast<int>(e_bytes->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return std::string("cannot build the RSA key");
  }
  Pkey key = from_params("RSA", bld.get());
  if (!key) return std::string("OpenSSL refused the RSA key");
  return key;
}

boost::system::result<Pkey, std::string> ec_from_jwk(const boost::json::object& jwk) {
  const auto crv = field(jwk, "crv");
  if (!crv || *crv != "P-256") return std::string("EC key must have crv \"P-256\"");
  const auto x = field(jwk, "x");
  const auto y = field(jwk, "y");
  if (!x || !y) return std::string("EC key needs string members x and y");
  const auto x_bytes = base64url_decode(*x);
  const auto y_bytes = base64url_decode(*y);
  // RFC 7518 §6.2.1.2: each coordinate is the full 32 bytes for P-256.
  if (!x_bytes || !y_bytes || x_bytes->size() != 32 || y_bytes->size() != 32)
    return std::string("EC key's x and y must be 32 bytes each, base64url");
  // The uncompressed point encoding (SEC 1 §2.3.3): 0x04 || x || y.
  const std::string point = "\x04" + *x_bytes + *y_bytes;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return std::string("cannot build the EC key");
  }
  Pkey key = from_params("EC", bld.get());
  if (!key) return std::string("OpenSSL refused the EC key");
  // A point off the curve would make every signature check meaningless: refuse it now.
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    return std::string("EC key's point is not on P-256");
  return key;
}

}  // namespace

std::string_view to_string(Algorithm a) {
  switch (a) {
    case Algorithm::hs256: return "HS256";
    case Algorithm::rs256: return "RS256";
    case Algorithm::es256: return "ES256";
  }
  return "?";
}

std::optional<Algorithm> algorithm_from_string(std::string_view s) {
  // Case-sensitive, as RFC 7518 names them: "hs256" is not an algorithm a token can carry.
  if (s == "HS256") return Algorithm::hs256;
  if (s == "RS256") return Algorithm::rs256;
  if (s == "ES256") return Algorithm::es256;
  return std::nullopt;
}

std::string_view to_string(KeyType t) {
  switch (t) {
    case KeyType::hmac: return "shared secret";
    case KeyType::rsa: return "RSA";
    case KeyType::ec_p256: return "EC P-256";
  }
  return "?";
}

KeyType key_type_for(Algorithm a) {
  switch (a) {
    case Algorithm::hs256: return KeyType::hmac;
    case Algorithm::rs256: return KeyType::rsa;
    case Algorithm::es256: return KeyType::ec_p256;
  }
  return KeyType::hmac;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string b64;
  b64.reserve(in.size() + 3);
  for (char c : in) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return std::nullopt;
    b64 += c;
  }
  while (b64.size() % 4) b64 += '=';
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  out.resize(static_cast<std::size_t>(n) - (b64.size() - in.size()));
  return out;
}

boost::system::result<Key, std::string> parse_public_key_pem(std::string_view pem) {
  Bio bio = memory_bio(pem);
  if (!bio) return std::string("out of memory");
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    // An identity provider often hands out a certificate rather than the bare key.
    bio = memory_bio(pem);
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert) key.reset(X509_get_pubkey(cert.get()));
  }
  if (!key) {
    return std::string(
        "no PEM public key in it (expected -----BEGIN PUBLIC KEY----- or a certificate)");
  }
  return to_public_key(key.get());
}

boost::system::result<PrivateKey, std::string> parse_private_key_pem(std::string_view pem) {
  Bio bio = memory_bio(pem);
  if (!bio) return std::string("out of memory");
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return std::string("no unencrypted PEM private key in it");
  auto type = classify(key.get());
  if (!type) return type.error();
  return PrivateKey{*type, std::string(pem)};
}

boost::system::result<std::vector<Key>, std::string> parse_jwks(std::string_view json) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(json, ec);
  if (ec) return "not JSON: " + ec.message();
  const auto* keys = doc.is_object() ? doc.get_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) return std::string("not a JWK Set: expected {\"keys\": [...]}");
  std::vector<Key> out;
  std::set<std::string> kids;
  std::size_t index = 0;
  for (const auto& entry : keys->get_array()) {
    const std::string where = "keys[" + std::to_string(index++) + "]";
    if (!entry.is_object()) return where + ": not an object";
    const auto& jwk = entry.get_object();
    const auto kty = field(jwk, "kty");
    if (!kty) return where + ": kty is missing";
    if (*kty != "RSA" && *kty != "EC") continue;  // e.g. "oct", "OKP": not ours to use
    if (const auto use = field(jwk, "use"); use && *use != "sig") continue;
    const auto kid = field(jwk, "kid");
    if (!kid || kid->empty()) return where + ": kid is missing (the server picks keys by kid)";
    if (!kids.insert(*kid).second) return where + ": kid \"" + *kid + "\" appears twice";
    std::optional<Algorithm> alg;
    if (const auto* alg_v = jwk.if_contains("alg")) {
      if (!alg_v->is_string()) return where + ": alg must be a string";
      alg = algorithm_from_string(alg_v->get_string());
      // A key pinned to an algorithm we do not implement (RS512, PS256...) cannot verify
      // anything here: skip it rather than use it for another algorithm.
      if (!alg) continue;
    }
    auto pkey = *kty == "RSA" ? rsa_from_jwk(jwk) : ec_from_jwk(jwk);
    if (!pkey) return where + " (kid \"" + *kid + "\"): " + pkey.error();
    auto key = to_public_key(pkey->get());
    if (!key) return where + " (kid \"" + *kid + "\"): " + key.error();
    key->kid = *kid;
    key->algorithm = alg;
    if (alg && key_type_for(*alg) != key->type) {
      return where + " (kid \"" + *kid + "\"): alg " + std::string(to_string(*alg)) +
             " does not fit a " + std::string(to_string(key->type)) + " key";
    }
    out.push_back(std::move(*key));
  }
  if (out.empty()) return std::string("no RSA or EC P-256 signing key in the set");
  return out;
}

}  // namespace valtronics::auth
