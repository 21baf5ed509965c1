// The keys the verifier may use, by algorithm: the HS256 secrets (current and, during a
// rollover, previous), and for RS256/ES256 one PEM public key or a JWKS whose keys are chosen
// by `kid`. The files are re-read when they change (checked at most once a second, on the
// verification path) and on reload() (SIGHUP); a file that fails to load keeps the keys
// already loaded, so a half-written JWKS never locks everyone out.
#pragma once

#include <atomic>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/keys.hpp"

namespace valtronics::auth {

struct KeySources {
  std::string secret;             // HS256; empty: no HS256 key
  std::string previous_secret;    // HS256 too, accepted during a rollover; empty: none
  std::string public_key_file;    // PEM public key (RS256 or ES256)
  std::string jwks_file;          // JWK Set (RS256 and/or ES256, keys chosen by kid)
  std::vector<Algorithm> algorithms{Algorithm::hs256};  // the pinned algorithms
};

class KeyStore {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // Loads the files. Throws config::ConfigError naming the key and the file when one cannot be
  // read or parsed, or holds no key usable by the pinned algorithms.
  explicit KeyStore(KeySources sources);

  // The keys that may check a token signed with `alg` (a pinned algorithm) whose header names
  // `kid` (empty: none), in the order to try them; or why there is none, safe to send to the
  // client.
  boost::system::result<std::vector<Key>, std::string> candidates(Algorithm alg,
                                                                  std::string_view kid) const;

  // Re-reads the PEM/JWKS file now (SIGHUP). On failure the previous keys stay and the error is
  // returned (for the log).
  std::optional<std::string> reload();

  // Re-reads a file whose modification time, size or inode changed, looking at most once per
  // second. Cheap when not due (one atomic load). Returns a reload error, as reload() does.
  std::optional<std::string> reload_if_changed(SteadyTime now);

  // Changes whenever the keys change, so that verdicts reached with old keys can be dropped.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  const KeySources& sources() const { return sources_; }

 private:
  struct FileStamp {
    std::int64_t mtime_ns = -1, size = -1, inode = -1;
    bool operator==(const FileStamp&) const = default;
  };
  struct Snapshot {
    std::vector<Key> secrets;
    std::optional<Key> pem;
    std::vector<Key> jwks;
    FileStamp stamp;  // of the file the keys came from
  };
  // Reads the configured file into a snapshot, or says why not (naming the key and the file).
  boost::system::result<std::shared_ptr<const Snapshot>, std::string> load() const;
  const std::string& file() const;
  std::shared_ptr<const Snapshot> current() const;

  KeySources sources_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::atomic<std::uint64_t> generation_{1};
  std::atomic<std::int64_t> next_check_ns_{0};
};

}  // namespace valtronics::auth
