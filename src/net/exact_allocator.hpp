// An allocator that gives each asio operation a block of exactly its own size.
//
// asio's default (also for std::allocator) recycles per-thread memory blocks: a new operation
// takes whatever cached block is big enough. For the one wait an idle WebSocket keeps pending for
// its whole life that is the ~560-byte block the HTTP upgrade's read left behind, i.e. a quarter
// of the connection's memory. Binding this allocator (`asio::bind_allocator(ExactAllocator<void>{},
// handler)`) opts one operation out of the recycling; being its own type is the point, since asio
// maps std::allocator back to its recycling one.
#pragma once

#include <cstddef>
#include <new>

namespace valtronics::net {

template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept { return true; }
};

}  // namespace valtronics::net
