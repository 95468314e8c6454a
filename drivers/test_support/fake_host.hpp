// fake_host.hpp — the host services (evdb_host_api) without libevdb, for
// tests that call a driver's table or its classes directly: contexts that a
// test cancels or gives a deadline, and that record the sleeps asked of them.
// Header-only. Not installed.
#pragma once

#include <evdb/driver.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace evdb::test_support {

// Whether a FakeContext offers a cancel fd (ctx_cancel_fd) or -1.
enum class CancelFd { None, Eventfd };

// A context of the fake host. Thread-safe: cancel() from one thread while a
// driver waits on it in another.
class FakeContext {
 public:
  explicit FakeContext(CancelFd fd = CancelFd::None)
      : fd_(fd == CancelFd::Eventfd ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1) {}
  ~FakeContext() {
    if (fd_ >= 0) ::close(fd_);
  }
  FakeContext(const FakeContext&) = delete;
  FakeContext& operator=(const FakeContext&) = delete;

  // Cancels: status becomes EVDB_CANCELED and the cancel fd readable.
  void cancel() {
    cancelled_ = true;
    if (fd_ >= 0) {
      uint64_t one = 1;
      ssize_t n = ::write(fd_, &one, sizeof one);
      (void)n;
    }
  }
  // The deadline is `us` microseconds from now.
  void expire_in_us(int64_t us) { deadline_us_ = steady_us() + us; }
  // The timeouts asked of ctx_sleep, in order.
  std::vector<int64_t> sleeps() {
    std::lock_guard l(mu_);
    return sleeps_;
  }
  // The pointer a driver gets as its evdb_ctx*.
  evdb_ctx* raw() { return reinterpret_cast<evdb_ctx*>(this); }

  // The fake host's services.
  static const evdb_host_api* host() {
    static const evdb_host_api h = [] {
      evdb_host_api a{};
      a.size = sizeof(evdb_host_api);
      a.abi_version = EVDB_DRIVER_ABI_VERSION;
      a.ctx_status = [](const evdb_ctx* c) { return c ? of(c)->status() : EVDB_OK; };
      a.ctx_remaining_us = [](const evdb_ctx* c) -> int64_t {
        return c ? of(c)->remaining_us() : -1;
      };
      a.ctx_cancel_fd = [](evdb_ctx* c) { return c ? of(c)->fd_ : -1; };
      a.ctx_sleep = [](evdb_ctx* c, int64_t us) {
        if (c == nullptr) {
          std::this_thread::sleep_for(std::chrono::microseconds(us));
          return EVDB_OK;
        }
        return of(c)->sleep(us);
      };
      return a;
    }();
    return &h;
  }

 private:
  static int64_t steady_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static FakeContext* of(const evdb_ctx* c) {
    return reinterpret_cast<FakeContext*>(const_cast<evdb_ctx*>(c));
  }
  evdb_status status() const {
    if (cancelled_) return EVDB_CANCELED;
    int64_t d = deadline_us_;
    if (d >= 0 && steady_us() >= d) return EVDB_DEADLINE_EXCEEDED;
    return EVDB_OK;
  }
  int64_t remaining_us() const {
    int64_t d = deadline_us_;
    return d < 0 ? -1 : std::max<int64_t>(0, d - steady_us());
  }
  evdb_status sleep(int64_t us) {
    {
      std::lock_guard l(mu_);
      sleeps_.push_back(us);
    }
    if (status() == EVDB_OK) {
      int64_t rem = remaining_us();
      std::this_thread::sleep_for(std::chrono::microseconds(rem < 0 ? us : std::min(us, rem)));
    }
    return status();
  }

  const int fd_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> deadline_us_{-1};  // steady clock, -1 = none
  std::mutex mu_;
  std::vector<int64_t> sleeps_;
};

}  // namespace evdb::test_support
