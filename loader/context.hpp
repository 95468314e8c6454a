// context.hpp — the evdb_ctx object (cancellation + deadline) and the host
// services table handed to drivers (evdb_host_api).
#pragma once

#include <evdb/driver.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace evdb::loader {

// Something waiting outside the context's own condition variable that must
// also wake when the context is cancelled or its deadline changes (a listen
// waiting for its hub, listen_hub.cpp). Registered with ctx_add_waiter;
// `wake` is called with the context's mutex held and must not block.
struct CtxWaiter {
  void (*wake)(CtxWaiter* self);
};

}  // namespace evdb::loader

// Defined here, opaque in evdb.h.
struct evdb_ctx {
  std::atomic<bool> canceled{false};
  // Deadline on the steady clock, in nanoseconds since its epoch; 0 = none.
  std::atomic<int64_t> deadline_ns{0};
  std::mutex mu;
  std::condition_variable cv;
  // eventfd made on first request (ctx_cancel_fd); -1 until then.
  int cancel_fd = -1;
  // Notified (under their own mutex) on cancel and on a deadline change;
  // guarded by mu.
  std::vector<evdb::loader::CtxWaiter*> waiters;
};

namespace evdb::loader {

// The host services given to every driver; lives for the process.
const evdb_host_api* host_api();

// Steady-clock now in nanoseconds.
int64_t steady_now_ns();

// EVDB_OK, EVDB_CANCELED or EVDB_DEADLINE_EXCEEDED (docs/contract.md §2.6);
// EVDB_OK for NULL. What evdb_ctx_status and the host's ctx_status answer,
// inline for libevdb's own checks: two loads when nothing has ended, and
// the clock read only when a deadline is set.
inline evdb_status ctx_status(const evdb_ctx* ctx) {
  if (ctx == nullptr) return EVDB_OK;
  if (ctx->canceled.load(std::memory_order_acquire)) return EVDB_CANCELED;
  int64_t d = ctx->deadline_ns.load(std::memory_order_acquire);
  if (d != 0 && steady_now_ns() >= d) return EVDB_DEADLINE_EXCEEDED;
  return EVDB_OK;
}

// Adds / removes `w` to the waiters that evdb_ctx_cancel and
// evdb_ctx_set_timeout_ms wake. The caller keeps `w` alive until it removed
// it. Both are no-ops for NULL ctx.
void ctx_add_waiter(evdb_ctx* ctx, CtxWaiter* w);
void ctx_remove_waiter(evdb_ctx* ctx, CtxWaiter* w);

}  // namespace evdb::loader
