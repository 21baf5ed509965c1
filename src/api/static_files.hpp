// The dashboard's built files (issue 14, docs/dashboard.md): index.html and assets/, read into
// memory once at start and served at GET|HEAD /, /index.html and /assets/{file}. The set is
// small (a few hundred KB) and fixed until a restart, so serving is a map lookup, no file I/O on
// the I/O threads, and nothing outside the folder can be reached whatever the request says.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/request.hpp"

namespace valtronics::api {

struct StaticFile {
  std::string body;
  std::string content_type;
  bool immutable = false;  // a content-hashed name under assets/: cached for a year
};

class StaticFiles {
 public:
  // Reads index.html and the regular files of assets/ (one level, names of [A-Za-z0-9._-],
  // at most kMaxFiles files of kMaxFileBytes each) under `root`. Symbolic links are followed
  // only when their target stays inside `root`. Returns nullopt when `root` holds no
  // index.html; throws std::runtime_error for a folder it cannot read as a whole.
  static std::optional<StaticFiles> load(const std::filesystem::path& root);

  // The folder the dashboard is served from: `configured` (server.web_root) when not empty;
  // else the first of <binary's folder>/web (the build tree), <binary's folder>/../share/
  // valtronics/web (an install under any prefix) and /usr/share/valtronics/web that holds an
  // index.html. `exe` is the binary's path (/proc/self/exe when empty). The first candidate when
  // none holds one (for the message saying where it was looked for).
  static std::filesystem::path resolve_root(const std::string& configured,
                                            std::filesystem::path exe = {});
  // Every folder resolve_root looks in, in order (for the log line when none has a dashboard).
  static std::string candidates(const std::string& configured, std::filesystem::path exe = {});

  // "index.html" or "assets/<name>": the file, or null.
  const StaticFile* find(std::string_view name) const;
  const std::filesystem::path& root() const { return root_; }
  std::size_t size() const { return files_.size(); }
  std::size_t bytes() const;

  static constexpr std::size_t kMaxFiles = 256;
  static constexpr std::size_t kMaxFileBytes = 16u << 20;

 private:
  std::filesystem::path root_;
  std::map<std::string, StaticFile, std::less<>> files_;
};

// The Content-Type of a file name by its extension (application/octet-stream when unknown).
std::string_view content_type_of(std::string_view name);

// The headers every dashboard file carries: Content-Security-Policy (scripts, styles and
// connections to this origin only; no inline script or style element), X-Content-Type-Options,
// Referrer-Policy, and Cache-Control (no-cache for index.html, a year for hashed assets).
void add_static_headers(Response& res, const StaticFile& f);

}  // namespace valtronics::api
