// Blocking HTTP client on Boost.Beast: each call runs async operations on a private io_context
// until they complete, because Beast's timeouts (tcp_stream::expires_after) exist only for
// asynchronous operations. One connection, kept alive across calls.
#include "client/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "client/tls_context.hpp"

namespace valtronics::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

struct HttpClient::Impl {
  Url url;
  TlsOptions tls;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::shared_ptr<asio::ssl::context> ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs the io_context until the started operation finishes; returns its error.
  error_code wait(error_code& result) {
    ioc.restart();
    ioc.run();
    return result;
  }

  void connect() {
    plain.reset();
    secure.reset();
    buffer.clear();
    if (url.tls()) secure.emplace(ioc, *ctx);
    else plain.emplace(ioc);
    error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type results;
    resolver.async_resolve(url.host, url.port, [&](error_code e, tcp::resolver::results_type r) {
      ec = e;
      results = std::move(r);
    });
    if (wait(ec)) throw HttpTransportError("resolve " + url.host + ": " + ec.message());
    lowest().expires_after(timeout);
    lowest().async_connect(results, [&](error_code e, const tcp::endpoint&) { ec = e; });
    if (wait(ec)) throw HttpTransportError("connect " + url.host_header() + ": " + what(ec));
    if (secure) {
      if (!prepare_tls_handle(secure->native_handle(), url.host, tls.verify_peer))
        throw HttpTransportError("TLS set-up for " + url.host + " failed");
      lowest().expires_after(timeout);
      secure->async_handshake(asio::ssl::stream_base::client, [&](error_code e) { ec = e; });
      if (wait(ec))
        throw HttpTransportError("TLS handshake with " + url.host_header() + ": " + what(ec));
    }
    connected = true;
  }

  static std::string what(error_code ec) {
    return ec == beast::error::timeout ? "timed out" : ec.message();
  }

  // One exchange on the current connection; returns the error of the step that failed.
  error_code exchange(http::request<http::string_body>& req,
                      http::response_parser<http::string_body>& res, bool& sent) {
    error_code ec;
    lowest().expires_after(timeout);
    auto on_write = [&](error_code e, std::size_t) { ec = e; };
    if (secure) http::async_write(*secure, req, on_write);
    else http::async_write(*plain, req, on_write);
    if (wait(ec)) return ec;
    sent = true;
    auto on_read = [&](error_code e, std::size_t) { ec = e; };
    if (secure) http::async_read(*secure, buffer, res, on_read);
    else http::async_read(*plain, buffer, res, on_read);
    return wait(ec);
  }
};

HttpClient::HttpClient(const Url& base, const TlsOptions& tls, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = base;
  impl_->tls = tls;
  impl_->timeout = timeout;
  if (base.tls()) impl_->ctx = make_tls_context(tls);
}

HttpClient::~HttpClient() = default;

void HttpClient::disconnect() {
  if (!impl_->connected) return;
  error_code ec;
  impl_->lowest().socket().close(ec);
  impl_->connected = false;
}

HttpResponse HttpClient::post(const std::string& target, const std::string& body,
                              const std::string& token) {
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, impl_->url.host_header());
  req.set(http::field::user_agent, "valtronics-cpp-client");
  req.set(http::field::content_type, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  for (int round = 0; round < 2; ++round) {
    bool reused = impl_->connected;
    if (!impl_->connected) impl_->connect();
    http::response_parser<http::string_body> parser;
    parser.body_limit(8 * 1024 * 1024);  // ingest replies are tiny; this only bounds a rogue peer
    bool sent = false;
    error_code ec = impl_->exchange(req, parser, sent);
    if (!ec) {
      auto res = parser.release();
      if (!res.keep_alive()) disconnect();
      return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
    }
    disconnect();
    // A kept-alive connection the server closed while idle fails on write, or at the start of
    // the read with end_of_stream / reset: nothing was processed, so one retry is safe.
    bool stale = reused && (!sent || ec == http::error::end_of_stream ||
                            ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
    if (!stale)
      throw HttpTransportError("POST " + impl_->url.host_header() + target + ": " + Impl::what(ec));
  }
  throw HttpTransportError("POST " + impl_->url.host_header() + target + ": connection closed");
}

}  // namespace valtronics::client
