// The Client facade: parses the URL, owns the session (and with it the I/O thread), and turns
// reply callbacks into futures of typed replies.
#include "client/client.hpp"

#include <boost/json/value.hpp>
#include <stdexcept>

#include "client/format.hpp"
#include "client/session.hpp"

namespace valtronics::client {

namespace json = boost::json;

namespace {

template <class T>
std::function<void(const Reply&)> settle(std::shared_ptr<std::promise<T>> promise,
                                         std::function<T(const Reply&)> convert) {
  return [promise = std::move(promise), convert = std::move(convert)](const Reply& r) {
    if (!r.ok()) {
      promise->set_exception(std::make_exception_ptr(
          Error(r.error, r.error_message.empty() ? r.error : r.error + ": " + r.error_message)));
      return;
    }
    promise->set_value(convert(r));
  };
}

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object subscribe_message(std::string channel, json::object filters) {
  return json::object{{"type", "subscribe"}, {"channel", std::move(channel)},
                      {"filters", std::move(filters)}};
}

json::object unsubscribe_message(std::string channel, std::optional<std::int64_t> device_id) {
  json::object m{{"type", "unsubscribe"}, {"channel", std::move(channel)}};
  if (device_id) m["device_id"] = *device_id;
  return m;
}

json::object ping_message() {
  return json::object{{"type", "ping"},
                      {"timestamp", iso8601(std::chrono::system_clock::now())}};
}

Url checked_url(const std::string& text) {
  std::string error;
  auto url = parse_url(text, &error);
  if (!url) throw std::invalid_argument("url: " + error);
  if (url->scheme != "ws" && url->scheme != "wss")
    throw std::invalid_argument("url: expected ws:// or wss://, got " + url->scheme + "://");
  return *url;
}

}  // namespace

Client::Client(Options options) {
  Url url = checked_url(options.url);
  session_ = std::make_shared<Session>(std::move(options), std::move(url));
}

Client::~Client() { session_->shutdown(); }

void Client::on(std::string type, MessageHandler handler) {
  session_->add_handler(std::move(type), false, std::move(handler));
}

void Client::on_message(MessageHandler handler) {
  session_->add_handler({}, true, std::move(handler));
}

void Client::on_state(std::function<void(const StateChange&)> handler) {
  session_->add_state_handler(std::move(handler));
}

void Client::on_subscription_removed(std::function<void(const SubscriptionRemoved&)> handler) {
  session_->add_removed_handler(std::move(handler));
}

std::shared_ptr<MessageQueue> Client::queue(std::string type, std::size_t max_size) {
  auto q = std::make_shared<MessageQueue>(max_size);
  bool every = type.empty();
  session_->add_handler(std::move(type), every, [q](const Message& m) { q->push(m); });
  return q;
}

std::shared_future<AuthInfo> Client::connect() {
  session_->start();
  return session_->connected_future();
}

std::future<Subscribed> Client::subscribe(std::string channel, json::object filters) {
  auto p = std::make_shared<std::promise<Subscribed>>();
  auto f = p->get_future();
  session_->request(subscribe_message(std::move(channel), std::move(filters)),
                    settle<Subscribed>(p, [](const Reply& r) {
                      Subscribed s;
                      s.channel = str(r.message, "channel");
                      if (auto* fl = r.message.if_contains("filters"); fl && fl->is_object())
                        s.filters = fl->get_object();
                      if (auto* rec = r.message.if_contains("recovered"); rec && rec->is_bool())
                        s.recovered = rec->get_bool();
                      return s;
                    }));
  return f;
}

void Client::subscribe(std::string channel, json::object filters, ReplyHandler done) {
  session_->request(subscribe_message(std::move(channel), std::move(filters)), std::move(done));
}

std::future<Unsubscribed> Client::unsubscribe(std::string channel,
                                              std::optional<std::int64_t> device_id) {
  auto p = std::make_shared<std::promise<Unsubscribed>>();
  auto f = p->get_future();
  session_->request(unsubscribe_message(std::move(channel), device_id),
                    settle<Unsubscribed>(p, [](const Reply& r) {
                      Unsubscribed u;
                      u.channel = str(r.message, "channel");
                      if (auto* n = r.message.if_contains("removed"); n && n->is_int64())
                        u.removed = n->get_int64();
                      return u;
                    }));
  return f;
}

void Client::unsubscribe(std::string channel, std::optional<std::int64_t> device_id,
                         ReplyHandler done) {
  session_->request(unsubscribe_message(std::move(channel), device_id), std::move(done));
}

std::future<Pong> Client::ping() {
  auto p = std::make_shared<std::promise<Pong>>();
  auto f = p->get_future();
  auto start = std::chrono::steady_clock::now();
  session_->request(ping_message(), settle<Pong>(p, [start](const Reply& r) {
                      return Pong{str(r.message, "server_time"),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - start)};
                    }));
  return f;
}

void Client::ping(ReplyHandler done) { session_->request(ping_message(), std::move(done)); }

std::future<std::vector<Reply>> Client::batch(std::vector<json::object> messages) {
  auto p = std::make_shared<std::promise<std::vector<Reply>>>();
  auto f = p->get_future();
  session_->batch(std::move(messages),
                  [p](std::vector<Reply> replies) { p->set_value(std::move(replies)); });
  return f;
}

void Client::close() { session_->close(); }

std::shared_future<void> Client::finished() { return session_->finished_future(); }

State Client::state() const { return session_->state(); }

Stats Client::stats() const { return session_->stats(); }

}  // namespace valtronics::client
