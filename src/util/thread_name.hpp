// Names the calling thread, as `top -H`, `ps -L`, perf and /proc/PID/task/*/comm show it, so
// that an operator (or a benchmark, docs/benchmarks.md) can tell the writer from the I/O
// threads. The main thread keeps the process's name (`pgrep valtronics` matches it): it is the
// first I/O thread.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace valtronics::util {

// Linux keeps 15 bytes of a thread's name; longer names are cut, never refused.
inline void name_this_thread(std::string_view name) {
  std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace valtronics::util
