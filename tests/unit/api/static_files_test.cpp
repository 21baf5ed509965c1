// Tests of the dashboard's static files (api/static_files): what is loaded (index.html and
// assets/ only, regular files, no symbolic link out of the folder), where the folder is looked
// for, content types and cache headers, and the routes /, /index.html and /assets/{file}
// (404 saying how to build the dashboard when none is loaded; HEAD the same answer).
#include "api/static_files.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "valtronics-web-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const fs::path& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
};

std::string header(const Response& r, std::string_view name) { return std::string(r.header(name)); }

TEST(StaticFiles, LoadsIndexAndAssetsOnly) {
  TempDir d;
  d.write("web/index.html", "<!doctype html>");
  d.write("web/assets/main-ABCD1234.js", "console.log(1)");
  d.write("web/assets/main-ABCD1234.css", "body{}");
  d.write("web/assets/.hidden", "x");
  d.write("web/other.html", "not served");
  d.write("web/assets/sub/deep.js", "not served");
  d.write("secret.txt", "outside");
  fs::create_symlink(d.path / "secret.txt", d.path / "web/assets/escape.txt");
  fs::create_symlink(d.path / "web/assets/main-ABCD1234.js", d.path / "web/assets/alias.js");

  auto files = StaticFiles::load(d.path / "web");
  ASSERT_TRUE(files);
  EXPECT_EQ(files->root(), fs::canonical(d.path / "web"));
  ASSERT_TRUE(files->find("index.html"));
  EXPECT_EQ(files->find("index.html")->body, "<!doctype html>");
  EXPECT_EQ(files->find("index.html")->content_type, "text/html; charset=utf-8");
  EXPECT_FALSE(files->find("index.html")->immutable);
  ASSERT_TRUE(files->find("assets/main-ABCD1234.js"));
  EXPECT_EQ(files->find("assets/main-ABCD1234.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(files->find("assets/main-ABCD1234.js")->immutable);
  EXPECT_EQ(files->find("assets/main-ABCD1234.css")->content_type, "text/css; charset=utf-8");
  // A link inside the folder is followed; one out of it is not; hidden files, other top-level
  // files and sub-folders are not served.
  ASSERT_TRUE(files->find("assets/alias.js"));
  EXPECT_FALSE(files->find("assets/alias.js")->immutable);  // no hash in its name
  EXPECT_FALSE(files->find("assets/escape.txt"));
  EXPECT_FALSE(files->find("assets/.hidden"));
  EXPECT_FALSE(files->find("other.html"));
  EXPECT_FALSE(files->find("assets/sub/deep.js"));
  EXPECT_FALSE(files->find("../secret.txt"));
  EXPECT_EQ(files->size(), 4u);
}

TEST(StaticFiles, NoIndexIsNoDashboard) {
  TempDir d;
  d.write("web/assets/main-ABCD1234.js", "x");
  EXPECT_FALSE(StaticFiles::load(d.path / "web"));
  EXPECT_FALSE(StaticFiles::load(d.path / "missing"));
  // An index.html that is a link out of the folder does not count either.
  d.write("elsewhere/index.html", "x");
  fs::create_symlink(d.path / "elsewhere/index.html", d.path / "web/index.html");
  EXPECT_FALSE(StaticFiles::load(d.path / "web"));
}

TEST(StaticFiles, RootBesideTheBinaryThenUnderThePrefix) {
  TempDir d;
  const auto exe = d.path / "bin" / "valtronics";
  // Configured: taken as is, even without an index.html.
  EXPECT_EQ(StaticFiles::resolve_root("/srv/dash", exe), fs::path("/srv/dash"));
  // Nothing built: the first candidate, and every candidate listed.
  EXPECT_EQ(StaticFiles::resolve_root("", exe), d.path / "bin" / "web");
  EXPECT_EQ(StaticFiles::candidates("", exe),
            (d.path / "bin" / "web").string() + ", " +
                (d.path / "share" / "valtronics" / "web").string() +
                ", /usr/share/valtronics/web");
  d.write("share/valtronics/web/index.html", "installed");
  EXPECT_EQ(StaticFiles::resolve_root("", exe), d.path / "share" / "valtronics" / "web");
  d.write("bin/web/index.html", "built");
  EXPECT_EQ(StaticFiles::resolve_root("", exe), d.path / "bin" / "web");
}

TEST(StaticFiles, Headers) {
  Response index, asset;
  add_static_headers(index, StaticFile{"x", "text/html; charset=utf-8", false});
  add_static_headers(asset, StaticFile{"x", "text/javascript; charset=utf-8", true});
  EXPECT_EQ(header(index, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(asset, "Cache-Control"), "public, max-age=31536000, immutable");
  const auto csp = header(index, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self' ws: wss:"), std::string::npos);
  EXPECT_NE(csp.find("style-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(header(index, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(content_type_of("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_of("a.bin"), "application/octet-stream");
}

class StaticRoutes : public test::ApiTest {};

TEST_F(StaticRoutes, NotBuiltIs404SayingHow) {
  auto r = call(Method::get, "/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NOT_FOUND");
  EXPECT_NE(r.message().find("make"), std::string::npos) << r.message();
}

TEST_F(StaticRoutes, ServesFromMemory) {
  TempDir d;
  d.write("web/index.html", "<!doctype html><title>x</title>");
  d.write("web/assets/main-ABCD1234.js", "let a = 1;");
  auto files = StaticFiles::load(d.path / "web");
  ASSERT_TRUE(files);
  ctx->web = &*files;

  for (auto path : {"/", "/index.html"}) {
    auto r = call(Method::get, path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.response.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(r.response.text, "<!doctype html><title>x</title>");
    EXPECT_EQ(header(r.response, "Cache-Control"), "no-cache");
  }
  auto js = call(Method::get, "/assets/main-ABCD1234.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.response.text, "let a = 1;");
  EXPECT_EQ(header(js.response, "Cache-Control"), "public, max-age=31536000, immutable");
  // HEAD: the same answer (the transport sends its headers, Content-Length included, without
  // the body: test_health.py).
  auto head = call(Method::head, "/assets/main-ABCD1234.js");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.response.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(head.response.text, "let a = 1;");
  // Unknown names and anything that is not a plain name: 404.
  for (auto path : {"/assets/nope.js", "/assets/..%2Findex.html", "/assets/%2e%2e", "/assets/.x"})
    EXPECT_EQ(call(Method::get, path).status, 404) << path;
  EXPECT_EQ(call(Method::post, "/").status, 405);
  // Files on disk are not read again: removing them changes nothing until a restart.
  fs::remove_all(d.path / "web");
  EXPECT_EQ(call(Method::get, "/assets/main-ABCD1234.js").status, 200);
  ctx->web = nullptr;
}

}  // namespace
}  // namespace valtronics::api
