// A small blocking HTTP/1.1 client for the ingest API: POST with a bearer token over one
// kept-alive connection (http:// or https://), every step bounded by a timeout. Used by
// `valtronics simulate`; blocking is what a sender of one batch per interval wants.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "client/transport.hpp"
#include "client/url.hpp"

namespace valtronics::client {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// No reply: the connection could not be made, broke, or timed out. The message names the step.
class HttpTransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpClient {
 public:
  // `base`: http:// or https:// URL; its host and port are used, its path ignored.
  HttpClient(const Url& base, const TlsOptions& tls,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` as application/json to `target` with `Authorization: Bearer <token>` (when
  // not empty). Connects on first use and reuses the connection; when a reused connection turns
  // out closed by the server (an idle keep-alive timeout) it reconnects and sends once more.
  // Throws HttpTransportError when no response arrives.
  HttpResponse post(const std::string& target, const std::string& body, const std::string& token);

  // Drops the kept-alive connection (the next post reconnects).
  void disconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace valtronics::client
