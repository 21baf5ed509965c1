// Authentication, the role check, path ids, query strings and bodies of a call.
#include "api/call.hpp"

#include "api/body_fields.hpp"

#include <chrono>
#include "util/time.hpp"

namespace valtronics::api {

namespace {

model::DomainError unauthorized(std::string message) {
  return {model::DomainError::Kind::unauthorized, std::move(message), {}, {}};
}

}  // namespace

model::Result<auth::Claims> authenticate(const Request& req, const auth::JwtVerifier& verifier) {
  if (!req.authorization) return unauthorized("missing Authorization: Bearer token");
  std::string_view value = *req.authorization;
  constexpr std::string_view prefix = "Bearer ";
  if (value.size() <= prefix.size() || value.substr(0, prefix.size()) != prefix)
    return unauthorized("Authorization header must be 'Bearer <token>'");
  auto claims = verifier.verify(value.substr(prefix.size()), util::Clock::now());
  if (!claims) return unauthorized(claims.error().message);
  return std::move(*claims);
}

model::Result<void> authorize(const auth::Claims& c, auth::Action a) {
  if (auth::may(c, a)) return {};
  return model::DomainError{model::DomainError::Kind::forbidden, std::string(auth::refusal(a)),
                            {}, {}};
}

std::optional<auth::Claims> authenticated(Call& c) {
  auto claims = authenticate(c.request, c.ctx.verifier);
  if (!claims) {
    // A request without credentials is no attack (a browser, a health probe); a bad one is
    // counted towards a ban of its address.
    if (c.request.authorization)
      c.ctx.abuse.auth_failure(c.request.client_address, "rest: " + claims.error().message,
                               std::chrono::steady_clock::now());
    c.fail(claims.error());
    return std::nullopt;
  }
  return std::move(*claims);
}

std::optional<auth::Claims> admit(Call& c, auth::Action a) {
  auto claims = authenticated(c);
  if (!claims) return std::nullopt;
  if (auto ok = authorize(*claims, a); !ok) {
    c.fail(ok.error());
    return std::nullopt;
  }
  return claims;
}

std::optional<std::int64_t> path_id(Call& c, std::size_t param, std::string_view what) {
  auto id = parse_path_id(c.params.at(param), what);
  if (!id) {
    c.fail(id.error());
    return std::nullopt;
  }
  return *id;
}

std::optional<QueryParams> query_params(Call& c) {
  auto q = parse_query(c.request.query);
  if (!q) {
    c.fail(q.error());
    return std::nullopt;
  }
  return std::move(*q);
}

std::optional<boost::json::object> body_object(Call& c, bool optional) {
  auto b = body::parse_object(c.request.body, optional);
  if (!b) {
    c.fail(b.error());
    return std::nullopt;
  }
  return std::move(*b);
}

}  // namespace valtronics::api
