// Loading the verification keys from their files, and reloading them. The keys are an
// immutable snapshot behind a mutex: a verification copies the pointer and works on it without
// the lock, and a reload swaps in a whole new snapshot, so no verification sees half a JWKS.

#include "auth/key_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/limits.hpp"
#include "util/text.hpp"

namespace valtronics::auth {

namespace {

// A key file larger than this is not a key file (a JWKS of a few hundred keys is ~200 KB).
constexpr std::size_t kMaxKeyFileBytes = 1 << 20;
constexpr auto kCheckInterval = std::chrono::seconds(1);

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

// The file's text, or nullopt with `error` saying why not.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + in_quotes(path) + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = std::move(text).str();
  if (s.size() > kMaxKeyFileBytes) {
    error = in_quotes(path) + " is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes";
    return std::nullopt;
  }
  return s;
}

bool pinned(const KeySources& s, KeyType t) {
  return std::any_of(s.algorithms.begin(), s.algorithms.end(),
                     [&](Algorithm a) { return key_type_for(a) == t; });
}

std::string pinned_list(const KeySources& s) {
  std::string out;
  for (auto a : s.algorithms) out += (out.empty() ? "" : ", ") + std::string(to_string(a));
  return out;
}

}  // namespace

KeyStore::KeyStore(KeySources sources) : sources_(std::move(sources)) {
  auto snapshot = load();
  if (!snapshot) throw config::ConfigError(snapshot.error());
  snapshot_ = std::move(*snapshot);
}

const std::string& KeyStore::file() const {
  return sources_.jwks_file.empty() ? sources_.public_key_file : sources_.jwks_file;
}

boost::system::result<std::shared_ptr<const KeyStore::Snapshot>, std::string> KeyStore::load()
    const {
  auto snap = std::make_shared<Snapshot>();
  if (pinned(sources_, KeyType::hmac)) {
    for (const auto* s : {&sources_.secret, &sources_.previous_secret}) {
      if (!s->empty()) snap->secrets.push_back(Key{KeyType::hmac, *s, "", Algorithm::hs256});
    }
  }
  const bool asymmetric = pinned(sources_, KeyType::rsa) || pinned(sources_, KeyType::ec_p256);
  const std::string& path = file();
  if (path.empty() || !asymmetric) return std::shared_ptr<const Snapshot>(std::move(snap));

  const std::string key_name =
      sources_.jwks_file.empty() ? "auth.public_key_file" : "auth.jwks_file";
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    snap->stamp = {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_ino)};
  }
  std::string error;
  auto text = read_file(path, error);
  if (!text) return key_name + ": " + error;
  const std::string where = key_name + ": " + in_quotes(path) + ": ";

  if (sources_.jwks_file.empty()) {
    auto key = parse_public_key_pem(*text);
    if (!key) return where + key.error();
    if (!pinned(sources_, key->type)) {
      return where + "holds an " + std::string(to_string(key->type)) +
             " key, which none of the pinned algorithms (" + pinned_list(sources_) + ") uses";
    }
    snap->pem = std::move(*key);
  } else {
    auto keys = parse_jwks(*text);
    if (!keys) return where + keys.error();
    for (auto& k : *keys) {
      if (pinned(sources_, k.type)) snap->jwks.push_back(std::move(k));
    }
    if (snap->jwks.empty()) {
      return where + "no key in the set is usable by the pinned algorithms (" +
             pinned_list(sources_) + ")";
    }
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

std::shared_ptr<const KeyStore::Snapshot> KeyStore::current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::optional<std::string> KeyStore::reload() {
  auto snapshot = load();
  if (!snapshot) return snapshot.error();
  {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(*snapshot);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return std::nullopt;
}

std::optional<std::string> KeyStore::reload_if_changed(SteadyTime now) {
  if (file().empty()) return std::nullopt;
  const std::int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::int64_t due = next_check_ns_.load(std::memory_order_relaxed);
  if (now_ns < due) return std::nullopt;
  // One thread checks; the others go on with the keys they have.
  const std::int64_t next =
      now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(kCheckInterval).count();
  if (!next_check_ns_.compare_exchange_strong(due, next, std::memory_order_relaxed)) {
    return std::nullopt;
  }
  struct stat st{};
  FileStamp stamp;
  if (::stat(file().c_str(), &st) == 0) {
    stamp = {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
             static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_ino)};
  }
  if (stamp == current()->stamp) return std::nullopt;
  return reload();
}

boost::system::result<std::vector<Key>, std::string> KeyStore::candidates(
    Algorithm alg, std::string_view kid) const {
  const auto snap = current();
  const KeyType wanted = key_type_for(alg);
  const std::string alg_name(to_string(alg));
  if (wanted == KeyType::hmac) {
    if (snap->secrets.empty()) return "no " + alg_name + " secret is configured";
    return snap->secrets;
  }
  if (snap->pem) {
    // One key: a kid in the token has nothing to choose between, so it is not looked at.
    if (snap->pem->type != wanted) {
      return "token algorithm " + alg_name + " needs an " + std::string(to_string(wanted)) +
             " key; the configured key is " + std::string(to_string(snap->pem->type));
    }
    return std::vector<Key>{*snap->pem};
  }
  if (snap->jwks.empty()) return "no public key is configured for " + alg_name;
  if (kid.empty()) return std::string("token has no kid header; the server's keys are chosen by kid");
  const auto it = std::find_if(snap->jwks.begin(), snap->jwks.end(),
                               [&](const Key& k) { return k.kid == kid; });
  const std::string kid_text = util::quoted_echo(kid, limits::kMaxEchoChars);
  if (it == snap->jwks.end()) return "unknown kid " + kid_text;
  if (it->type != wanted) {
    return "key " + kid_text + " is an " + std::string(to_string(it->type)) +
           " key, which cannot verify " + alg_name;
  }
  if (it->algorithm && *it->algorithm != alg) {
    return "key " + kid_text + " is for " + std::string(to_string(*it->algorithm)) + ", not " +
           alg_name;
  }
  return std::vector<Key>{*it};
}

}  // namespace valtronics::auth
