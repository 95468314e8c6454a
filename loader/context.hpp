// context.hpp — the evdb_ctx object (cancellation + deadline) and the host
// services table handed to drivers (evdb_host_api).
#pragma once

#include <evdb/driver.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

// Defined here, opaque in evdb.h.
struct evdb_ctx {
  std::atomic<bool> canceled{false};
  // Deadline on the steady clock, in nanoseconds since its epoch; 0 = none.
  std::atomic<int64_t> deadline_ns{0};
  std::mutex mu;
  std::condition_variable cv;
  // eventfd made on first request (ctx_cancel_fd); -1 until then.
  int cancel_fd = -1;
};

namespace evdb::loader {

// The host services given to every driver; lives for the process.
const evdb_host_api* host_api();

// Steady-clock now in nanoseconds.
int64_t steady_now_ns();

}  // namespace evdb::loader
