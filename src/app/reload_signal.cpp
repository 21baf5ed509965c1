// ReloadSignal: one signal_set for SIGHUP, re-armed after each signal.
#include "app/reload_signal.hpp"

#include <csignal>
#include <exception>
#include <spdlog/spdlog.h>

namespace valtronics::app {

ReloadSignal::ReloadSignal(boost::asio::io_context& ioc) : signals_(ioc, SIGHUP) {}

void ReloadSignal::on_reload(std::string what, std::function<void()> reload) {
  callbacks_.emplace_back(std::move(what), std::move(reload));
}

void ReloadSignal::start() {
  stopped_ = false;
  wait();
}

void ReloadSignal::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
}

void ReloadSignal::reload_all() {
  for (auto& [what, reload] : callbacks_) {
    try {
      reload();
    } catch (const std::exception& e) {
      spdlog::error("reload of {} failed: {}", what, e.what());
    }
  }
}

void ReloadSignal::wait() {
  signals_.async_wait([this](boost::system::error_code ec, int) {
    if (ec || stopped_) return;
    spdlog::info("SIGHUP received: reloading {} source(s)", callbacks_.size());
    reload_all();
    wait();
  });
}

}  // namespace valtronics::app
