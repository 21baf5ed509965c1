// The dashboard's files: loaded once, served from memory (api/static_files.hpp).
#include "api/static_files.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "api/errors.hpp"
#include "api/handlers.hpp"

namespace valtronics::api {

namespace fs = std::filesystem;

namespace {

bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
  });
}

// `p` is `root` or below it (both canonical).
bool inside(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

// A file esbuild names [name]-[hash].[ext]: a dash followed by 8 or more letters and digits
// before the extension. Such a name changes whenever its content does.
bool hashed_name(std::string_view name) {
  const auto dot = name.rfind('.');
  const auto dash = name.rfind('-', dot);
  if (dot == std::string_view::npos || dash == std::string_view::npos || dot - dash - 1 < 8)
    return false;
  const auto hash = name.substr(dash + 1, dot - dash - 1);
  return std::all_of(hash.begin(), hash.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  });
}

std::string read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + p.string());
  return std::move(out).str();
}

// The canonical regular file `p` stands for, if it is one inside `root` (a symbolic link whose
// target leaves `root`, a folder, a device: nothing).
std::optional<fs::path> regular_inside(const fs::path& p, const fs::path& root) {
  std::error_code ec;
  const auto real = fs::canonical(p, ec);
  if (ec || !inside(real, root) || !fs::is_regular_file(real, ec) || ec) return std::nullopt;
  return real;
}

fs::path self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path{} : p;
}

std::vector<fs::path> candidate_roots(const std::string& configured, fs::path exe) {
  if (!configured.empty()) return {fs::path(configured)};
  if (exe.empty()) exe = self_exe();
  std::vector<fs::path> out;
  if (!exe.empty()) {
    const auto dir = exe.parent_path();
    out.push_back(dir / "web");
    out.push_back((dir / ".." / "share" / "valtronics" / "web").lexically_normal());
  }
  const fs::path usr = "/usr/share/valtronics/web";
  if (std::find(out.begin(), out.end(), usr) == out.end()) out.push_back(usr);
  return out;
}

}  // namespace

std::string_view content_type_of(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> types{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  }};
  for (const auto& [ext, type] : types)
    if (name.ends_with(ext)) return type;
  return "application/octet-stream";
}

std::optional<StaticFiles> StaticFiles::load(const fs::path& root_in) {
  std::error_code ec;
  const auto root = fs::canonical(root_in, ec);
  if (ec || !fs::is_directory(root, ec)) return std::nullopt;
  const auto index = regular_inside(root / "index.html", root);
  if (!index) return std::nullopt;

  StaticFiles out;
  out.root_ = root;
  auto add = [&](std::string key, const fs::path& real) {
    if (out.files_.size() >= kMaxFiles)
      throw std::runtime_error(root.string() + ": more than " + std::to_string(kMaxFiles) +
                               " files under assets/");
    if (fs::file_size(real) > kMaxFileBytes)
      throw std::runtime_error(real.string() + ": larger than " +
                               std::to_string(kMaxFileBytes >> 20) + " MiB");
    const bool immutable = key.starts_with("assets/") && hashed_name(key);
    StaticFile f{read_whole(real), std::string(content_type_of(key)), immutable};
    out.files_.emplace(std::move(key), std::move(f));
  };
  add("index.html", *index);

  const auto assets = root / "assets";
  if (fs::is_directory(assets, ec)) {
    std::vector<fs::directory_entry> entries;
    for (const auto& e : fs::directory_iterator(assets, ec)) entries.push_back(e);
    if (ec) throw std::runtime_error("cannot list " + assets.string() + ": " + ec.message());
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
      const auto name = e.path().filename().string();
      if (!safe_name(name)) continue;
      if (auto real = regular_inside(e.path(), root)) add("assets/" + name, *real);
    }
  }
  return out;
}

fs::path StaticFiles::resolve_root(const std::string& configured, fs::path exe) {
  const auto roots = candidate_roots(configured, std::move(exe));
  for (const auto& r : roots) {
    std::error_code ec;
    if (fs::is_regular_file(r / "index.html", ec)) return r;
  }
  return roots.front();
}

std::string StaticFiles::candidates(const std::string& configured, fs::path exe) {
  std::string out;
  for (const auto& r : candidate_roots(configured, std::move(exe))) {
    if (!out.empty()) out += ", ";
    out += r.string();
  }
  return out;
}

const StaticFile* StaticFiles::find(std::string_view name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

std::size_t StaticFiles::bytes() const {
  std::size_t n = 0;
  for (const auto& [name, f] : files_) n += f.body.size();
  return n;
}

void add_static_headers(Response& res, const StaticFile& f) {
  // The page talks to this origin only: its REST API and its WebSocket (ws: or wss: of the same
  // host; 'self' does not cover WebSocket schemes in every browser). Charts are canvases; the
  // only image is the data: favicon. No inline script or <style> element anywhere.
  res.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self' ws: wss:; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
                           "object-src 'none'");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("Cache-Control",
                           f.immutable ? "public, max-age=31536000, immutable" : "no-cache");
}

namespace web {

namespace {

void serve(Call& c, std::string_view name) {
  const StaticFiles* files = c.ctx.web;
  if (!files)
    return c.respond(error_response(
        ErrorCode::not_found,
        "the dashboard is not built: run `make` (it writes build/web/), or set server.web_root "
        "to a folder holding index.html (docs/dashboard.md)"));
  const StaticFile* f = files->find(name);
  if (!f) return c.respond(error_response(ErrorCode::not_found, "no route for " + c.request.path));
  Response res;
  res.status = 200;
  res.content_type = f->content_type;
  // HEAD too: the transport sends the headers, Content-Length included, without the body.
  res.text = f->body;
  add_static_headers(res, *f);
  c.respond(std::move(res));
}

}  // namespace

void index(Call& c) { serve(c, "index.html"); }

void asset(Call& c) {
  const std::string_view file = c.params.at(0);
  if (!safe_name(file))
    return c.respond(error_response(ErrorCode::not_found, "no route for " + c.request.path));
  serve(c, "assets/" + std::string(file));
}

}  // namespace web

}  // namespace valtronics::api
