#include "core/pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define TERNION_PAUSE() _mm_pause()
#else
#define TERNION_PAUSE() std::this_thread::yield()
#endif

namespace ternion {

int physical_cores() {
  // Linux: count distinct (package, core) pairs; hyperthreads share a core and its FP units.
  std::set<std::pair<int, int>> cores;
  const unsigned online = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned cpu = 0; cpu < online; cpu++) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream core_f(base + "core_id"), pkg_f(base + "physical_package_id");
    int core = -1, pkg = -1;
    if (!(core_f >> core) || !(pkg_f >> pkg)) return static_cast<int>(online);
    cores.insert({pkg, core});
  }
  return cores.empty() ? static_cast<int>(online) : static_cast<int>(cores.size());
}

// Workers wait for a new generation number. They spin for a short while (a kernel sequence issues
// parallel_for calls microseconds apart, and a futex wake costs tens of microseconds, milliseconds when the
// core is busy), then sleep on the condition variable.
struct ThreadPool::Impl {
  std::mutex call_mutex;  // one parallel_for at a time

  std::mutex m;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  bool stop = false;
  int sleepers = 0;

  // The job of the current generation.
  RangeFn fn = nullptr;
  void* ctx = nullptr;
  int64_t n = 0, chunk = 0;
  int active_workers = 0;

  std::vector<std::thread> threads;  // workers 1..n-1
  int num_threads = 1;

  void run_chunk(int w) {
    const int64_t b = static_cast<int64_t>(w) * chunk;
    const int64_t e = std::min(n, b + chunk);
    if (b < e) fn(ctx, b, e, w);
  }

  void worker_main(int w) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < 200000; spin++) {
        TERNION_PAUSE();
        g = generation.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(m);
        sleepers++;
        cv.wait(lock, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        sleepers--;
        if (stop) return;
        g = generation.load(std::memory_order_acquire);
      }
      seen = g;
      if (w < active_workers) run_chunk(w);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void start(int n_threads) {
    num_threads = n_threads;
    for (int w = 1; w < n_threads; w++) threads.emplace_back([this, w] { worker_main(w); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
    stop = false;
    generation.store(0);
  }
};

ThreadPool::ThreadPool() : impl_(new Impl) { impl_->start(std::max(1, physical_cores())); }

ThreadPool::~ThreadPool() {
  impl_->shutdown();
  delete impl_;
}

ThreadPool& ThreadPool::instance() {
  // Leaked on purpose: worker threads must not be joined during static destruction at process exit.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

int ThreadPool::threads() const { return impl_->num_threads; }

void ThreadPool::set_threads(int n) {
  n = std::max(1, std::min(256, n));
  std::lock_guard<std::mutex> call(impl_->call_mutex);
  if (n == impl_->num_threads) return;
  impl_->shutdown();
  impl_->start(n);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  std::lock_guard<std::mutex> call(impl_->call_mutex);
  Impl& p = *impl_;
  const int64_t units = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::min<int64_t>(p.num_threads, units));
  if (workers <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  const int64_t units_per = (units + workers - 1) / workers;
  p.fn = fn;
  p.ctx = ctx;
  p.n = n;
  p.chunk = units_per * grain;
  p.active_workers = workers;
  // Every worker thread acknowledges each generation, even the ones with no chunk.
  p.pending.store(p.num_threads - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(p.m);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
    if (p.sleepers > 0) p.cv.notify_all();
  }
  p.run_chunk(0);
  while (p.pending.load(std::memory_order_acquire) != 0) TERNION_PAUSE();
}

}  // namespace ternion
