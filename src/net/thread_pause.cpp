#include "net/thread_pause.hpp"

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace valtronics::net {

bool run_with_others_parked(const std::vector<boost::asio::io_context*>& others,
                            const std::function<void()>& change, std::chrono::milliseconds wait) {
  // Shared with the parked handlers: one that runs after this function returned (it was late)
  // still finds the gate, open.
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t parked = 0;
    bool open = false;
  };
  auto gate = std::make_shared<Gate>();
  for (auto* ioc : others) {
    boost::asio::post(*ioc, [gate] {
      std::unique_lock lock(gate->mutex);
      ++gate->parked;
      gate->cv.notify_all();
      gate->cv.wait(lock, [&] { return gate->open; });
    });
  }
  std::unique_lock lock(gate->mutex);
  const bool all = gate->cv.wait_for(lock, wait, [&] { return gate->parked == others.size(); });
  if (all) change();
  gate->open = true;  // late parkers pass straight through
  gate->cv.notify_all();
  return all;
}

}  // namespace valtronics::net
