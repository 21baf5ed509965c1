// `valtronics token`: prints a signed token, for scripts, tests and the demo.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "auth/jwt.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

namespace {
struct TokenArgs {
  std::string secret, sub, role = "user", devices, ttl = "1h";
  std::string key_file, kid, iss, aud;  // RS256/ES256 with a PEM private key
  std::int64_t device_id = 0;
};

std::vector<std::int64_t> parse_device_list(const std::string& s) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto comma = s.find(',', pos);
    auto item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v <= 0)
      throw config::ConfigError("--devices: '" + item + "' is not a positive device id");
    out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}
}  // namespace

Runner add_token(CLI::App& app) {
  auto args = std::make_shared<TokenArgs>();
  auto* cmd = app.add_subcommand("token", "Print a signed JWT (HS256, or RS256/ES256 with --key)");
  cmd->add_option("--secret", args->secret, "Signing secret (or env VALTRONICS_JWT_SECRET)");
  cmd->add_option("--sub", args->sub, "Subject: user name or device name")->required();
  cmd->add_option("--role", args->role, "admin, operator, analyst, user or device");
  cmd->add_option("--devices", args->devices, "Device ids the token covers: 1,2,3 or *");
  cmd->add_option("--device-id", args->device_id, "The device of a device token");
  cmd->add_option("--ttl", args->ttl, "Lifetime, e.g. 30s, 15m, 1h, 24h");
  cmd->add_option("--key", args->key_file,
                  "PEM private key: RSA signs RS256, EC P-256 signs ES256 (instead of --secret)");
  cmd->add_option("--kid", args->kid, "Key id put in the header (the JWKS entry to verify with)");
  cmd->add_option("--iss", args->iss, "Issuer claim");
  cmd->add_option("--aud", args->aud, "Audience claim");
  cmd->footer(
      "Examples:\n"
      "  valtronics token --secret S --sub alice --role user --devices 1,2 --ttl 1h\n"
      "  VALTRONICS_JWT_SECRET=S valtronics token --sub ops --role admin --devices '*' --ttl 24h\n"
      "  valtronics token --secret S --sub sensor-7 --role device --device-id 7 --ttl 30d\n"
      "  valtronics token --key idp.key --kid k1 --iss https://idp.example/ --sub bob --role analyst");
  return [args] {
    auth::SigningKey key{auth::Algorithm::hs256, "", args->kid, args->iss, args->aud};
    if (!args->key_file.empty()) {
      if (!args->secret.empty())
        throw config::ConfigError("--key and --secret: give one of them, not both");
      std::ifstream in(args->key_file, std::ios::binary);
      if (!in) throw config::ConfigError("--key: cannot read '" + args->key_file + "'");
      std::ostringstream text;
      text << in.rdbuf();
      auto pem = auth::parse_private_key_pem(text.str());
      if (!pem) throw config::ConfigError("--key: '" + args->key_file + "': " + pem.error());
      key.algorithm = pem->type == auth::KeyType::rsa ? auth::Algorithm::rs256
                                                      : auth::Algorithm::es256;
      key.key = pem->pem;
    }
    if (key.key.empty() && args->secret.empty())
      if (const char* env = std::getenv("VALTRONICS_JWT_SECRET")) args->secret = env;
    if (key.key.empty() && args->secret.empty())
      throw config::ConfigError("--secret: required (or set VALTRONICS_JWT_SECRET, or give --key)");
    if (key.key.empty()) key.key = args->secret;
    auth::Claims claims;
    claims.sub = args->sub;
    auto role = auth::role_from_string(args->role);
    if (!role)
      throw config::ConfigError("--role: '" + args->role +
                                "' is not one of admin, operator, analyst, user, device");
    claims.role = *role;
    if (args->devices == "*") claims.all_devices = true;
    else if (!args->devices.empty()) claims.devices = parse_device_list(args->devices);
    if (claims.role == auth::Role::device) {
      if (args->device_id <= 0)
        throw config::ConfigError("--device-id: required (a positive id) for role device");
      claims.device_id = args->device_id;
    }
    auto ttl = util::parse_duration(args->ttl);
    if (!ttl) throw config::ConfigError("--ttl: '" + args->ttl + "' is not a duration like 1h");
    std::printf("%s\n",
                auth::sign_token(key, claims,
                                 std::chrono::duration_cast<std::chrono::seconds>(*ttl),
                                 util::Clock::now())
                    .c_str());
    return 0;
  };
}

}  // namespace valtronics::cli
