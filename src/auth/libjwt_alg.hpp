// The libjwt constant of each algorithm we accept, shared by verifying (jwt.cpp) and signing
// (jwt_sign.cpp). Kept out of jwt.hpp so only these two units see libjwt's header.
#pragma once

#include <jwt.h>

#include "auth/keys.hpp"

namespace valtronics::auth {

inline jwt_alg_t libjwt_alg(Algorithm a) {
  switch (a) {
    case Algorithm::hs256: return JWT_ALG_HS256;
    case Algorithm::rs256: return JWT_ALG_RS256;
    case Algorithm::es256: return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

}  // namespace valtronics::auth
