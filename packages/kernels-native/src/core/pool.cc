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

// Workers wait for a new generation number. They spin for a short while (a forward pass issues
// parallel_for calls microseconds apart, and a futex wake costs tens of microseconds, milliseconds when the
// core is busy), then sleep on the condition variable.
//
// Chunks are claimed with a CAS on `claim`, whose high 32 bits carry the generation: a thread that wakes up
// late for an old generation fails the CAS and never touches that job's fields. Before it writes a new job,
// the caller closes the claim counter (new generation, index all ones), so a late thread that read the old
// counter cannot win a CAS against it while the new job's fields are being written. The caller waits until
// `done` reaches the chunk count, so a job's fields stay valid while any of its chunks runs.
struct ThreadPool::Impl {
  std::mutex call_mutex;  // one parallel_for at a time

  std::mutex m;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<uint64_t> claim{0};  // (generation << 32) | next chunk index
  std::atomic<int64_t> done{0};    // chunks finished in the current generation
  bool stop = false;
  int sleepers = 0;

  // The job of the current generation.
  RangeFn fn = nullptr;
  void* ctx = nullptr;
  // Chunks [0, big_chunks) span big_chunk elements each, later ones small_chunk (the last may be cut by n).
  int64_t n = 0, big_chunk = 0, big_chunks = 0, small_chunk = 0;
  std::atomic<int64_t> num_chunks{0};  // read by late threads racing the next job: atomic, relaxed

  std::vector<std::thread> threads;  // workers 1..n-1
  int num_threads = 1;

  // Claims and runs chunks of generation `g` until none is left.
  void work(uint64_t g, int w) {
    for (;;) {
      uint64_t c = claim.load(std::memory_order_acquire);
      if ((c >> 32) != (g & 0xffffffffu)) return;
      const int64_t i = static_cast<int64_t>(c & 0xffffffffu);
      if (i >= num_chunks_for(c)) return;
      if (!claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
      const int64_t b = i < big_chunks ? i * big_chunk : big_chunks * big_chunk + (i - big_chunks) * small_chunk;
      const int64_t e = std::min(n, b + (i < big_chunks ? big_chunk : small_chunk));
      fn(ctx, b, e, w);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  // A late thread may read the next job's count here; its CAS on the old claim value then fails.
  int64_t num_chunks_for(uint64_t) const { return num_chunks.load(std::memory_order_relaxed); }

  void worker_main(int w) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < 20000; spin++) {
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
      work(g, w);
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
  if (p.num_threads <= 1 || units <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  // Chunk sizes. Chunks are claimed in order, so the last ones decide how long the first thread to run out
  // of work waits for the others: up to three quarters of the units go in at most two big chunks per thread
  // (long contiguous ranges: the GEMMs stream their weights and prefetch ahead within a chunk; the big size
  // rounds up, so there may be fewer big chunks and a smaller big share), the rest in up to four small chunks
  // per thread, so the threads finish within a small chunk of each other
  // ("guided" scheduling: Polychronopoulos & Kuck, "Guided Self-Scheduling", IEEE Trans. Computers 1987).
  // Measured against four equal chunks per thread (2 threads, DRAM-resident weights, alternating, medians):
  // ternary GEMV 1.04-1.10x, N = 16 GEMM 1.00-1.02x, N = 256 1.00x.
  const int64_t threads = p.num_threads;
  int64_t big_units, big_chunks, small_units;
  if (units > 4 * threads) {
    const int64_t big_total = units * 3 / 4;
    big_units = (big_total + 2 * threads - 1) / (2 * threads);
    big_chunks = big_total / big_units;
    const int64_t rest = units - big_chunks * big_units;
    small_units = std::max<int64_t>(1, (rest + 4 * threads - 1) / (4 * threads));
  } else {
    // Few units: up to four equal chunks per thread, enough to rebalance when a thread starts late.
    big_chunks = 0;
    big_units = 1;
    small_units = (units + std::min(units, 4 * threads) - 1) / std::min(units, 4 * threads);
  }
  const uint64_t g = p.generation.load(std::memory_order_relaxed) + 1;
  const uint64_t tag = (g & 0xffffffffu) << 32;
  p.claim.store(tag | 0xffffffffu, std::memory_order_seq_cst);  // closed: no chunk of any job is claimable
  p.fn = fn;
  p.ctx = ctx;
  p.n = n;
  p.big_chunk = big_units * grain;
  p.big_chunks = big_chunks;
  p.small_chunk = small_units * grain;
  const int64_t num_chunks = big_chunks + (n - big_chunks * p.big_chunk + p.small_chunk - 1) / p.small_chunk;
  p.num_chunks.store(num_chunks, std::memory_order_relaxed);
  p.done.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(p.m);
    p.claim.store(tag, std::memory_order_release);  // open chunk 0 of job g
    p.generation.store(g, std::memory_order_release);
    if (p.sleepers > 0) p.cv.notify_all();
  }
  p.work(g, 0);
  while (p.done.load(std::memory_order_acquire) < num_chunks) TERNION_PAUSE();
}

}  // namespace ternion
