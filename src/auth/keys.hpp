// Verification keys and the algorithms they serve: an HS256 shared secret, an RSA public key
// (RS256) or an EC P-256 public key (ES256), read from PEM text or from a JWKS document. Pure
// functions of text; auth/key_store.* reads the files and reloads them.
#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::auth {

// The JWS algorithms the server implements. Each needs its own kind of key; the verifier never
// lets a key of one kind check a signature of another (the "algorithm confusion" attack).
enum class Algorithm { hs256, rs256, es256 };
std::string_view to_string(Algorithm a);
std::optional<Algorithm> algorithm_from_string(std::string_view s);

enum class KeyType { hmac, rsa, ec_p256 };
std::string_view to_string(KeyType t);  // "shared secret", "RSA", "EC P-256"
KeyType key_type_for(Algorithm a);

struct Key {
  KeyType type = KeyType::hmac;
  std::string material;                // the secret bytes, or a SubjectPublicKeyInfo PEM
  std::string kid;                     // empty for the PEM key and the secrets
  std::optional<Algorithm> algorithm;  // a JWK's "alg", when it names one
};

// RSA keys below this size are refused when loaded: they are factorable by a determined attacker.
inline constexpr int kMinRsaBits = 2048;

// A public key (or an X.509 certificate holding one) in PEM. RSA of at least kMinRsaBits, or EC
// on P-256; anything else is an error saying what was found.
boost::system::result<Key, std::string> parse_public_key_pem(std::string_view pem);

// A private key in PEM, for signing (`valtronics token --key`): same key types.
struct PrivateKey {
  KeyType type = KeyType::rsa;
  std::string pem;
};
boost::system::result<PrivateKey, std::string> parse_private_key_pem(std::string_view pem);

// RFC 7515 §2 base64url without padding; nullopt on any other character or a dangling length.
std::optional<std::string> base64url_decode(std::string_view in);

// A JWK Set (RFC 7517 §5): {"keys": [...]}. RSA keys (n, e) and EC P-256 keys (x, y) with a
// `kid` are kept; keys for encryption ("use": "enc") and of other types are skipped (an
// identity provider may publish them), but a malformed RSA/EC key, a missing or duplicate kid,
// or a set with no usable key is an error.
boost::system::result<std::vector<Key>, std::string> parse_jwks(std::string_view json);

}  // namespace valtronics::auth
