// Why tests/sanitizers/tsan.supp suppresses races in exception_ptr::_M_release
// (docs/security.md, "Sanitizers and fuzzing"); run by check-tsan-suppression under TSan.
//
// The C++ client SDK settles a std::promise with an exception on its I/O thread while the
// caller's thread takes it with future::get(), as tests/client/client_api_test.cpp does. The
// exception object is shared by reference count: the last exception_ptr to let go of it frees it,
// in whichever thread that is. libstdc++ orders every earlier access before that free with an
// acquire-release atomic decrement, but libstdc++.so is not built with ThreadSanitizer, so TSan
// does not see that decrement: it sees the catching thread read the exception, then another
// thread free it with no synchronization between them, and reports a race (the free called from
// _M_release). The code is correct; the report is a false positive of the uninstrumented library.
//
//   exception_ptr_release_demo exception_ptr   that pattern, exactly: correct code, reported
//   exception_ptr_release_demo plain_race      the same threads with a real race on an int of
//                                              ours: must stay reported with the suppression
#include <chrono>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

// Like valtronics::client::Error: the catching thread reads a member our code compiled (so TSan
// sees the read); what() alone lives in libstdc++ and would be invisible.
struct Error : std::runtime_error {
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code(std::move(code)) {}
  std::string code;
};

int unsynchronized = 0;  // plain_race: written by both threads with nothing ordering them

// One round: the "I/O thread" sets the exception and, holding the promise (and so the last
// reference to the exception) a little longer, frees it after the caller has read and dropped it.
bool round(bool plain_race) {
  std::promise<int> promise;
  auto future = promise.get_future();
  std::thread io([promise = std::move(promise), plain_race]() mutable {
    promise.set_exception(std::make_exception_ptr(Error("closed", "the client was closed")));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (plain_race) ++unsynchronized;
  });  // the promise's shared state, and with it the exception, is released when `io` ends
  bool caught = false;
  try {
    future.get();
  } catch (const Error& e) {
    caught = e.code == "closed";
  }
  future = {};  // the caller's last reference
  if (plain_race) ++unsynchronized;
  io.join();
  return caught;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view mode = argc == 2 ? argv[1] : "";
  if (mode != "exception_ptr" && mode != "plain_race") {
    std::fprintf(stderr, "usage: %s exception_ptr|plain_race\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < 5; ++i) {
    if (!round(mode == "plain_race")) {
      std::fprintf(stderr, "the exception was not delivered\n");
      return 1;
    }
  }
  std::puts("done");
  return 0;
}
