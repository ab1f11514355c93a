// A persistent native thread pool. The calling thread is worker 0; n-1 threads wait for work (spin briefly,
// then sleep on a condition variable). Work is split into chunks that threads claim from a shared counter,
// so the caller never waits for a thread the OS has not scheduled yet: it runs the unclaimed chunks itself
// and waits only for chunks already running. One parallel_for runs at a time (a mutex serialises callers
// from the JS thread and from async workers).
#pragma once

#include <cstdint>
#include <utility>

namespace ternion {

// fn(ctx, begin, end, worker)
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end, int worker);

class ThreadPool {
 public:
  static ThreadPool& instance();

  int threads() const;
  // 1 <= n <= 256. Default: the number of physical cores (online CPUs if unknown).
  void set_threads(int n);

  // Splits [0, n) into contiguous chunks whose sizes are multiples of `grain` (except the last; at most six
  // per thread) and runs fn on each exactly once, on whichever thread claims it (`worker` is that thread's
  // index in [0, threads()), unique among chunks running at the same time); returns when all are done.
  // Runs inline when n <= grain or threads() == 1.
  void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx);

  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& f) {
    auto trampoline = [](void* ctx, int64_t b, int64_t e, int w) { (*static_cast<F*>(ctx))(b, e, w); };
    parallel_for(n, grain, +trampoline, static_cast<void*>(&f));
  }

 private:
  ThreadPool();
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  struct Impl;
  Impl* impl_;
};

// Default thread count: physical cores.
int physical_cores();

}  // namespace ternion
