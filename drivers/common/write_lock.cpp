// write_lock.cpp — this process's record of who holds a store's write lock.
#include "common/write_lock.hpp"

namespace evdb::common {

WriteLockTracker::Hold WriteLockTracker::acquired(std::thread::id user) {
  std::lock_guard lock(mu_);
  held_ = true;
  thread_.store(user, std::memory_order_relaxed);
  return Hold(this, ++serial_);
}

void WriteLockTracker::Hold::release() noexcept {
  if (t_ == nullptr) return;
  WriteLockTracker& t = *t_;
  t_ = nullptr;
  bool wake = false;
  {
    std::lock_guard lock(t.mu_);
    if (!t.held_ || t.serial_ != serial_) return;  // replaced by a later holder
    t.held_ = false;
    t.thread_.store(std::thread::id(), std::memory_order_relaxed);
    wake = t.reserve_waiters_ > 0;
  }
  // Every reserving waiter: the first to get a core takes the turn, the
  // others wait again. Handing it to one sleeping waiter instead made the
  // lock wait for that thread's wake-up at every commit: 8 SQLite writers on
  // an idle 2-core machine committed ~20 % less (docs/benchmarks.md).
  if (wake) t.turn_free_.notify_all();
  t.released_.notify_all();
}

void WriteLockTracker::retouch(uint64_t serial, std::thread::id user) {
  std::lock_guard lock(mu_);
  if (held_ && serial_ == serial) thread_.store(user, std::memory_order_relaxed);
}

bool WriteLockTracker::held_by(std::thread::id me) const {
  std::lock_guard lock(mu_);
  return held_ && thread_.load(std::memory_order_relaxed) == me;
}

WriteLockTracker::Wait WriteLockTracker::wait_for_holder(std::thread::id me,
                                                         std::chrono::microseconds slice) {
  std::unique_lock lock(mu_);
  if (!held_) return Wait::kNoHolder;
  if (thread_.load(std::memory_order_relaxed) == me) return Wait::kSelf;
  released_.wait_for(lock, slice, [&] { return !held_; });
  return Wait::kWaited;
}

WriteLockTracker::Reserve WriteLockTracker::reserve(std::thread::id me,
                                                    std::chrono::microseconds slice, Hold& out) {
  uint64_t serial = 0;
  {
    std::unique_lock lock(mu_);
    if (held_) {
      if (thread_.load(std::memory_order_relaxed) == me) return Reserve::kSelf;
      if (slice <= std::chrono::microseconds::zero()) return Reserve::kBusy;
      ++reserve_waiters_;
      bool free = turn_free_.wait_for(lock, slice, [&] { return !held_; });
      --reserve_waiters_;
      if (!free) return Reserve::kBusy;
    }
    held_ = true;
    thread_.store(me, std::memory_order_relaxed);
    serial = ++serial_;
  }
  out = Hold(this, serial);  // out is empty: assigning releases nothing
  return Reserve::kReserved;
}

}  // namespace evdb::common
