// context.cpp — contexts (evdb_ctx_*) and the host services for drivers.
#include "context.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <new>
#include <thread>
#include <vector>

namespace evdb::loader {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

evdb_status status_of(const evdb_ctx* ctx) {
  return ctx_status(ctx);
}

int64_t remaining_us(const evdb_ctx* ctx) {
  if (ctx == nullptr) return -1;
  int64_t d = ctx->deadline_ns.load(std::memory_order_acquire);
  if (d == 0) return -1;
  int64_t left = d - steady_now_ns();
  return left <= 0 ? 0 : (left + 999) / 1000;
}

int cancel_fd(evdb_ctx* ctx) {
  if (ctx == nullptr) return -1;
  std::lock_guard lock(ctx->mu);
  if (ctx->cancel_fd < 0) {
    ctx->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->cancel_fd >= 0 && ctx->canceled.load()) {
      uint64_t one = 1;
      (void)!write(ctx->cancel_fd, &one, sizeof one);
    }
  }
  return ctx->cancel_fd;
}

evdb_status sleep_for(evdb_ctx* ctx, int64_t timeout_us) {
  if (timeout_us < 0) timeout_us = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout_us);
  if (ctx == nullptr) {
    std::this_thread::sleep_until(until);
    return EVDB_OK;
  }
  std::unique_lock lock(ctx->mu);
  int64_t d = ctx->deadline_ns.load();
  if (d != 0) {
    auto dl = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(d));
    if (dl < until) until = dl;
  }
  ctx->cv.wait_until(lock, until, [&] { return ctx->canceled.load(); });
  lock.unlock();
  return status_of(ctx);
}

const evdb_host_api kHost = {
    sizeof(evdb_host_api), EVDB_DRIVER_ABI_VERSION, status_of, remaining_us, cancel_fd, sleep_for,
};

}  // namespace

const evdb_host_api* host_api() {
  return &kHost;
}

void ctx_add_waiter(evdb_ctx* ctx, CtxWaiter* w) {
  if (ctx == nullptr) return;
  std::lock_guard lock(ctx->mu);
  ctx->waiters.push_back(w);
}

void ctx_remove_waiter(evdb_ctx* ctx, CtxWaiter* w) {
  if (ctx == nullptr) return;
  std::lock_guard lock(ctx->mu);
  std::erase(ctx->waiters, w);
}

namespace {

// Wakes every registered waiter; ctx->mu is held.
void wake_waiters(evdb_ctx* ctx) {
  for (CtxWaiter* w : ctx->waiters) w->wake(w);
}

}  // namespace

}  // namespace evdb::loader

using evdb::loader::steady_now_ns;

extern "C" {

evdb_ctx* evdb_ctx_new(void) {
  return new (std::nothrow) evdb_ctx();
}

void evdb_ctx_free(evdb_ctx* ctx) {
  if (ctx == nullptr) return;
  if (ctx->cancel_fd >= 0) close(ctx->cancel_fd);
  delete ctx;
}

void evdb_ctx_cancel(evdb_ctx* ctx) {
  if (ctx == nullptr) return;
  {
    std::lock_guard lock(ctx->mu);
    ctx->canceled.store(true, std::memory_order_release);
    if (ctx->cancel_fd >= 0) {
      uint64_t one = 1;
      (void)!write(ctx->cancel_fd, &one, sizeof one);
    }
    evdb::loader::wake_waiters(ctx);
  }
  ctx->cv.notify_all();
}

void evdb_ctx_set_timeout_ms(evdb_ctx* ctx, int64_t timeout_ms) {
  if (ctx == nullptr) return;
  int64_t d = timeout_ms < 0 ? 0 : steady_now_ns() + timeout_ms * 1000000;
  if (d == 0 && timeout_ms >= 0) d = 1;  // steady clock at 0: still "set"
  {
    std::lock_guard lock(ctx->mu);
    ctx->deadline_ns.store(d, std::memory_order_release);
    evdb::loader::wake_waiters(ctx);
  }
  ctx->cv.notify_all();
}

evdb_status evdb_ctx_status(const evdb_ctx* ctx) {
  return evdb::loader::ctx_status(ctx);
}

}  // extern "C"
