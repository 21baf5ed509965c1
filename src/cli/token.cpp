// `valtronics token`: prints a signed token, for scripts, tests and the demo.
#include <cstdio>

#include "auth/jwt.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

namespace {
struct TokenArgs {
  std::string secret, sub, role = "user", devices, ttl = "1h";
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
  auto* cmd = app.add_subcommand("token", "Print a signed JWT (HS256)");
  cmd->add_option("--secret", args->secret, "Signing secret (or env VALTRONICS_JWT_SECRET)");
  cmd->add_option("--sub", args->sub, "Subject: user name or device name")->required();
  cmd->add_option("--role", args->role, "admin, operator, analyst, user or device");
  cmd->add_option("--devices", args->devices, "Device ids the token covers: 1,2,3 or *");
  cmd->add_option("--device-id", args->device_id, "The device of a device token");
  cmd->add_option("--ttl", args->ttl, "Lifetime, e.g. 30s, 15m, 1h, 24h");
  return [args] {
    if (args->secret.empty())
      if (const char* env = std::getenv("VALTRONICS_JWT_SECRET")) args->secret = env;
    if (args->secret.empty())
      throw config::ConfigError("--secret: required (or set VALTRONICS_JWT_SECRET)");
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
                auth::sign_token(args->secret, claims,
                                 std::chrono::duration_cast<std::chrono::seconds>(*ttl),
                                 util::Clock::now())
                    .c_str());
    return 0;
  };
}

}  // namespace valtronics::cli
