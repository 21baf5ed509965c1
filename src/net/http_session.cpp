// HTTP session and WebSocket upgrade. Beast parses HTTP; a plain request becomes an
// api::Request for the HTTP API (api/routes.hpp) and its api::Response goes back on the wire;
// after a 101 the raw socket goes to WsSession, which owns framing. Header reads time out
// (slowloris protection). Error replies of the transport itself (413, 431, malformed HTTP,
// refused upgrades) come from the API's error catalogue (api/errors.hpp).
#include "net/http_session.hpp"
#include "config/limits.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>
#include <deque>
#include <sstream>
#include <utility>

#include "api/errors.hpp"
#include "api/query.hpp"
#include "api/routes.hpp"
#include "metrics/counters.hpp"
#include "net/client_address.hpp"
#include "net/tls_stream.hpp"
#include "net/request_guard.hpp"
#include "net/ws_session.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/permessage_deflate.hpp"
#include "protocol/subprotocol.hpp"
#include "protocol/ws_frame.hpp"
#include "util/log.hpp"
#include "util/socket_io.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using api::ErrorCode;

namespace {

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// Pipelined requests a connection may have dispatched and not yet answered: enough for a device
// gateway that keeps dozens in flight, few enough that one connection cannot flood the engine.
constexpr std::size_t kMaxPipelined = 64;
// Bytes the read-ahead takes from the socket at most (about 30 one-reading requests).
constexpr std::size_t kReadAheadBytes = 16 * 1024;

api::Method method_of(http::verb v) {
  switch (v) {
    case http::verb::get: return api::Method::get;
    case http::verb::head: return api::Method::head;
    case http::verb::post: return api::Method::post;
    case http::verb::put: return api::Method::put;
    case http::verb::patch: return api::Method::patch;
    case http::verb::delete_: return api::Method::delete_;
    default: return api::Method::other;
  }
}

// The API's view of a request; the body is moved out of `req`.
api::Request to_api(HttpRequest& req, const std::string& client_address) {
  api::Request r;
  r.method = method_of(req.method());
  const auto target = api::split_target(req.target());
  r.path = std::string(target.path);
  r.query = std::string(target.query);
  if (auto it = req.find(http::field::authorization); it != req.end())
    r.authorization = std::string(it->value());
  r.version = req.version();
  r.keep_alive = req.keep_alive();
  r.client_address = client_address;
  r.body = std::move(req.body());
  return r;
}

// The forwarding headers of a request head, for net/client_address.
ForwardingHeaders forwarding_headers(const http::request_header<>& head) {
  ForwardingHeaders h;
  for (const auto& f : head) {
    if (beast::iequals(f.name_string(), "X-Forwarded-For")) h.x_forwarded_for.push_back(f.value());
    else if (beast::iequals(f.name_string(), "Forwarded")) h.forwarded.push_back(f.value());
  }
  return h;
}

// An api::Response on the wire: JSON body, Server and Content-Type, its extra headers.
HttpResponse to_http(const api::Response& r, unsigned version, bool keep_alive) {
  HttpResponse res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "valtronics");
  res.set(http::field::content_type,
          r.content_type.empty() ? std::string_view("application/json") : r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = r.content_type.empty() ? protocol::to_json(r.body) : r.text;
  res.prepare_payload();
  return res;
}

HttpResponse error_reply(ErrorCode code, std::string_view message, unsigned version,
                         bool keep_alive) {
  return to_http(api::error_response(code, message), version, keep_alive);
}


std::string_view strip_scheme(std::string_view origin) {
  if (auto p = origin.find("://"); p != std::string_view::npos) origin.remove_prefix(p + 3);
  while (!origin.empty() && origin.back() == '/') origin.remove_suffix(1);
  return origin;
}

// What differs between http:// and https:// connections, by overload on the stream type.
// The end of sending: for TLS, close_notify first.
void half_close(beast::tcp_stream& s) {
  error_code ignored;
  s.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}
void half_close(TlsStream& s) {
  s.channel().shutdown();
  error_code ignored;
  s.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}
// The WebSocket session taking over the stream's socket (and TLS channel) after a 101.
std::shared_ptr<WsSession> make_ws_session(beast::tcp_stream& s, Worker& w, ServerContext& ctx,
                                           WsSession::Options opts) {
  return std::make_shared<WsSession>(s.release_socket(), w, ctx, std::move(opts));
}
std::shared_ptr<WsSession> make_ws_session(TlsStream& s, Worker& w, ServerContext& ctx,
                                           WsSession::Options opts) {
  auto socket = s.release_socket();
  return std::make_shared<WsSession>(std::move(socket), w, ctx, std::move(opts),
                                     s.release_channel());
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>>,
                    public HttpConnection {
 public:
  template <class... StreamArgs>
  HttpSession(Worker& worker, ServerContext& ctx, bool metrics_only, asio::ip::tcp::socket socket,
              StreamArgs&&... stream_args)
      : stream_(std::move(socket), std::forward<StreamArgs>(stream_args)...),
        worker_(worker),
        ctx_(ctx),
        conn_id_(util::next_connection_id()),
        metrics_only_(metrics_only) {
    metrics::add(metrics::at(metrics::slot::connections_total, metrics::Endpoint::http));
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? "unknown" : ep.address().to_string();
    client_ = client_address(peer_, {}, ctx_.trusted_proxies);  // until a request names one
    worker_.http_connections.insert(this);
    has_slot_ = ctx_.http_cap.try_acquire();
  }
  ~HttpSession() override {
    set_busy(false);
    worker_.http_connections.erase(this);
    if (has_slot_) ctx_.http_cap.release();
  }

  void close_now() override {
    error_code ignored;
    stream_.socket().close(ignored);  // the pending read fails and the session ends
  }

  void run() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // The handshake is bounded like the header read: a peer trickling a ClientHello cannot
      // hold the socket.
      stream_.expires_after(ctx_.cfg.limits.tls_handshake_timeout);
      stream_.async_handshake(
          [self = this->shared_from_this()](error_code ec) { self->on_handshake(ec); });
    } else {
      begin();
    }
  }

 private:
  // Over limits.max_http_connections: one answer, then the connection goes (after the TLS
  // handshake on a TLS port, so the answer is readable).
  void begin() {
    if (!has_slot_) {
      ctx_.abuse.limit_violation(client_, "limits.max_http_connections (503)",
                                 std::chrono::steady_clock::now());
      spdlog::warn("http connection refused conn={} peer={}: at limits.max_http_connections ({})",
                   conn_id_, peer_, ctx_.http_cap.max());
      return write(error_reply(ErrorCode::service_unavailable,
                               "server is at max_http_connections (" +
                                   std::to_string(ctx_.http_cap.max()) + ")",
                               11, false));
    }
    do_read();
  }

  void on_handshake(error_code ec) {
    if (!ec) return begin();
    if (ec == beast::error::timeout) {
      spdlog::info("tls handshake timed out conn={} peer={}", conn_id_, peer_);
      return;  // the timer closed the socket
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (stream_.channel().peer_spoke_http()) {
        // Plain HTTP on the TLS port: one plain-text 400 saying so, rather than a reset the
        // caller cannot read.
        spdlog::info("plain http on the tls port refused conn={} peer={}", conn_id_, peer_);
        std::ostringstream out;
        out << error_reply(ErrorCode::bad_request,
                           "this port speaks TLS: use https:// or wss://", 11, false);
        const std::string text = out.str();
        iovec iov{const_cast<char*>(text.data()), text.size()};
        error_code ignored;
        (void)util::send_now(stream_.socket().native_handle(), &iov, 1, ignored);
      } else {
        spdlog::info("tls handshake failed conn={} peer={}: {}", conn_id_, peer_, ec.message());
      }
    }
    error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // A request is read in two phases, each with its own slowloris cut: the head within
  // limits.header_timeout (also the wait for a kept-alive connection's next request), then,
  // once the head passed the request guard, the body within limits.body_timeout.
  void do_read() {
    new_parser();
    stream_.expires_after(ctx_.cfg.limits.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    worker_.flusher.input();  // the loop is busy: socket writes wait a turn (net/flusher.hpp)
    if (ec) return on_read(ec);
    if ((!owed_.empty() || writing_owed_) && !pipelines(parser_->get(), true)) {
      // Read ahead behind pipelined requests, and not one that may be dispatched before they
      // are answered (or its body is not all here): it waits for their answers (after_owed).
      reading_ = false;
      deferred_ = true;
      return;
    }
    on_head();
  }

  // The checks of a request head, then its body.
  void on_head() {
    const auto& head = parser_->get();
    begin_request(head);
    // Each request names its client afresh: a trusted proxy's kept-alive connection carries
    // many clients' requests. A banned client is refused before anything else is looked at.
    client_ = client_address(peer_, forwarding_headers(head), ctx_.trusted_proxies);
    if (auto left = ctx_.abuse.refuse_if_banned(client_, std::chrono::steady_clock::now())) {
      if (beast::websocket::is_upgrade(head)) count_refusal(403);
      return write(banned_reply(*left, head.version()));
    }
    if (auto problem = framing_problem(head)) {
      spdlog::warn("http request refused conn={} req={}.{} client={}: {}", conn_id_, conn_id_,
                   request_seq_, client_, *problem);
      return write(error_reply(ErrorCode::bad_request, *problem, 11, false));
    }
    const auto expect = expectation(head);
    if (expect == Expectation::unsupported)
      return write(error_reply(ErrorCode::expectation_failed,
                               "only \"Expect: 100-continue\" is supported", 11, false));
    if (auto length = parser_->content_length();
        length && *length > ctx_.cfg.ingest.max_body_bytes)
      return on_read(http::error::body_limit);  // 413 now, before the client sends the body
    // Busy (the thread's socket writes wait for this request) only while the rest of it is
    // already here: a body still to come from the socket is not worth waiting for.
    const auto length = parser_->content_length();
    set_busy(parser_->is_done() || (length && buffer_.size() >= *length));
    stream_.expires_after(ctx_.cfg.limits.body_timeout);
    if (expect == Expectation::continue_100 && !parser_->is_done()) {
      // The client waits for this before it sends the body (RFC 9110 section 10.1.1).
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = this->shared_from_this()](error_code ec, std::size_t) {
                                 if (ec) return self->on_read(ec);
                                 self->read_body();
                               });
    }
    read_body();
  }

  void new_parser() {
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(limits::kMaxHttpHeaderBytes);
    parser_->body_limit(ctx_.cfg.ingest.max_body_bytes);
  }

  // Plain TCP parses a request the buffer already holds whole in place, with Beast's
  // synchronous read, which takes nothing from the socket while the buffer has what the parser
  // needs: an asynchronous read would cost a loop turn per step even then, and during a long
  // flush a turn is a flush slice, so 64 pipelined requests would reach the engine one slice
  // apart. TLS reads asynchronously (its stream has no synchronous read).
  static constexpr bool kParsesInPlace = std::is_same_v<Stream, beast::tcp_stream>;
  bool body_here() const {
    const auto length = parser_->content_length();
    return parser_->is_done() || (length && buffer_.size() >= *length);
  }

  // The next request, whose head is in the buffer (request_head_arrived): parsed in place.
  void read_ahead() {
    if constexpr (kParsesInPlace) {
      new_parser();
      error_code ec;
      http::read_header(stream_, buffer_, *parser_, ec);
      return on_header(ec);
    }
    do_read();
  }

  void read_body() {
    if constexpr (kParsesInPlace) {
      if (body_here()) {
        error_code ec;
        http::read(stream_, buffer_, *parser_, ec);
        return on_read(ec);
      }
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    reading_ = false;
    if (ec == http::error::body_limit) {
      // The same envelope as the API's other errors, details naming the limit.
      return write(to_http(api::payload_too_large(ctx_.cfg.ingest.max_body_bytes), 11, false));
    }
    if (ec == http::error::header_limit)
      return write(
          error_reply(ErrorCode::headers_too_large, "request headers too large", 11, false));
    if (ec) {
      // Malformed HTTP gets one 400 naming the problem; a peer that went away gets nothing.
      if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message)
        return write(error_reply(ErrorCode::bad_request, ec.message(), 11, false));
      error_code ignored;
      if constexpr (std::is_same_v<Stream, TlsStream>) stream_.channel().shutdown();
      stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      return;
    }
    HttpRequest req = parser_->release();
    std::string_view path = api::split_target(req.target()).path;
    if (metrics_only_ && (path != "/metrics" || beast::websocket::is_upgrade(req)))
      return write(error_reply(ErrorCode::not_found,
                               "this listener (metrics.listen) serves GET /metrics only",
                               req.version(), req.keep_alive()));
    if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req));
    set_busy(true);  // until it is answered: its events are on their way
    head_request_ = req.method() == http::verb::head;
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    if (path == "/ws" || path.starts_with("/ws/")) {
      return write(error_reply(ErrorCode::upgrade_required, "this endpoint speaks WebSocket only",
                               version, keep_alive));
    }
    // The API may answer at once (on this thread) or later from the engine's thread: either way
    // the response is posted back to this session's executor before it is written. The session
    // stays alive until then. No further request is read until it is written, unless this one
    // pipelines (below).
    const bool pipelined = pipelines(req, false);
    api::Request request = to_api(req, client_);
    request.metrics_listener = metrics_only_;
    if (pipelined) return dispatch_pipelined(request, version, keep_alive);
    api::handle(request, ctx_.api,
                [ref = SessionRef{this->shared_from_this()}, version,
                 keep_alive](api::Response res) mutable {
                  auto self = std::move(ref.session);
                  if (!self) return;  // answered twice: a handler bug; the first answer stands
                  auto ex = self->stream_.get_executor();
                  asio::post(ex, [self = std::move(self), res = std::move(res), version,
                                  keep_alive]() mutable {
                    if (res.stream) return self->write_stream(std::move(res), version, keep_alive);
                    self->write(to_http(res, version, keep_alive));
                  });
                });
  }

  // Keeps the session alive while a route works on a request. Whatever thread drops it (the
  // engine's, for an asynchronous route), the session's last reference is released on the
  // session's own thread, so its destructor never runs elsewhere.
  struct SessionRef {
    std::shared_ptr<HttpSession> session;
    SessionRef(std::shared_ptr<HttpSession> s) : session(std::move(s)) {}
    SessionRef(const SessionRef&) = default;
    SessionRef(SessionRef&&) = default;
    SessionRef& operator=(const SessionRef&) = delete;
    SessionRef& operator=(SessionRef&&) = delete;
    ~SessionRef() {
      if (!session) return;
      auto ex = session->stream_.get_executor();
      asio::post(ex, [s = std::move(session)] {});
    }
  };

  void write(HttpResponse res) {
    if (!owed_.empty() || writing_owed_) {
      // An answer (an error, most likely) to a request read ahead: after the ones before it.
      owed_.push_back({request_seq_, std::exchange(request_line_, {}), request_started_,
                       std::move(res)});
      return write_owed();
    }
    // Answered: still busy only if the next pipelined request is already here.
    set_busy(res.keep_alive() && holds_request_head());
    if (request_seq_) res.set("X-Request-Id", request_id());
    const bool head = std::exchange(head_request_, false);
    log_access(res.result_int(), head ? 0 : res.body().size());
    auto sp = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(ctx_.cfg.limits.body_timeout);
    auto written = [self = this->shared_from_this(), sp](error_code ec, std::size_t) {
      if (ec || !sp->keep_alive()) {
        half_close(self->stream_);
        return;
      }
      self->do_read();
    };
    if (head) {
      // HEAD: the headers a GET would get, its Content-Length included, and no body (RFC 9110
      // section 9.3.2); a body here would be read as the start of the next response.
      auto serializer = std::make_shared<http::response_serializer<http::string_body>>(*sp);
      return http::async_write_header(stream_, *serializer,
                                      [serializer, written = std::move(written)](
                                          error_code ec, std::size_t n) { written(ec, n); });
    }
    http::async_write(stream_, *sp, std::move(written));
  }

  // ---- HTTP/1.1 pipelining --------------------------------------------------------------
  // A request whose route applies its effects in the engine's order (api::may_pipeline:
  // ingest) is dispatched as soon as it is read, and when the next request's head is already in
  // the buffer, it is read at once behind it: one read of the socket brings a pipelining
  // client's readings to the engine in one loop turn, and the cork (net/flusher.hpp) sends their
  // events to each subscriber in one write, where otherwise each request would wait for the one
  // ahead to be answered, through several loop turns and the flush slices between them. Answers
  // go out in request order (owed_), those ready together in one write. A request that does not
  // pipeline (any other route, a body not all here yet, HTTP/1.0, Expect) waits until every
  // answer before it is written (deferred_), and no read is left pending on the socket while
  // answers are owed: read-ahead only takes what already arrived (request_head_arrived), so a
  // socket never has a read and a write in progress together, and no read timer can cut a
  // connection whose answers are still owed (docs/decisions.md, 50).

  // `req` pipelines: HTTP/1.1 kept alive, no Expect, an in-engine-order route and, for a head
  // read ahead (`ahead`), its body already in the buffer.
  bool pipelines(const http::request_header<>& req, bool ahead) const {
    if (metrics_only_ || req.version() != 11 || req.find(http::field::expect) != req.end())
      return false;
    if (auto c = req.find(http::field::connection);
        c != req.end() && http::token_list{c->value()}.exists("close"))
      return false;  // HTTP/1.1 is kept alive unless it says close
    if (!api::may_pipeline(method_of(req.method()), api::split_target(req.target()).path))
      return false;
    return !ahead || body_here();
  }

  void dispatch_pipelined(const api::Request& request, unsigned version, bool keep_alive) {
    const auto seq = request_seq_;
    if (!owed_.empty()) metrics::add(metrics::slot::http_requests_pipelined);
    owed_.push_back({seq, std::exchange(request_line_, {}), request_started_, std::nullopt});
    api::handle(request, ctx_.api,
                [ref = SessionRef{this->shared_from_this()}, seq, version,
                 keep_alive](api::Response res) mutable {
                  auto self = std::move(ref.session);
                  if (!self) return;
                  auto ex = self->stream_.get_executor();
                  asio::post(ex, [self = std::move(self), res = std::move(res), seq, version,
                                  keep_alive]() mutable {
                    self->answered(seq, std::move(res), version, keep_alive);
                  });
                });
    if (owed_.size() < kMaxPipelined && request_head_arrived()) read_ahead();
  }

  // The next request's head is in the buffer, after taking (plain TCP) what already arrived in
  // the socket, without waiting: a client that writes its pipelined requests one by one has
  // usually sent the next ones by now. Nothing is left pending on the socket (see above); an
  // end of stream or an error seen here is met again by the next regular read.
  bool request_head_arrived() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      if (!holds_request_head() && buffer_.size() < kReadAheadBytes) {
        auto space = buffer_.prepare(kReadAheadBytes - buffer_.size());
        error_code ec;
        const auto n = util::receive_now(stream_.socket().native_handle(),
                                         static_cast<char*>(space.data()), space.size(), ec);
        buffer_.commit(n);
      }
    }
    return holds_request_head();
  }

  void answered(std::uint64_t seq, api::Response res, unsigned version, bool keep_alive) {
    for (auto& o : owed_) {
      if (o.seq != seq) continue;
      if (res.stream) {
        // No pipelined route streams; should one ever, it could not share the connection.
        spdlog::error("http conn={} req={}.{}: a pipelined route answered with a stream",
                      conn_id_, conn_id_, seq);
        res = api::error_response(ErrorCode::internal_error, "pipelined route streamed");
        res.stream.reset();
      }
      o.res = to_http(res, version, keep_alive);
      break;
    }
    // The engine's answers come in a row: the write waits for the loop to take them all.
    if (owed_posted_) return;
    owed_posted_ = true;
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->owed_posted_ = false;
      self->after_owed();
    });
  }

  // Writes the answers ready at the front of owed_, in one write.
  void write_owed() {
    if (writing_owed_) return;
    std::string out;
    bool close = false;
    while (!owed_.empty() && owed_.front().res) {
      auto& o = owed_.front();
      auto& res = *o.res;
      res.set("X-Request-Id", std::to_string(conn_id_) + "." + std::to_string(o.seq));
      log_answer(o.seq, o.line, o.started, res.result_int(), res.body().size());
      std::ostringstream text;
      text << res;
      out += text.str();
      close = !res.keep_alive();
      owed_.pop_front();
      if (close) {
        owed_.clear();  // nothing is answered after an answer that ends the connection
        break;
      }
    }
    if (out.empty()) return;
    set_busy(!owed_.empty() || holds_request_head());
    writing_owed_ = true;
    auto text = std::make_shared<std::string>(std::move(out));
    stream_.expires_after(ctx_.cfg.limits.body_timeout);
    asio::async_write(stream_, asio::buffer(*text),
                      [self = this->shared_from_this(), text, close](error_code ec, std::size_t) {
                        self->writing_owed_ = false;
                        if (ec || close) return half_close(self->stream_);
                        self->after_owed();
                      });
  }

  // Answers arrived, or some were written: write what is ready, then read on when nothing
  // stands in the way.
  void after_owed() {
    write_owed();
    if (reading_ || writing_owed_) return;
    if (deferred_) {
      if (!owed_.empty()) return;
      deferred_ = false;
      reading_ = true;
      return on_head();
    }
    if (owed_.size() < kMaxPipelined && request_head_arrived()) return read_ahead();
    if (owed_.empty()) do_read();
  }

  // A streamed body (api::BodyStream, GET /api/v1/telemetry/export): the head, then each piece
  // as the producer hands it over, the next asked for only once the previous one is written,
  // each write bounded by limits.write_timeout. HTTP/1.1: chunked, ended by the last chunk, and
  // the connection may serve the next request. HTTP/1.0: the bytes as they come, no length,
  // the connection closed at the end. A producer failure cuts the connection without the last
  // chunk, so the client sees an incomplete body, never a short one passed off as whole.
  struct Streaming {
    api::Response res;
    http::response<http::empty_body> head;
    std::optional<http::response_serializer<http::empty_body>> serializer;
    bool chunked = false;
    std::size_t bytes = 0;  // of the body, for the access log
  };

  void write_stream(api::Response res, unsigned version, bool keep_alive) {
    set_busy(false);  // a long body: the thread's flush must not wait for it
    head_request_ = false;  // streamed routes take GET only
    auto st = std::make_shared<Streaming>();
    st->chunked = version >= 11;
    st->head = http::response<http::empty_body>{static_cast<http::status>(res.status), version};
    st->head.set(http::field::server, "valtronics");
    st->head.set(http::field::content_type, res.content_type.empty()
                                                ? std::string_view("application/octet-stream")
                                                : std::string_view(res.content_type));
    for (const auto& [name, value] : res.headers) st->head.set(name, value);
    if (request_seq_) st->head.set("X-Request-Id", request_id());
    st->head.keep_alive(st->chunked && keep_alive);
    if (st->chunked) st->head.chunked(true);
    st->res = std::move(res);
    st->serializer.emplace(st->head);
    stream_.expires_after(ctx_.cfg.limits.write_timeout);
    http::async_write_header(stream_, *st->serializer,
                             [self = this->shared_from_this(), st](error_code ec, std::size_t) {
                               if (ec) return self->end_stream(*st, false);
                               self->next_piece(st);
                             });
  }

  void next_piece(const std::shared_ptr<Streaming>& st) {
    auto producer = st->res.stream;
    producer->next([ref = SessionRef{this->shared_from_this()},
                    st](std::optional<std::string> piece) mutable {
      auto self = std::move(ref.session);
      if (!self) return;
      auto ex = self->stream_.get_executor();
      asio::post(ex, [self = std::move(self), st = std::move(st),
                      piece = std::move(piece)]() mutable {
        self->write_piece(std::move(st), std::move(piece));
      });
    });
  }

  void write_piece(std::shared_ptr<Streaming> st, std::optional<std::string> piece) {
    if (!stream_.socket().is_open()) return end_stream(*st, false);  // closed meanwhile
    if (!piece) {
      spdlog::warn("http conn={} req={} client={}: the streamed body failed after {} bytes; "
                   "connection cut",
                   conn_id_, request_id(), client_, st->bytes);
      return end_stream(*st, false);
    }
    stream_.expires_after(ctx_.cfg.limits.write_timeout);
    if (piece->empty()) {
      if (!st->chunked) return end_stream(*st, true);
      return asio::async_write(stream_, http::make_chunk_last(),
                               [self = this->shared_from_this(), st](error_code ec, std::size_t) {
                                 self->end_stream(*st, !ec);
                               });
    }
    st->bytes += piece->size();
    auto text = std::make_shared<std::string>(std::move(*piece));
    auto on_written = [self = this->shared_from_this(), st, text](error_code ec, std::size_t) {
      if (ec) return self->end_stream(*st, false);
      self->next_piece(st);
    };
    if (st->chunked)
      asio::async_write(stream_, http::make_chunk(asio::buffer(*text)), std::move(on_written));
    else
      asio::async_write(stream_, asio::buffer(*text), std::move(on_written));
  }

  // The end of a streamed body: logged with its size; then the next request (HTTP/1.1 kept
  // alive, complete), or the end of the connection (cut: without a graceful close, so a TLS
  // client sees no close_notify either).
  void end_stream(Streaming& st, bool complete) {
    log_access(st.res.status, st.bytes);
    st.res.stream.reset();  // the producer stops
    if (complete && st.head.keep_alive()) return do_read();
    error_code ignored;
    if (complete) return half_close(stream_);
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  void refuse(const HttpRequest& req, ErrorCode code, std::string_view message,
              boost::json::object details = {}) {
    spdlog::info("ws upgrade refused conn={} req={} client={} status={} reason={}", conn_id_,
                 request_id(), client_, api::http_status(code), message);
    count_refusal(api::http_status(code));
    write(to_http(api::error_response(code, message, std::move(details)), req.version(), false));
  }

  // 403 ADDRESS_BANNED with Retry-After (whole seconds, rounded up), then the connection goes.
  static HttpResponse banned_reply(std::chrono::milliseconds left, unsigned version) {
    const auto seconds = (left.count() + 999) / 1000;
    auto r = api::error_response(
        ErrorCode::address_banned,
        "this address is banned for repeated authentication failures; retry after " +
            std::to_string(seconds) + " s with a valid token",
        {{"retry_after_s", seconds}});
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return to_http(r, version, false);
  }

  bool origin_allowed(const HttpRequest& req) const {
    auto it = req.find(http::field::origin);
    if (it == req.end()) return true;  // non-browser clients send no Origin
    std::string_view origin = it->value();
    for (const auto& allowed : ctx_.cfg.auth.allowed_origins)
      if (allowed == "*" || allowed == origin) return true;
    auto host = req.find(http::field::host);
    return host != req.end() && strip_scheme(origin) == host->value();
  }

  void upgrade(HttpRequest req) {
    std::string_view target = req.target();
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    std::optional<model::Channel> channel;
    if (target.starts_with("/ws/")) {
      channel = model::from_string<model::Channel>(target.substr(4));
      if (!channel)
        return refuse(req, ErrorCode::not_found, "no WebSocket endpoint " + std::string(target));
    } else if (target != "/ws") {
      return refuse(req, ErrorCode::not_found, "no WebSocket endpoint " + std::string(target));
    }
    if (req[http::field::sec_websocket_version] != "13") {
      HttpResponse res = error_reply(ErrorCode::upgrade_required,
                                     "only WebSocket version 13 is supported", req.version(),
                                     false);
      res.set(http::field::sec_websocket_version, "13");
      return write(std::move(res));
    }
    const std::string key{req[http::field::sec_websocket_key]};
    if (!valid_websocket_key(key))
      return refuse(req, ErrorCode::bad_request,
                    key.empty() ? "missing Sec-WebSocket-Key"
                                : "Sec-WebSocket-Key must be the base64 of 16 bytes");
    if (!origin_allowed(req)) return refuse(req, ErrorCode::forbidden, "origin not allowed");
    // The subprotocol (issue 15), from every Sec-WebSocket-Protocol header in order. A client
    // that offers only ones we do not speak is told so here: answering without one would make
    // a browser fail the connection with no reason given.
    std::optional<protocol::Subprotocol> subprotocol;
    {
      std::string offers;
      auto [first, last] = req.equal_range(http::field::sec_websocket_protocol);
      for (auto it = first; it != last; ++it)
        offers += (offers.empty() ? "" : ", ") + std::string(it->value());
      if (!offers.empty()) {
        subprotocol = protocol::choose_subprotocol(offers);
        if (!subprotocol)
          return refuse(req, ErrorCode::bad_request,
                        "no supported subprotocol in Sec-WebSocket-Protocol: " + offers,
                        {{"supported", boost::json::array{
                                           boost::json::string(protocol::kJsonSubprotocol),
                                           boost::json::string(protocol::kMsgpackSubprotocol)}}});
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (!ctx_.connection_limiter.allow(client_, now)) {
      ctx_.abuse.limit_violation(client_, "limits.connections_per_minute (429)", now);
      metrics::add(metrics::at(metrics::slot::rate_limit_hits, metrics::RateLimit::connections));
      return refuse(req, ErrorCode::too_many_requests,
                    "more than limits.connections_per_minute (" +
                        std::to_string(ctx_.cfg.limits.connections_per_minute) +
                        ") new WebSocket connections per minute from this address");
    }
    using Admission = session::ConnectionRegistry::Admission;
    switch (ctx_.registry.try_open()) {
      case Admission::ok:
        break;
      case Admission::at_max_connections:
        ctx_.abuse.limit_violation(client_, "limits.max_connections (503)", now);
        return refuse(req, ErrorCode::service_unavailable,
                      "server is at limits.max_connections (" +
                          std::to_string(ctx_.cfg.limits.max_connections) + ")",
                      {{"limit", "max_connections"},
                       {"max", ctx_.cfg.limits.max_connections}});
      case Admission::at_max_unauthenticated:
        ctx_.abuse.limit_violation(client_, "limits.max_unauthenticated (503)", now);
        return refuse(req, ErrorCode::service_unavailable,
                      "server is at limits.max_unauthenticated (" +
                          std::to_string(ctx_.cfg.limits.max_unauthenticated) +
                          " WebSocket connections not yet authenticated)",
                      {{"limit", "max_unauthenticated"},
                       {"max", ctx_.cfg.limits.max_unauthenticated}});
    }

    WsSession::Options opts;
    opts.endpoint_channel = channel;
    opts.peer = client_;
    opts.conn_id = conn_id_;
    // permessage-deflate, when offered and enabled (every Sec-WebSocket-Extensions header of
    // the request, in order).
    std::optional<protocol::deflate::Agreement> deflate;
    if (ctx_.cfg.server.permessage_deflate) {
      std::string offers;
      auto [first, last] = req.equal_range(http::field::sec_websocket_extensions);
      for (auto it = first; it != last; ++it)
        offers += (offers.empty() ? "" : ", ") + std::string(it->value());
      if (!offers.empty()) deflate = protocol::deflate::negotiate(offers);
    }
    if (deflate) opts.deflate_window_bits = deflate->server_window_bits;
    opts.msgpack = subprotocol && subprotocol->encoding == protocol::Encoding::msgpack;
    std::optional<std::string> header_token;
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      std::string_view v = it->value();
      if (v.starts_with("Bearer ")) header_token = std::string(v.substr(7));
      else header_token = std::string();  // present but not a bearer token: invalid
    }
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols,
                                                                  req.version());
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, protocol::ws::accept_key(key));
    if (deflate) res->set(http::field::sec_websocket_extensions, deflate->response);
    if (subprotocol) res->set(http::field::sec_websocket_protocol, subprotocol->name);
    res->set(http::field::server, "valtronics");
    res->set("X-Request-Id", request_id());
    log_access(101, 0);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, opts = std::move(opts),
                       header_token = std::move(header_token)](error_code ec,
                                                               std::size_t) mutable {
                        if (ec) {
                          self->ctx_.registry.close(std::chrono::steady_clock::duration::zero(),
                                                    false);
                          return;
                        }
                        metrics::add(metrics::at(metrics::slot::connections_total,
                                                 metrics::Endpoint::websocket));
                        self->stream_.expires_never();
                        auto data = self->buffer_.data();
                        std::string early(static_cast<const char*>(data.data()), data.size());
                        auto session = make_ws_session(self->stream_, self->worker_,
                                                       self->ctx_, std::move(opts));
                        session->start(std::move(early), std::move(header_token));
                      });
  }

  // A request's head was read: it gets the next request id, and its access-log line is written
  // with its answer.
  void begin_request(const http::request_header<>& head) {
    ++request_seq_;
    metrics::add(metrics::slot::http_requests);
    request_started_ = std::chrono::steady_clock::now();
    request_line_ = std::string(head.method_string());
    request_line_ += ' ';
    request_line_ += util::loggable_target(head.target());
  }
  std::string request_id() const {
    return std::to_string(conn_id_) + "." + std::to_string(request_seq_);
  }
  // The access log (info): one line per answered request, its target without secrets
  // (util::loggable_target); no header is logged, so no bearer token either.
  void log_access(unsigned status, std::size_t bytes) {
    log_answer(request_seq_, request_line_, request_started_, status, bytes);
    request_line_.clear();
  }
  void log_answer(std::uint64_t seq, const std::string& line,
                  std::chrono::steady_clock::time_point started, unsigned status,
                  std::size_t bytes) const {
    if (line.empty()) return;  // no request read (a refused connection): logged apart
    if (spdlog::should_log(spdlog::level::info)) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
      spdlog::info("http conn={} req={}.{} client={} \"{}\" {} {}B {:.3f}ms", conn_id_, conn_id_,
                   seq, client_, line, status, bytes, static_cast<double>(micros) / 1000.0);
    }
  }
  static void count_refusal(unsigned status) {
    using metrics::Refusal;
    Refusal r;
    switch (status) {
      case 400: r = Refusal::s400; break;
      case 403: r = Refusal::s403; break;
      case 404: r = Refusal::s404; break;
      case 429: r = Refusal::s429; break;
      case 503: r = Refusal::s503; break;
      default: return;
    }
    metrics::add(metrics::at(metrics::slot::refusals, r));
  }

  // The thread's flush waits for busy sessions (net/flusher.hpp): a request read and not yet
  // answered, or a pipelined one waiting in the buffer, will publish events shortly.
  void set_busy(bool busy) {
    if (busy == busy_) return;
    busy_ = busy;
    worker_.flusher.busy(busy);
  }
  bool holds_request_head() const {
    const auto data = buffer_.data();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    return bytes.find("\r\n\r\n") != std::string_view::npos;
  }

  Stream stream_;
  Worker& worker_;
  ServerContext& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_;    // the socket's remote address
  std::string client_;  // the current request's client (net/client_address)
  const std::uint64_t conn_id_;  // conn= in the logs; kept by the WebSocket after an upgrade
  const bool metrics_only_;      // metrics.listen: GET /metrics and nothing else
  std::uint64_t request_seq_ = 0;  // requests read on this connection (req=conn.seq)
  std::chrono::steady_clock::time_point request_started_{};
  std::string request_line_;  // "METHOD target" of the request being answered, for the log
  bool has_slot_ = false;  // holds a slot of limits.max_http_connections
  bool busy_ = false;      // counted in worker_.flusher (set_busy)
  bool head_request_ = false;  // the request being answered is a HEAD: headers only
  // Pipelining (above): the answers owed, oldest first, each with its access-log line.
  struct Owed {
    std::uint64_t seq;
    std::string line;
    std::chrono::steady_clock::time_point started;
    std::optional<HttpResponse> res;  // empty until answered
  };
  std::deque<Owed> owed_;
  bool writing_owed_ = false;  // a write of owed answers is in progress
  bool owed_posted_ = false;   // an after_owed() is posted
  bool reading_ = false;       // a request is being read (do_read until on_read or deferred)
  bool deferred_ = false;      // a head read ahead waits for the answers before it (on_head)
};

}  // namespace

void start_http_session(asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx,
                        bool metrics_only) {
  std::make_shared<HttpSession<beast::tcp_stream>>(worker, ctx, metrics_only, std::move(socket))
      ->run();
}

void start_https_session(asio::ip::tcp::socket socket, SSL_CTX* tls, Worker& worker,
                         ServerContext& ctx) {
  std::shared_ptr<HttpSession<TlsStream>> session;
  try {
    session = std::make_shared<HttpSession<TlsStream>>(worker, ctx, false, std::move(socket), tls);
  } catch (const std::exception& e) {
    spdlog::error("tls connection refused: {}", e.what());  // out of memory in OpenSSL
    return;
  }
  session->run();
}

}  // namespace valtronics::net
