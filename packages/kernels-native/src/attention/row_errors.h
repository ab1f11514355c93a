// Rows a kernel skipped because a value it read at run time (a slot, sequence row, position or block id) was
// out of range. Such values come from buffers that a recorded program rereads on every replay, so they can
// only be checked when the kernel runs: the kernel skips the row (never touching memory out of bounds),
// counts it here, and publishes [count, first row] to the caller's status array (Int32Array(2)).
#pragma once

#include <atomic>
#include <cstdint>

namespace ternion {

class RowErrors {
 public:
  void add(int64_t row) {
    count_.fetch_add(1, std::memory_order_relaxed);
    int64_t first = first_.load(std::memory_order_relaxed);
    while (row < first && !first_.compare_exchange_weak(first, row, std::memory_order_relaxed)) {
    }
  }
  // status: (2) [number of skipped rows, first skipped row or -1]; may be null.
  void publish(int32_t* status) const {
    if (status == nullptr) return;
    const int64_t count = count_.load(std::memory_order_relaxed);
    status[0] = static_cast<int32_t>(count > INT32_MAX ? INT32_MAX : count);
    status[1] = count == 0 ? -1 : static_cast<int32_t>(first_.load(std::memory_order_relaxed));
  }

 private:
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> first_{INT64_MAX};
};

}  // namespace ternion
