// SIGHUP: "read your files again". Parts of the server that keep something loaded from disk
// (the TLS certificate and key, signing keys) register a callback here; one SIGHUP runs every
// callback, in registration order, on the thread of the given io_context. A callback reports
// its own failures (and keeps what it had): one bad file does not stop the others.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <string>
#include <vector>

namespace valtronics::app {

class ReloadSignal {
 public:
  explicit ReloadSignal(boost::asio::io_context& ioc);

  // `what` names the callback in the log ("tls", "jwt keys").
  void on_reload(std::string what, std::function<void()> reload);
  void start();  // from now on SIGHUP runs the callbacks
  void stop();
  // Runs every callback now (what a SIGHUP does; tests call it).
  void reload_all();

 private:
  void wait();

  boost::asio::signal_set signals_;
  std::vector<std::pair<std::string, std::function<void()>>> callbacks_;
  bool stopped_ = false;
};

}  // namespace valtronics::app
